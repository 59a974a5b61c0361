#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include "connectors/kafka/kafka_error.h"
#include "state/pg_error.h"

namespace crmsync {
namespace {

using mapping::ErrorClass;

TEST(SqlstateClassification, EachClassMapsToWhatTheCallerCanDo) {
  EXPECT_EQ(state::classify_sqlstate("08006"), ErrorClass::transient);  // connection failure
  EXPECT_EQ(state::classify_sqlstate("57P01"), ErrorClass::transient);  // admin shutdown
  EXPECT_EQ(state::classify_sqlstate("53300"), ErrorClass::transient);  // too many connections
  EXPECT_EQ(state::classify_sqlstate("28P01"), ErrorClass::auth);       // bad password
  EXPECT_EQ(state::classify_sqlstate("42501"), ErrorClass::auth);       // insufficient privilege
  EXPECT_EQ(state::classify_sqlstate("40001"), ErrorClass::conflict);   // serialization failure
  EXPECT_EQ(state::classify_sqlstate("40P01"), ErrorClass::conflict);   // deadlock
  EXPECT_EQ(state::classify_sqlstate("23505"), ErrorClass::invalid);    // unique violation
  EXPECT_EQ(state::classify_sqlstate("22P02"), ErrorClass::invalid);    // bad text representation
  EXPECT_EQ(state::classify_sqlstate("42P01"), ErrorClass::fatal);      // undefined table
  EXPECT_EQ(state::classify_sqlstate("XX000"), ErrorClass::fatal);
}

TEST(KafkaErrorClassification, EachClassMapsToWhatTheCallerCanDo) {
  using connectors::kafka::classify_kafka_error;
  EXPECT_EQ(classify_kafka_error(RdKafka::ERR__TRANSPORT), ErrorClass::transient);
  EXPECT_EQ(classify_kafka_error(RdKafka::ERR__ALL_BROKERS_DOWN), ErrorClass::transient);
  EXPECT_EQ(classify_kafka_error(RdKafka::ERR__MSG_TIMED_OUT), ErrorClass::transient);
  EXPECT_EQ(classify_kafka_error(RdKafka::ERR_NOT_ENOUGH_REPLICAS), ErrorClass::transient);
  EXPECT_EQ(classify_kafka_error(RdKafka::ERR__QUEUE_FULL), ErrorClass::rate_limited);
  EXPECT_EQ(classify_kafka_error(RdKafka::ERR_SASL_AUTHENTICATION_FAILED), ErrorClass::auth);
  EXPECT_EQ(classify_kafka_error(RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED), ErrorClass::auth);
  EXPECT_EQ(classify_kafka_error(RdKafka::ERR_MSG_SIZE_TOO_LARGE), ErrorClass::invalid);
  EXPECT_EQ(classify_kafka_error(RdKafka::ERR_UNKNOWN_MEMBER_ID), ErrorClass::conflict);
  EXPECT_EQ(classify_kafka_error(RdKafka::ERR__FATAL), ErrorClass::fatal);
  EXPECT_EQ(classify_kafka_error(RdKafka::ERR_OUT_OF_ORDER_SEQUENCE_NUMBER), ErrorClass::fatal);
}

TEST(KafkaErrorClassification, MessageNamesOperationAndLibrdkafkaText) {
  auto error = connectors::kafka::kafka_error(RdKafka::ERR__TRANSPORT, "commit offset 7 of t[0]");
  EXPECT_EQ(error.error_class, ErrorClass::transient);
  EXPECT_EQ(error.message.rfind("commit offset 7 of t[0]: ", 0), 0u) << error.message;
}

}  // namespace
}  // namespace crmsync
