#pragma once

#include <string_view>

#include "mapping/sync_error.h"

namespace crmsync::connectors::kafka {

// Classifies a librdkafka error code (RdKafka::ErrorCode / rd_kafka_resp_err_t as an int). This is
// the one switch over librdkafka errors in crmsync.
mapping::ErrorClass classify_kafka_error(int error_code);

// A classified error whose message starts with `what_failed` and carries librdkafka's own text.
mapping::SyncError kafka_error(int error_code, std::string_view what_failed);

}  // namespace crmsync::connectors::kafka
