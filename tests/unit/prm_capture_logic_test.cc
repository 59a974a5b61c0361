#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "connectors/prm/flush_tracker.h"
#include "connectors/prm/prm_event_builder.h"
#include "connectors/prm/transaction_assembler.h"

namespace crmsync::connectors::prm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using mapping::CanonicalEvent;

constexpr std::uint32_t kText = 25, kUuid = 2950, kNumeric = 1700, kTimestampTz = 1184;

ColumnValue text(std::string value) { return {ColumnValue::Kind::text, std::move(value)}; }
ColumnValue null() { return {ColumnValue::Kind::null, ""}; }
ColumnValue toast() { return {ColumnValue::Kind::unchanged_toast, ""}; }

RelationMessage deals_relation() {
  RelationMessage relation;
  relation.relation_id = 100;
  relation.schema = "prm";
  relation.name = "deals";
  relation.replica_identity = 'f';
  for (auto [name, type] : std::vector<std::pair<std::string, std::uint32_t>>{
           {"id", kUuid}, {"name", kText}, {"amount", kNumeric}, {"description", kText},
           {"owner_partner_org_id", kUuid}, {"owner_partner_user_id", kUuid},
           {"modified_by_kind", kText}, {"modified_by_id", kText}, {"updated_at", kTimestampTz}}) {
    relation.columns.push_back({name, type, -1, name == "id"});
  }
  return relation;
}

RelationMessage shares_relation() {
  RelationMessage relation;
  relation.relation_id = 200;
  relation.schema = "prm";
  relation.name = "shares";
  for (const char* name : {"object_type", "record_id", "principal_type", "principal_id", "access"}) {
    relation.columns.push_back({name, kText, -1, true});
  }
  return relation;
}

TupleData deal_row(const std::string& id, const std::string& name, const std::string& amount,
                   ColumnValue description = text("d")) {
  return {text(id), text(name), text(amount), std::move(description), text("org-a"), text("user-a1"),
          text("partner_user"), text("user-a1"), text("2026-11-27 10:00:00.5+00")};
}

class Capture : public ::testing::Test {
 protected:
  // Feeds one transaction (Begin, the messages, Commit at `end`) and returns what it assembled.
  CommittedTransaction transaction(std::vector<PgOutputMessage> messages, std::uint64_t end) {
    EXPECT_TRUE(assembler.feed(BeginMessage{Lsn{end - 8}, 0, 1}).ok());
    for (auto& message : messages) {
      auto fed = assembler.feed(std::move(message));
      EXPECT_TRUE(fed.ok()) << fed.error().message;
    }
    auto done = assembler.feed(CommitMessage{Lsn{end - 8}, Lsn{end}, 0});
    EXPECT_TRUE(done.ok() && done.value().has_value());
    return std::move(*done.value());
  }

  TransactionAssembler assembler;
  PrmEventBuilder builder{reference_schema_bindings(), "7312345678901234567"};
};

TEST_F(Capture, InsertBecomesAnUpsertWithFieldsActorAndOwner) {
  auto built = builder.build(transaction({deals_relation(), InsertMessage{100, deal_row("d1", "Big deal", "120000.50")}}, 0x100));
  ASSERT_EQ(built.events.size(), 1u);
  const CanonicalEvent& event = built.events[0];
  EXPECT_EQ(event.object, mapping::ObjectKind::deal);
  EXPECT_EQ(event.op, CanonicalEvent::Operation::upsert);
  EXPECT_EQ(event.prm_id, "d1");
  EXPECT_EQ(event.source_version, "0/F8");
  EXPECT_EQ(event.actor.kind, mapping::Actor::Kind::partner_user);
  EXPECT_EQ(event.actor.id, "user-a1");
  EXPECT_EQ(event.sharing.owner_partner_org, "org-a");
  EXPECT_THAT(event.changed, ElementsAre("name", "amount", "description"));
  std::string json = mapping::to_json(event);
  EXPECT_THAT(json, HasSubstr("\"amount\":120000.50"));  // exact digits, not a double
  EXPECT_THAT(json, HasSubstr("\"op\":\"upsert\""));
  EXPECT_THAT(json, Not(HasSubstr("modified_by")));  // bookkeeping columns are not fields
}

