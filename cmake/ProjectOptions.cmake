# crmsync_project_options: compile flags for the project's own targets only (third-party headers
# come in as SYSTEM includes through their imported targets, so their warnings do not fail us).
add_library(crmsync_project_options INTERFACE)
target_compile_options(crmsync_project_options INTERFACE
  -Wall -Wextra -Wpedantic -Werror
  -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
  -Wimplicit-fallthrough)
target_include_directories(crmsync_project_options INTERFACE ${PROJECT_SOURCE_DIR})
target_compile_definitions(crmsync_project_options INTERFACE
  CRMSYNC_VERSION="${PROJECT_VERSION}")

# crmsync_add_library(NAME SOURCES...): one library per code folder (DESIGN §1).
function(crmsync_add_library name)
  add_library(${name} STATIC ${ARGN})
  target_link_libraries(${name} PRIVATE crmsync_project_options)
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_features(${name} PUBLIC cxx_std_20)
endfunction()
