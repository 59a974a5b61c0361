// libFuzzer target: the configuration loader (daemon/config.cc, TomlConfigReader): parse_config
// over arbitrary TOML text. Invariants: the only exception is ConfigError, and it lists at least
// one problem, each a non-empty line.
#include <cstdint>

#include "daemon/config.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace crmsync;
  try {
    daemon::Config config = daemon::parse_config(fuzz::as_text(data, size), "fuzz.toml");
    CRMSYNC_FUZZ_CHECK(!config.kafka.brokers.empty(), "a valid configuration without Kafka brokers");
  } catch (const daemon::ConfigError& error) {
    CRMSYNC_FUZZ_CHECK(!error.problems().empty(), "a ConfigError without problems");
    for (const auto& problem : error.problems()) CRMSYNC_FUZZ_CHECK(!problem.empty(), "an empty problem line");
  }
  return 0;
}
