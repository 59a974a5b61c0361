# CRMSYNC_SANITIZE=ON: everything (libraries, crmsync, the emulator, every test) built with
# AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer, for `deploy/dev/test
# --sanitize`, which configures it in build-sanitize/ and runs the whole ctest suite there
# (docs/reliability.md "Sanitizers"). Undefined behaviour stops the process (-fno-sanitize-recover),
# except pointer overflow, recoverable so that RapidJSON's one known case can be suppressed at run
# time (tests/sanitizers/ubsan.supp; the run sets halt_on_error=1, so any other still stops it).
# The default build never includes this file.
add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
                    -fsanitize-recover=pointer-overflow)
add_link_options(-fsanitize=address,undefined)
