#include "daemon/dead_letter.h"

#include <gtest/gtest.h>

#include "connectors/kafka/kafka_topic_reader.h"

namespace crmsync::daemon {
namespace {

connectors::kafka::TopicRecord record(std::string key, std::string value) {
  connectors::kafka::TopicRecord r;
  r.partition = 2;
  r.offset = 41;
  r.timestamp_ms = 1'764'288'001'250;  // 2025-11-28T00:00:01.250Z
  r.key = std::move(key);
  r.value = std::move(value);
  return r;
}

constexpr const char* kEvent =
    R"({"schema":1,"event_id":"e-1","source":"prm","object":"deal","op":"upsert",)"
    R"("ids":{"prm":"d-1","salesforce":null,"dynamics":null},"source_version":"7",)"
    R"("occurred_at":"2025-11-28T00:00:01Z","actor":{"kind":"internal_user","id":"u","partner_org":null},)"
    R"("fields":{"name":"A \"quoted\" deal","amount":120000.00},"changed":["amount"],)"
    R"("sharing":{"owner":{"partner_org":null,"user":null},"grants":[],"record_type":""}})";

TEST(DeadLetterId, IsPartitionColonOffset) {
  EXPECT_EQ(dead_letter_id(0, 17), "0:17");
  EXPECT_EQ(parse_dead_letter_id("3:42"), std::make_pair(3, 42LL));
  for (const char* bad : {"", "17", "0:", ":5", "a:1", "1:b", "-1:3", "1:-3", "1:2:3", "1:2 "}) {
    EXPECT_FALSE(parse_dead_letter_id(bad).has_value()) << bad;
  }
}

TEST(DeadLetterRecord, KeepsTheOriginalEventTextExactly) {
  std::string value = std::string(R"({"reason":"dynamics: refused \"event\": no","instance":"host-1","event":)") +
                      kEvent + "}";
  DeadLetterRecord letter = read_dead_letter(record("deal:d-1", value));
  EXPECT_EQ(letter.id, "2:41");
  EXPECT_EQ(letter.time, "2025-11-28T00:00:01.250Z");
  EXPECT_EQ(letter.reason, "dynamics: refused \"event\": no");
  EXPECT_EQ(letter.instance, "host-1");
  EXPECT_EQ(letter.event_json, kEvent);  // 120000.00 stays 120000.00
  ASSERT_TRUE(letter.event.has_value());
  EXPECT_EQ(letter.event_id, "e-1");
  EXPECT_EQ(letter.source, "prm");
  EXPECT_EQ(letter.object, "deal");
  EXPECT_EQ(letter.record_id, "d-1");
}

TEST(DeadLetterRecord, AnUnreadableEventIsKeptAsText) {
  DeadLetterRecord letter =
      read_dead_letter(record("", R"({"reason":"not JSON","instance":"h","event":"{not json"})"));
  EXPECT_EQ(letter.event_json, "{not json");
  EXPECT_FALSE(letter.event.has_value());
  EXPECT_EQ(letter.event_id, "");
  EXPECT_EQ(letter.record_id, "");
}

TEST(DeadLetterRecord, AForeignValueIsListedNotDropped) {
  DeadLetterRecord letter = read_dead_letter(record("k", "plain text"));
  EXPECT_EQ(letter.event_json, "plain text");
  EXPECT_NE(letter.reason.find("not a crmsync dead letter"), std::string::npos);
}

}  // namespace
}  // namespace crmsync::daemon
