#include "daemon/engine_mapping.h"

#include <fstream>
#include <sstream>

namespace crmsync::daemon {

mapping::MappingDefinition load_engine_mapping(const Config& config) {
  if (!config.engine || !config.engine->mapping_file) return mapping::default_mapping();
  const auto& path = *config.engine->mapping_file;
  std::ifstream file(path);
  if (!file) {
    throw ConfigError({"config: engine.mapping_file: cannot read " + path.string() +
                       " (check that the file exists and the daemon's user may read it)"});
  }
  std::ostringstream text;
  text << file.rdbuf();
  auto loaded = mapping::parse_mapping(text.str(), path.filename().string());
  if (!loaded.mapping) {
    std::vector<std::string> problems;
    for (const auto& problem : loaded.problems) problems.push_back(mapping::to_string(problem));
    throw ConfigError(std::move(problems));
  }
  return std::move(*loaded.mapping);
}

}  // namespace crmsync::daemon
