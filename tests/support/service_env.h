#pragma once

#include <string>

namespace crmsync::testing {

// The value of an environment variable that deploy/dev/services exports (CRMSYNC_PG_URL,
// CRMSYNC_PG_ADMIN_URL, CRMSYNC_KAFKA_BROKERS). Throws, failing the test with instructions, when
// it is not set: a test never skips because its service is missing.
std::string require_service_env(const char* name);

// A name unique to this process and call, for fresh schemas, topics and groups per test:
// `<prefix>_<pid>_<counter>_<random>`, lower-case.
std::string unique_name(const std::string& prefix);

}  // namespace crmsync::testing
