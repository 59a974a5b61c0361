#pragma once

#include "daemon/config.h"
#include "mapping/mapping_definition.h"

namespace crmsync::daemon {

// The mapping the engine runs with: [engine] mapping_file when set, the built-in default mapping
// otherwise. Throws ConfigError listing every problem of the file (each with key and line), like
// the main configuration, so `crmsync config check` and start-up report them the same way.
mapping::MappingDefinition load_engine_mapping(const Config& config);

}  // namespace crmsync::daemon
