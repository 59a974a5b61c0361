#include "tests/support/service_env.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <stdexcept>

namespace crmsync::testing {

std::string require_service_env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || value[0] == '\0') {
    throw std::runtime_error(
        std::string(name) +
        " is not set: this test needs the local PostgreSQL and Kafka. Start them with "
        "`deploy/dev/services start`, then `set -a; eval \"$(deploy/dev/services env)\"; set +a` "
        "before ctest (deploy/dev/test does all of this)");
  }
  return value;
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  std::random_device device;
  unsigned random = device() % 100000;
  return prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
         std::to_string(random);
}

}  // namespace crmsync::testing
