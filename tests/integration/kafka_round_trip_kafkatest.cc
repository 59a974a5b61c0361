#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <map>

#include "connectors/kafka/kafka_consumer.h"
#include "connectors/kafka/kafka_probe.h"
#include "connectors/kafka/kafka_producer.h"
#include "daemon/logging.h"
#include "tests/support/service_env.h"

namespace crmsync::connectors::kafka {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Creates a topic with `partitions` partitions through the Admin API and waits for the answer.
void create_topic(const std::string& brokers, const std::string& topic, int partitions) {
  char error_text[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), error_text, sizeof error_text);
  rd_kafka_t* admin = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error_text, sizeof error_text);
  ASSERT_NE(admin, nullptr) << error_text;
  rd_kafka_NewTopic_t* new_topic =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, error_text, sizeof error_text);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(admin);
  rd_kafka_CreateTopics(admin, &new_topic, 1, nullptr, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30'000);
  ASSERT_NE(event, nullptr) << "CreateTopics: no answer within 30 s";
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event);
  size_t count = 0;
  const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(result, &count);
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(rd_kafka_topic_result_error(topics[0]), RD_KAFKA_RESP_ERR_NO_ERROR)
      << rd_kafka_topic_result_error_string(topics[0]);
  rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy(new_topic);
  rd_kafka_destroy(admin);
}

class KafkaRoundTrip : public ::testing::Test {
 protected:
  void SetUp() override {
    settings.brokers = {crmsync::testing::require_service_env("CRMSYNC_KAFKA_BROKERS")};
    settings.client_id = "crmsync-test";
    topic = crmsync::testing::unique_name("crmsync.test.roundtrip");
    group = crmsync::testing::unique_name("crmsync-test-group");
  }

  std::unique_ptr<KafkaConsumer> join_group() {
    auto consumer = KafkaConsumer::create(settings, group, logging.logger("consumer"));
    if (!consumer) throw std::runtime_error(consumer.error().message);
    auto subscribed = consumer.value()->subscribe({topic});
    if (!subscribed) throw std::runtime_error(subscribed.error().message);
    return std::move(consumer).value();
  }

  // Polls until `count` records arrived or 60 s passed.
  std::vector<ConsumedRecord> consume(KafkaConsumer& consumer, std::size_t count) {
    std::vector<ConsumedRecord> records;
    auto deadline = std::chrono::steady_clock::now() + seconds(60);
    while (records.size() < count && std::chrono::steady_clock::now() < deadline) {
      auto polled = consumer.poll(milliseconds(500));
      if (!polled) throw std::runtime_error(polled.error().message);
      if (polled.value()) records.push_back(*polled.value());
    }
    return records;
  }

  daemon::Logging logging{daemon::LogFormat::text, daemon::LogLevel::warn,
                          std::make_shared<daemon::LogRedactor>()};
  KafkaSettings settings;
  std::string topic;
  std::string group;
};

TEST_F(KafkaRoundTrip, ProbeSeesTheBroker) {
  auto probe = KafkaProbe::create(settings, logging.logger("probe"));
  ASSERT_TRUE(probe.ok()) << probe.error().message;
  auto brokers = probe.value()->check(seconds(10));
  ASSERT_TRUE(brokers.ok()) << brokers.error().message;
  EXPECT_EQ(brokers.value(), 1);
}

TEST_F(KafkaRoundTrip, ProbeOfAClosedPortFailsTransient) {
  settings.brokers = {"127.0.0.1:1"};
  auto probe = KafkaProbe::create(settings, logging.logger("probe"));
  ASSERT_TRUE(probe.ok());
  auto brokers = probe.value()->check(milliseconds(1500));
  ASSERT_FALSE(brokers.ok());
  EXPECT_EQ(brokers.error().error_class, mapping::ErrorClass::transient) << brokers.error().message;
}

TEST_F(KafkaRoundTrip, IdempotentProducerAndGroupResumeAfterRestart) {
  create_topic(settings.brokers[0], topic, 3);
  auto producer = KafkaProducer::create(settings, logging.logger("producer"));
  ASSERT_TRUE(producer.ok()) << producer.error().message;

  // 30 records over 10 keys: each key keeps its order within its partition.
  constexpr int kRecords = 30;
  int acknowledged = 0;
  for (int i = 0; i < kRecords; ++i) {
    auto queued = producer.value()->produce(
        topic, "deal:" + std::to_string(i % 10), "value-" + std::to_string(i),
        [&acknowledged](mapping::Result<DeliveredRecord> delivered) {
          ASSERT_TRUE(delivered.ok()) << delivered.error().message;
          EXPECT_GE(delivered.value().offset, 0);
          ++acknowledged;
        });
    ASSERT_TRUE(queued.ok()) << queued.error().message;
  }
  ASSERT_TRUE(producer.value()->flush(seconds(30)).ok());
  ASSERT_EQ(acknowledged, kRecords);

  // First member: read everything, commit only the first half of what it saw, leave.
  std::map<std::string, ConsumedRecord> committed;
  {
    auto consumer = join_group();
    auto records = consume(*consumer, kRecords);
    ASSERT_EQ(records.size(), static_cast<std::size_t>(kRecords));
    for (std::size_t i = 0; i < records.size() / 2; ++i) {
      ASSERT_TRUE(consumer->commit(records[i]).ok());
      committed[std::to_string(records[i].partition) + "/" + std::to_string(records[i].offset)] = records[i];
    }
    consumer->close();
  }

  // A new member of the same group resumes after the committed offsets: it sees exactly the
  // records that were not committed (nothing lost, nothing committed seen again).
  auto resumed = join_group();
  auto rest = consume(*resumed, kRecords - committed.size());
  EXPECT_EQ(rest.size(), kRecords - committed.size());
  for (const auto& record : rest) {
    EXPECT_FALSE(committed.contains(std::to_string(record.partition) + "/" + std::to_string(record.offset)))
        << "re-delivered a committed record at " << record.partition << "/" << record.offset;
  }
  auto extra = resumed->poll(milliseconds(1000));
  ASSERT_TRUE(extra.ok());
  EXPECT_FALSE(extra.value().has_value()) << "more records than were produced";
}

TEST_F(KafkaRoundTrip, SubscribingBeforeTheTopicExistsWaitsForIt) {
  auto consumer = join_group();  // `topic` does not exist yet
  auto nothing = consumer->poll(milliseconds(1500));
  ASSERT_TRUE(nothing.ok()) << nothing.error().message;
  EXPECT_FALSE(nothing.value().has_value());
  auto producer = KafkaProducer::create(settings, logging.logger("producer"));
  ASSERT_TRUE(producer.ok());
  ASSERT_TRUE(producer.value()->produce_and_wait(topic, "k", "first", seconds(30)).ok());
  auto records = consume(*consumer, 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value, "first");
}

TEST_F(KafkaRoundTrip, ProduceAndWaitReportsWhereTheRecordLanded) {
  auto producer = KafkaProducer::create(settings, logging.logger("producer"));
  ASSERT_TRUE(producer.ok());
  auto delivered = producer.value()->produce_and_wait(topic, "account:1", "{}", seconds(30));
  ASSERT_TRUE(delivered.ok()) << delivered.error().message;
  EXPECT_EQ(delivered.value().topic, topic);
  EXPECT_EQ(delivered.value().offset, 0);
}

}  // namespace
}  // namespace crmsync::connectors::kafka
