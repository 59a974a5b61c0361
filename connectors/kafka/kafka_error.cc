#include "connectors/kafka/kafka_error.h"

#include <fmt/format.h>
#include <librdkafka/rdkafkacpp.h>

namespace crmsync::connectors::kafka {

using mapping::ErrorClass;

ErrorClass classify_kafka_error(int error_code) {
  switch (static_cast<RdKafka::ErrorCode>(error_code)) {
    case RdKafka::ERR__TRANSPORT:
    case RdKafka::ERR__ALL_BROKERS_DOWN:
    case RdKafka::ERR__RESOLVE:
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__TIMED_OUT_QUEUE:
    case RdKafka::ERR__MSG_TIMED_OUT:
    case RdKafka::ERR__WAIT_COORD:
    case RdKafka::ERR__IN_PROGRESS:
    case RdKafka::ERR__RETRY:
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
    case RdKafka::ERR_LEADER_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_LEADER_FOR_PARTITION:
    case RdKafka::ERR_REQUEST_TIMED_OUT:
    case RdKafka::ERR_BROKER_NOT_AVAILABLE:
    case RdKafka::ERR_REPLICA_NOT_AVAILABLE:
    case RdKafka::ERR_NETWORK_EXCEPTION:
    case RdKafka::ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RdKafka::ERR_COORDINATOR_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_COORDINATOR:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RdKafka::ERR_REBALANCE_IN_PROGRESS:
    case RdKafka::ERR_KAFKA_STORAGE_ERROR:
    case RdKafka::ERR_FENCED_LEADER_EPOCH:
    case RdKafka::ERR_UNKNOWN_LEADER_EPOCH:
    case RdKafka::ERR_OFFSET_NOT_AVAILABLE:
      return ErrorClass::transient;
    case RdKafka::ERR__QUEUE_FULL:
    case RdKafka::ERR_THROTTLING_QUOTA_EXCEEDED:
      return ErrorClass::rate_limited;
    case RdKafka::ERR_ILLEGAL_GENERATION:
    case RdKafka::ERR_UNKNOWN_MEMBER_ID:
    case RdKafka::ERR__ASSIGNMENT_LOST:
    case RdKafka::ERR_UNSTABLE_OFFSET_COMMIT:
      return ErrorClass::conflict;  // the group moved on: re-read the assignment
    case RdKafka::ERR__AUTHENTICATION:
    case RdKafka::ERR_SASL_AUTHENTICATION_FAILED:
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
    case RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RdKafka::ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
      return ErrorClass::auth;
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
    case RdKafka::ERR__INVALID_ARG:
    case RdKafka::ERR_INVALID_MSG:
    case RdKafka::ERR_INVALID_RECORD:
    case RdKafka::ERR_RECORD_LIST_TOO_LARGE:
    case RdKafka::ERR_TOPIC_EXCEPTION:
      return ErrorClass::invalid;
    default:
      // ERR__FATAL (idempotence broken), ERR__FENCED, out-of-order sequence and anything we do
      // not know: stop rather than guess.
      return ErrorClass::fatal;
  }
}

mapping::SyncError kafka_error(int error_code, std::string_view what_failed) {
  return {classify_kafka_error(error_code),
          fmt::format("{}: {} ({})", what_failed,
                      RdKafka::err2str(static_cast<RdKafka::ErrorCode>(error_code)), error_code)};
}

}  // namespace crmsync::connectors::kafka