TEST_F(Capture, UpdateWithFullOldRowReportsOnlyChangedFieldsAndSkipsUnchangedToast) {
  transaction({deals_relation(), InsertMessage{100, deal_row("d1", "Deal", "10")}}, 0x100);
  UpdateMessage update{100, 'O', deal_row("d1", "Deal", "10", text("long text")),
                       deal_row("d1", "Deal", "25", toast())};
  auto built = builder.build(transaction({update}, 0x200));
  ASSERT_EQ(built.events.size(), 1u);
  EXPECT_THAT(built.events[0].changed, ElementsAre("amount"));
  for (const auto& field : built.events[0].fields) EXPECT_NE(field.name, "description");
}

TEST_F(Capture, ShareRowsTravelAsTheRecordsCompleteSharing) {
  transaction({deals_relation(), InsertMessage{100, deal_row("d1", "Deal", "10")}}, 0x100);
  builder.build(transaction({deals_relation(), InsertMessage{100, deal_row("d1", "Deal", "10")}}, 0x180));
  auto granted = builder.build(transaction(
      {shares_relation(),
       InsertMessage{200, {text("deal"), text("d1"), text("partner_org"), text("org-b"), text("read")}},
       InsertMessage{200, {text("deal"), text("d1"), text("partner_user"), text("user-c1"), text("edit")}}},
      0x200));
  ASSERT_EQ(granted.events.size(), 2u);
  const auto& sharing = granted.events[1].sharing;
  EXPECT_EQ(sharing.owner_partner_org, "org-a");
  ASSERT_EQ(sharing.grants.size(), 2u);
  EXPECT_EQ(sharing.grants[0].principal, "partner_org:org-b");
  EXPECT_EQ(sharing.grants[1].access, mapping::ShareGrant::Access::edit);
  EXPECT_THAT(granted.events[1].changed, ElementsAre("sharing"));

  auto revoked = builder.build(transaction(
      {DeleteMessage{200, 'K', {text("deal"), text("d1"), text("partner_org"), text("org-b"), null()}}}, 0x300));
  ASSERT_EQ(revoked.events.size(), 1u);
  EXPECT_THAT(revoked.events[0].sharing.grants,
              ElementsAre(mapping::ShareGrant{"partner_user:user-c1", mapping::ShareGrant::Access::edit}));
}

// After a restart the sharing view is loaded from the PRM as it is now, ahead of the stream the
// slot replays: a replayed grant is already in the view. The event must still carry the grant (the
// row's own change), or the share never reaches the CRMs (found by the chaos suite); likewise a
// revocation, and an owner change read from the old row.
TEST_F(Capture, AShareChangeTheViewAlreadyHoldsStillCarriesTheRowsOwnChange) {
  builder.build(transaction({deals_relation(), InsertMessage{100, deal_row("d1", "Deal", "10")}}, 0x100));
  InsertMessage grant{200, {text("deal"), text("d1"), text("partner_org"), text("org-b"), text("read")}};
  builder.build(transaction({shares_relation(), grant}, 0x200));
  auto replayed = builder.build(transaction({shares_relation(), grant}, 0x200));
  ASSERT_EQ(replayed.events.size(), 1u);
  ASSERT_TRUE(replayed.events[0].sharing_change.has_value());
  EXPECT_THAT(replayed.events[0].sharing_change->granted,
              ElementsAre(mapping::ShareGrant{"partner_org:org-b", mapping::ShareGrant::Access::read}));

  DeleteMessage revoke{200, 'K', {text("deal"), text("d1"), text("partner_org"), text("org-b"), null()}};
  builder.build(transaction({revoke}, 0x300));
  auto revoked_again = builder.build(transaction({revoke}, 0x300));
  ASSERT_EQ(revoked_again.events.size(), 1u);
  ASSERT_TRUE(revoked_again.events[0].sharing_change.has_value());
  EXPECT_THAT(revoked_again.events[0].sharing_change->revoked, ElementsAre("partner_org:org-b"));

  TupleData moved = deal_row("d1", "Deal", "10");
  moved[4] = text("org-c");
  UpdateMessage owner_change{100, 'O', deal_row("d1", "Deal", "10"), moved};
  builder.build(transaction({owner_change}, 0x400));
  auto owner_again = builder.build(transaction({owner_change}, 0x400));
  ASSERT_EQ(owner_again.events.size(), 1u);
  ASSERT_TRUE(owner_again.events[0].sharing_change.has_value());
  EXPECT_TRUE(owner_again.events[0].sharing_change->owner_partner_org_changed);
  EXPECT_EQ(owner_again.events[0].sharing_change->owner_partner_org, "org-c");
}

