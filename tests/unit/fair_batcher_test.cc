#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "daemon/fair_batcher.h"

namespace crmsync::daemon {
namespace {

using connectors::kafka::ConsumedRecord;

// A PRM change event of `record` owned by `org` ("" for none), at `offset` of partition 0.
ConsumedRecord event(const std::string& record, const std::string& org, long long offset, int partition = 0) {
  std::string owner = org.empty() ? "null" : "\"" + org + "\"";
  std::string value = fmt::format(
      R"({{"schema":1,"event_id":"e{}","source":"prm","object":"deal","op":"upsert","ids":{{"prm":"{}"}},)"
      R"("source_version":"1","occurred_at":"2026-01-01T00:00:00Z","actor":{{"kind":"internal_user","id":"x"}},)"
      R"("fields":{{}},"changed":[],"sharing":{{"owner":{{"partner_org":{},"user":null}},"grants":[]}}}})",
      offset, record, owner);
  return {"crmsync.changes.prm", partition, offset, "deal:" + record, value};
}

std::vector<std::string> keys(const std::vector<const ConsumedRecord*>& batch) {
  std::vector<std::string> out;
  for (const auto* record : batch) out.push_back(record->key);
  return out;
}

TEST(FairBatcher, OnePartnersBacklogDoesNotDelayAnother) {
  FairBatcher batcher(4);
  for (int i = 0; i < 100; ++i) batcher.add(event(fmt::format("a{}", i), "A", i));
  batcher.add(event("b0", "B", 100));
  auto batch = batcher.next_batch();
  EXPECT_THAT(keys(batch), ::testing::ElementsAre("deal:a0", "deal:b0", "deal:a1", "deal:a2"));
  EXPECT_EQ(batcher.waiting(), 97u);
  EXPECT_TRUE(batcher.next_batch().empty()) << "one batch in flight at a time";
}

TEST(FairBatcher, ARecordsEventsKeepTheirOrderAndOffsetsCommitOnlyAppliedPrefixes) {
  FairBatcher batcher(2);
  batcher.add(event("a1", "A", 0));
  batcher.add(event("a1", "", 1));  // the same record, its owner changed: same queue
  batcher.add(event("b1", "B", 2));
  batcher.add(event("c1", "C", 0, 1));
  auto first = batcher.next_batch();
  EXPECT_THAT(keys(first), ::testing::ElementsAre("deal:a1", "deal:b1"));
  batcher.batch_applied();
  auto commits = batcher.committable();
  ASSERT_EQ(commits.size(), 1u) << "partition 0 up to offset 0 only (offset 1 waits), partition 1 nothing";
  EXPECT_EQ(commits[0].offset, 0);
  auto second = batcher.next_batch();
  EXPECT_THAT(keys(second), ::testing::ElementsAre("deal:a1", "deal:c1"));
  batcher.batch_applied();
  commits = batcher.committable();
  ASSERT_EQ(commits.size(), 2u);
  EXPECT_EQ(commits[0].partition, 0);
  EXPECT_EQ(commits[0].offset, 2);
  EXPECT_EQ(commits[1].partition, 1);
  EXPECT_EQ(batcher.held(), 0u);
  EXPECT_THAT(batcher.waiting_by_partner(), ::testing::IsEmpty());
}

TEST(FairBatcher, UnreadableEventsGoToTheUnownedQueue) {
  FairBatcher batcher(10);
  batcher.add({"t", 0, 0, "k", "not json"});
  EXPECT_EQ(batcher.waiting_by_partner().at(""), 1u);
  EXPECT_EQ(batcher.next_batch().size(), 1u);
}

}  // namespace
}  // namespace crmsync::daemon

namespace crmsync::daemon {
namespace {

TEST(FairBatcher, ReDeliveredOffsetsAreNotHeldTwiceAndCommitsNeverGoBack) {
  FairBatcher batcher(10);
  batcher.add(event("a1", "A", 5));
  batcher.add(event("a2", "A", 6));
  batcher.add(event("a1", "A", 5));  // re-delivered after a rebalance
  EXPECT_EQ(batcher.held(), 2u);
  EXPECT_EQ(batcher.next_batch().size(), 2u);
  batcher.batch_applied();
  batcher.add(event("a3", "A", 4));  // an older offset arriving late: held until applied
  auto commits = batcher.committable();
  EXPECT_TRUE(commits.empty()) << "offset 4 is not applied yet";
  EXPECT_EQ(batcher.next_batch().size(), 1u);
  batcher.batch_applied();
  commits = batcher.committable();
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_EQ(commits[0].offset, 6);
  EXPECT_EQ(batcher.held(), 0u);
}

}  // namespace
}  // namespace crmsync::daemon
