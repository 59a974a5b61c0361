// Which version of a record a change event carries, and when one is not newer than another: the
// apply path's staleness check (an event not newer than what was seen from its side is superseded).
#include <gtest/gtest.h>

#include "daemon/apply_item.h"

namespace crmsync::daemon {
namespace {

using mapping::CanonicalEvent;
using mapping::Side;

CanonicalEvent event_from(Side side, CanonicalEvent::Operation op, std::string source_version) {
  CanonicalEvent event;
  event.source = side;
  event.op = op;
  event.source_version = std::move(source_version);
  return event;
}

TEST(ApplyVersions, NumbersCompareAsNumbersAndTimestampsAsText) {
  EXPECT_TRUE(not_newer("999", "1017"));
  EXPECT_FALSE(not_newer("1018", "1017"));
  EXPECT_TRUE(not_newer("1017", "1017"));
  EXPECT_TRUE(not_newer("2026-11-28T17:55:57.000+0000", "2026-11-28T17:55:58.000+0000"));
}

// Found by the chaos suite: a Dataverse delete's source_version names the capture pass (a UUID),
// which compared as text with the row's last versionnumber and was "not newer" whenever the UUID
// sorted first: the delete was superseded and the record stayed on the PRM and Salesforce.
TEST(ApplyVersions, ADataverseDeleteHasNoVersionSoItIsNeverStale) {
  auto remove = event_from(Side::dynamics, CanonicalEvent::Operation::remove, "0e043621-59ce-816e-915e-df9b3f6efc45");
  EXPECT_EQ(version_of(remove), "");
  auto upsert = event_from(Side::dynamics, CanonicalEvent::Operation::upsert, "1017");
  EXPECT_EQ(version_of(upsert), "1017");
  auto salesforce_delete =
      event_from(Side::salesforce, CanonicalEvent::Operation::remove, "2026-11-28T17:55:57.000+0000");
  EXPECT_EQ(version_of(salesforce_delete), "2026-11-28T17:55:57.000+0000") << "a Salesforce delete has its SystemModstamp";
}

}  // namespace
}  // namespace crmsync::daemon