TEST_F(Capture, SharesGoingWithADeletedRecordDoNotResurrectIt) {
  builder.build(transaction({deals_relation(), InsertMessage{100, deal_row("d1", "Deal", "10")},
                             shares_relation(),
                             InsertMessage{200, {text("deal"), text("d1"), text("partner_org"), text("org-b"), text("read")}}},
                            0x100));
  TupleData key(9, null());
  key[0] = text("d1");
  auto built = builder.build(transaction(
      {DeleteMessage{100, 'K', key},
       DeleteMessage{200, 'K', {text("deal"), text("d1"), text("partner_org"), text("org-b"), null()}}},
      0x200));
  ASSERT_EQ(built.events.size(), 1u);
  EXPECT_EQ(built.events[0].op, CanonicalEvent::Operation::remove);
}

TEST_F(Capture, ShareWrittenBeforeItsRecordTravelsWithTheRecord) {
  auto built = builder.build(transaction(
      {shares_relation(),
       InsertMessage{200, {text("deal"), text("d9"), text("partner_org"), text("org-b"), text("edit")}},
       deals_relation(), InsertMessage{100, deal_row("d9", "Deal", "10")}},
      0x100));
  ASSERT_EQ(built.events.size(), 1u);
  ASSERT_EQ(built.events[0].sharing.grants.size(), 1u);
  EXPECT_EQ(built.events[0].sharing.grants[0].principal, "partner_org:org-b");
}

TEST_F(Capture, UnknownRecordIsSharedWithNobody) {
  auto sharing = builder.sharing().sharing_of({mapping::ObjectKind::deal, "never-seen"});
  EXPECT_FALSE(sharing.owner_partner_org.has_value());
  EXPECT_TRUE(sharing.grants.empty());
}

TEST_F(Capture, DeleteCarriesTheKeyAndForgetsTheSharing) {
  builder.build(transaction({deals_relation(), InsertMessage{100, deal_row("d1", "Deal", "10")}}, 0x100));
  TupleData key(9, null());
  key[0] = text("d1");
  auto built = builder.build(transaction({DeleteMessage{100, 'K', key}}, 0x200));
  ASSERT_EQ(built.events.size(), 1u);
  EXPECT_EQ(built.events[0].op, CanonicalEvent::Operation::remove);
  EXPECT_EQ(built.events[0].prm_id, "d1");
  EXPECT_EQ(built.events[0].sharing.owner_partner_org, "org-a");  // as it was when deleted
  EXPECT_EQ(builder.sharing().record_count(), 0u);
}

TEST_F(Capture, OwnTransactionsAreEchoesAndProduceNothing) {
  auto echo = transaction({LogicalMessage{true, Lsn{1}, "crmsync.origin", "apply"}, deals_relation(),
                           InsertMessage{100, deal_row("d1", "Deal", "10")}},
                          0x100);
  EXPECT_TRUE(echo.written_by_crmsync);
  EXPECT_TRUE(builder.build(echo).events.empty());
  // A marker after a row change, a non-transactional one, or another prefix is not ours.
  auto late = transaction({deals_relation(), InsertMessage{100, deal_row("d2", "Deal", "10")},
                           LogicalMessage{true, Lsn{2}, "crmsync.origin", "x"}},
                          0x200);
  EXPECT_FALSE(late.written_by_crmsync);
  auto other = transaction({LogicalMessage{true, Lsn{3}, "someone.else", "x"}}, 0x300);
  EXPECT_FALSE(other.written_by_crmsync);
}

TEST_F(Capture, EventIdentityIsStableAcrossARestart) {
  auto first = builder.build(transaction({deals_relation(), InsertMessage{100, deal_row("d1", "Deal", "10")}}, 0x100));
  TransactionAssembler restarted;
  PrmEventBuilder rebuilt(reference_schema_bindings(), "7312345678901234567");
  ASSERT_TRUE(restarted.feed(BeginMessage{Lsn{0xF8}, 0, 1}).ok());
  ASSERT_TRUE(restarted.feed(deals_relation()).ok());
  ASSERT_TRUE(restarted.feed(InsertMessage{100, deal_row("d1", "Deal", "10")}).ok());
  auto again = restarted.feed(CommitMessage{Lsn{0xF8}, Lsn{0x100}, 0});
  ASSERT_TRUE(again.ok() && again.value());
  auto second = rebuilt.build(*again.value());
  EXPECT_EQ(first.events[0].event_id, second.events[0].event_id);
  EXPECT_EQ(first.events[0].event_id.size(), 36u);
}

TEST_F(Capture, TruncateIsDeadLetteredNotPropagated) {
  auto built = builder.build(transaction({deals_relation(), TruncateMessage{{100}, false, false}}, 0x100));
  EXPECT_TRUE(built.events.empty());
  ASSERT_EQ(built.dead_letters.size(), 1u);
  EXPECT_EQ(built.dead_letters[0].reason, "truncate_not_propagated");
  EXPECT_THAT(built.dead_letters[0].detail_json, HasSubstr("prm.deals"));
}

TEST_F(Capture, IgnoredTablesAreCountedNotTurnedIntoEvents) {
  RelationMessage internal;
  internal.relation_id = 300;
  internal.schema = "prm";
  internal.name = "deal_internal";
  internal.columns = {{"deal_id", kUuid, -1, true}, {"cost", kNumeric, -1, false}};
  auto built = builder.build(transaction({internal, InsertMessage{300, {text("d1"), text("5")}}}, 0x100));
  EXPECT_TRUE(built.events.empty());
  EXPECT_EQ(built.ignored_rows, 1u);
}

TEST_F(Capture, ProtocolViolationsAreFatal) {
  TransactionAssembler fresh;
  EXPECT_EQ(fresh.feed(InsertMessage{1, {}}).error().error_class, mapping::ErrorClass::fatal);
  ASSERT_TRUE(fresh.feed(BeginMessage{}).ok());
  EXPECT_FALSE(fresh.feed(BeginMessage{}).ok());
  EXPECT_THAT(fresh.feed(InsertMessage{42, {}}).error().message, HasSubstr("before its Relation"));
  ASSERT_TRUE(fresh.feed(deals_relation()).ok());
  EXPECT_THAT(fresh.feed(InsertMessage{100, {text("only one column")}}).error().message,
              HasSubstr("tuple of 1 columns"));
}

TEST(FlushTracker, AdvancesOnlyOverFullyAcknowledgedPrefix) {
  FlushTracker tracker;
  tracker.reset(Lsn{10});
  tracker.add(Lsn{100}, 2);
  tracker.add(Lsn{200}, 0);  // echo: nothing to wait for, but behind an unfinished one
  tracker.add(Lsn{300}, 1);
  EXPECT_EQ(tracker.safe_flush(), Lsn{10});
  tracker.acknowledge(Lsn{300});
  EXPECT_EQ(tracker.safe_flush(), Lsn{10});
  tracker.acknowledge(Lsn{100});
  EXPECT_EQ(tracker.safe_flush(), Lsn{10});
  tracker.acknowledge(Lsn{100});
  EXPECT_EQ(tracker.safe_flush(), Lsn{300});
  EXPECT_EQ(tracker.transactions_in_flight(), 0u);
  tracker.acknowledge(Lsn{999});  // unknown: ignored
  EXPECT_EQ(tracker.safe_flush(), Lsn{300});
}

TEST(FieldValues, ConvertByPostgresType) {
  EXPECT_EQ(to_field_value(16, "t"), mapping::FieldValue::boolean_value(true));
  EXPECT_EQ(to_field_value(1700, "12345678901234567.89").text, "12345678901234567.89");
  EXPECT_EQ(to_field_value(1184, "2026-11-27 22:10:11.123+00").text, "2026-11-27T22:10:11.123Z");
  EXPECT_EQ(to_field_value(1082, "2026-12-31").kind, mapping::FieldValue::Kind::string);
  EXPECT_EQ(postgres_time_to_rfc3339(0), "2000-01-01T00:00:00.000000Z");
}

TEST(CanonicalEventJson, NonFiniteNumericsTravelAsStrings) {
  CanonicalEvent event;
  event.fields.push_back({"amount", mapping::FieldValue::number_value("NaN")});
  event.fields.push_back({"name", mapping::FieldValue::string_value("quote \" and \\ backslash")});
  std::string json = mapping::to_json(event);
  EXPECT_THAT(json, HasSubstr("\"amount\":\"NaN\""));
  EXPECT_THAT(json, HasSubstr(R"("name":"quote \" and \\ backslash")"));
}

}  // namespace
}  // namespace crmsync::connectors::prm
