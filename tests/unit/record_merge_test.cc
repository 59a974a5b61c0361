#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "mapping/mapping_definition.h"
#include "mapping/record_merge.h"

namespace crmsync::mapping {

// Readable failure output for field values (identical in every test file of this binary).
inline void PrintTo(const FieldValue& value, std::ostream* out) { *out << to_json_value(value); }

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// The shipped mapping, parsed once: deal name/amount latest_wins, stage crm_wins, description
// manual, currency PRM-only; account website prm_wins.
const MappingDefinition& shipped() {
  static const MappingDefinition mapping = default_mapping();
  return mapping;
}

FieldValue text(std::string value) { return FieldValue::string_value(std::move(value)); }
FieldValue number(std::string value) { return FieldValue::number_value(std::move(value)); }

constexpr const char* kEarly = "2024-05-01T10:00:00Z";
constexpr const char* kLate = "2024-05-01T11:00:00Z";

// A deal change from `source` to the two other sides; the test fills in values and holders.
MergeInput deal_change(Side source) {
  MergeInput input;
  input.mapping = &shipped().deal;
  input.source = source;
  input.incoming_at = kEarly;
  for (Side side : {Side::prm, Side::salesforce, Side::dynamics}) {
    if (side != source) input.targets.push_back(side);
  }
  return input;
}

MergeInput account_change(Side source) {
  MergeInput input = deal_change(source);
  input.mapping = &shipped().account;
  return input;
}

const FieldConflict* conflict_on(const MergeResult& result, const std::string& field) {
  for (const FieldConflict& conflict : result.conflicts) {
    if (conflict.field == field) return &conflict;
  }
  return nullptr;
}

// ---- source-only changes ----------------------------------------------------------------------

TEST(RecordMerge, FieldChangedOnlyOnSourceIsAgreedAndWrittenToHeldTargetsThatDiffer) {
  MergeInput input = deal_change(Side::prm);
  input.base = {{"name", text("Old")}, {"amount", number("100.00")}};
  input.incoming = {{"name", text("New")}, {"amount", number("100.00")}};
  input.held[Side::salesforce] = {{{"name", text("Old")}, {"amount", number("100.00")}}, kEarly};
  // Dynamics already shows the new name (its own capture raced ours): nothing to write there.
  input.held[Side::dynamics] = {{{"name", text("New")}, {"amount", number("100.00")}}, kEarly};

  MergeResult result = merge_record(input);

  EXPECT_EQ(result.agreed, (CanonicalFields{{"name", text("New")}}));
  EXPECT_THAT(result.changed, ElementsAre("name"));
  EXPECT_THAT(result.conflicts, IsEmpty());
  EXPECT_THAT(result.held_open, IsEmpty());
  ASSERT_EQ(result.writes.size(), 1u) << "only Salesforce differs";
  EXPECT_EQ(result.writes.at(Side::salesforce), (CanonicalFields{{"name", text("New")}}));
}

TEST(RecordMerge, AnOperatorsDecisionIsWrittenToEverySideThatHoldsSomethingElseTheSourceToo) {
  // A manual conflict on description (PRM "prm text", Salesforce "sf text"), decided for
  // Salesforce's text; the decision travels as a PRM event, so the PRM's own copy is held too.
  MergeInput input = deal_change(Side::prm);
  input.base = {{"description", text("draft")}, {"amount", number("100.00")}};
  input.incoming = {{"description", text("sf text")}};
  input.operator_decided = {"description"};
  input.open_conflicts = {"description"};
  input.held[Side::prm] = {{{"description", text("prm text")}, {"amount", number("100.00")}}, kEarly};
  input.held[Side::salesforce] = {{{"description", text("sf text")}, {"amount", number("100.00")}}, kLate};
  input.held[Side::dynamics] = {{{"description", text("draft")}, {"amount", number("100.00")}}, kEarly};

  MergeResult result = merge_record(input);

  EXPECT_EQ(result.agreed, (CanonicalFields{{"description", text("sf text")}}));
  EXPECT_THAT(result.changed, ElementsAre("description"));
  EXPECT_THAT(result.conflicts, IsEmpty()) << "decided, not a new conflict";
  EXPECT_THAT(result.held_open, IsEmpty()) << "the open conflict is what is being decided";
  EXPECT_EQ(result.writes.at(Side::prm), (CanonicalFields{{"description", text("sf text")}}));
  EXPECT_EQ(result.writes.at(Side::dynamics), (CanonicalFields{{"description", text("sf text")}}));
  EXPECT_EQ(result.writes.count(Side::salesforce), 0u) << "Salesforce holds it already";
}

TEST(RecordMerge, FieldUnchangedSinceBaseProducesNothing) {
  MergeInput input = deal_change(Side::salesforce);
  input.base = {{"name", text("Same")}, {"amount", number("5.00")}, {"stage", text("proposal")}};
  input.incoming = input.base;
  // A target holding something else is not touched by a change that did not change the field.
  input.held[Side::prm] = {{{"name", text("Edited on PRM")}, {"amount", number("5.00")}}, kLate};
  input.held[Side::dynamics] = {input.base, kEarly};

  MergeResult result = merge_record(input);

  EXPECT_THAT(result.agreed, IsEmpty());
  EXPECT_THAT(result.writes, IsEmpty());
  EXPECT_THAT(result.conflicts, IsEmpty());
  EXPECT_THAT(result.changed, IsEmpty());
  EXPECT_THAT(result.held_open, IsEmpty());
}

TEST(RecordMerge, TargetNotHoldingTheRecordGetsCreateWithEveryValueBoundOnIt) {
  MergeInput input = deal_change(Side::prm);
  input.incoming = {{"name", text("Deal")},           {"amount", number("120000.10")},
                    {"stage", text("prospecting")},   {"currency", text("EUR")},
                    {"registration_status", text("approved")},
                    {"discount_percent", number("5.00")}};

  MergeResult result = merge_record(input);

  CanonicalFields crm_create{{"name", text("Deal")},
                             {"amount", number("120000.10")},
                             {"stage", text("prospecting")},
                             {"discount_percent", number("5.00")}};
  ASSERT_EQ(result.writes.count(Side::salesforce), 1u);
  ASSERT_EQ(result.writes.count(Side::dynamics), 1u);
  // PRM-only fields (currency, registration_status) go to no CRM.
  EXPECT_EQ(result.writes.at(Side::salesforce), crm_create);
  EXPECT_EQ(result.writes.at(Side::dynamics), crm_create);
  EXPECT_EQ(result.writes.count(Side::prm), 0u) << "the source is not written back";
  EXPECT_EQ(result.agreed, input.incoming);
  EXPECT_THAT(result.conflicts, IsEmpty());
}

TEST(RecordMerge, CreateCarriesBaseValuesOfFieldsTheChangeDidNotTouch) {
  MergeInput input = deal_change(Side::prm);
  input.targets = {Side::salesforce, Side::dynamics};
  input.base = {{"name", text("Deal")}, {"amount", number("1.00")}, {"currency", text("EUR")}};
  input.incoming = {{"name", text("Deal")}, {"amount", number("2.00")}, {"currency", text("EUR")}};
  input.held[Side::salesforce] = {{{"name", text("Deal")}, {"amount", number("1.00")}}, kEarly};

  MergeResult result = merge_record(input);

  EXPECT_EQ(result.writes.at(Side::salesforce), (CanonicalFields{{"amount", number("2.00")}}));
  EXPECT_EQ(result.writes.at(Side::dynamics),
            (CanonicalFields{{"name", text("Deal")}, {"amount", number("2.00")}}));
}

// ---- conflicts --------------------------------------------------------------------------------

TEST(RecordMerge, PrmWinsWhenPrmIsTheSource) {
  MergeInput input = account_change(Side::prm);
  input.base = {{"website", text("base.example")}};
  input.incoming = {{"website", text("prm.example")}};
  input.incoming_at = kEarly;  // older than the CRM edit: the policy, not the time, decides
  input.held[Side::salesforce] = {{{"website", text("sf.example")}}, kLate};
  input.held[Side::dynamics] = {{{"website", text("base.example")}}, kEarly};

  MergeResult result = merge_record(input);

  const FieldConflict* conflict = conflict_on(result, "website");
  ASSERT_NE(conflict, nullptr);
  EXPECT_EQ(conflict->policy, ConflictPolicy::prm_wins);
  EXPECT_EQ(conflict->winner, Side::prm);
  EXPECT_EQ(conflict->base, text("base.example"));
  EXPECT_EQ(conflict->values, (std::map<Side, FieldValue>{{Side::prm, text("prm.example")},
                                                          {Side::salesforce, text("sf.example")}}));
  EXPECT_EQ(result.agreed.at("website"), text("prm.example"));
  EXPECT_EQ(result.writes.at(Side::salesforce).at("website"), text("prm.example"));
  EXPECT_EQ(result.writes.at(Side::dynamics).at("website"), text("prm.example"));
  EXPECT_EQ(result.writes.count(Side::prm), 0u);
}

TEST(RecordMerge, PrmWinsWhenSalesforceIsTheSource) {
  MergeInput input = account_change(Side::salesforce);
  input.base = {{"website", text("base.example")}};
  input.incoming = {{"website", text("sf.example")}};
  input.incoming_at = kLate;
  input.held[Side::prm] = {{{"website", text("prm.example")}}, kEarly};
  input.held[Side::dynamics] = {{{"website", text("base.example")}}, kEarly};

  MergeResult result = merge_record(input);

  const FieldConflict* conflict = conflict_on(result, "website");
  ASSERT_NE(conflict, nullptr);
  EXPECT_EQ(conflict->winner, Side::prm);
  EXPECT_EQ(result.agreed.at("website"), text("prm.example"));
  // The losing source is written back; PRM already holds the winner.
  EXPECT_EQ(result.writes.at(Side::salesforce).at("website"), text("prm.example"));
  EXPECT_EQ(result.writes.at(Side::dynamics).at("website"), text("prm.example"));
  EXPECT_EQ(result.writes.count(Side::prm), 0u);
}

TEST(RecordMerge, PrmWinsFallsBackToLatestWinsWhenPrmIsNoParty) {
  MergeInput input = account_change(Side::salesforce);
  input.base = {{"website", text("base.example")}};
  input.incoming = {{"website", text("sf.example")}};
  input.incoming_at = kEarly;
  input.held[Side::prm] = {{{"website", text("base.example")}}, kEarly};
  input.held[Side::dynamics] = {{{"website", text("dyn.example")}}, kLate};

  MergeResult result = merge_record(input);

  const FieldConflict* conflict = conflict_on(result, "website");
  ASSERT_NE(conflict, nullptr);
  EXPECT_EQ(conflict->winner, Side::dynamics);
  EXPECT_EQ(result.writes.at(Side::salesforce).at("website"), text("dyn.example"));
  EXPECT_EQ(result.writes.at(Side::prm).at("website"), text("dyn.example"));
  EXPECT_EQ(result.writes.count(Side::dynamics), 0u);
}

TEST(RecordMerge, CrmWinsWhenPrmSourceConflictsTheCrmValueIsWrittenBackToPrm) {
  MergeInput input = deal_change(Side::prm);
  input.targets = {Side::salesforce};
  input.base = {{"stage", text("prospecting")}};
  input.incoming = {{"stage", text("qualification")}};
  input.incoming_at = kLate;  // newer, and still loses
  input.held[Side::salesforce] = {{{"stage", text("proposal")}}, kEarly};

  MergeResult result = merge_record(input);

  const FieldConflict* conflict = conflict_on(result, "stage");
  ASSERT_NE(conflict, nullptr);
  EXPECT_EQ(conflict->policy, ConflictPolicy::crm_wins);
  EXPECT_EQ(conflict->winner, Side::salesforce);
  EXPECT_EQ(result.agreed.at("stage"), text("proposal"));
  EXPECT_THAT(result.changed, ElementsAre("stage"));
  EXPECT_EQ(result.writes.at(Side::prm), (CanonicalFields{{"stage", text("proposal")}}));
  EXPECT_EQ(result.writes.count(Side::salesforce), 0u);
}

TEST(RecordMerge, LatestWinsTakesTheSourceWhenItChangedLater) {
  MergeInput input = deal_change(Side::prm);
  input.targets = {Side::salesforce};
  input.base = {{"name", text("Base")}};
  input.incoming = {{"name", text("From PRM")}};
  input.incoming_at = kLate;
  input.held[Side::salesforce] = {{{"name", text("From SF")}}, kEarly};

  MergeResult result = merge_record(input);

  const FieldConflict* conflict = conflict_on(result, "name");
  ASSERT_NE(conflict, nullptr);
  EXPECT_EQ(conflict->policy, ConflictPolicy::latest_wins);
  EXPECT_EQ(conflict->winner, Side::prm);
  EXPECT_EQ(result.agreed.at("name"), text("From PRM"));
  EXPECT_EQ(result.writes.at(Side::salesforce), (CanonicalFields{{"name", text("From PRM")}}));
  EXPECT_EQ(result.writes.count(Side::prm), 0u);
}

TEST(RecordMerge, LatestWinsTakesTheTargetWhenItChangedLater) {
  MergeInput input = deal_change(Side::prm);
  input.targets = {Side::salesforce};
  input.base = {{"name", text("Base")}};
  input.incoming = {{"name", text("From PRM")}};
  input.incoming_at = kEarly;
  input.held[Side::salesforce] = {{{"name", text("From SF")}}, kLate};

  MergeResult result = merge_record(input);

  const FieldConflict* conflict = conflict_on(result, "name");
  ASSERT_NE(conflict, nullptr);
  EXPECT_EQ(conflict->winner, Side::salesforce);
  EXPECT_EQ(result.agreed.at("name"), text("From SF"));
  EXPECT_EQ(result.writes.at(Side::prm), (CanonicalFields{{"name", text("From SF")}}));
  EXPECT_EQ(result.writes.count(Side::salesforce), 0u);
}

TEST(RecordMerge, LatestWinsComparesInstantsNotTextAcrossOffsets) {
  MergeInput input = deal_change(Side::prm);
  input.targets = {Side::salesforce};
  input.base = {{"amount", number("1.00")}};
  input.incoming = {{"amount", number("2.00")}};
  input.incoming_at = "2024-05-01T12:30:00+02:00";  // 10:30Z: textually later, actually earlier
  input.held[Side::salesforce] = {{{"amount", number("3.00")}}, "2024-05-01T11:00:00Z"};

  MergeResult result = merge_record(input);

  const FieldConflict* conflict = conflict_on(result, "amount");
  ASSERT_NE(conflict, nullptr);
  EXPECT_EQ(conflict->winner, Side::salesforce);
  EXPECT_EQ(result.agreed.at("amount"), number("3.00"));
}

TEST(RecordMerge, LatestWinsTieGoesToTheSource) {
  for (Side source : {Side::prm, Side::salesforce}) {
    Side target = source == Side::prm ? Side::salesforce : Side::prm;
    MergeInput input = deal_change(source);
    input.targets = {target};
    input.base = {{"name", text("Base")}};
    input.incoming = {{"name", text("From source")}};
    input.incoming_at = "2024-05-01T12:00:00+01:00";
    input.held[target] = {{{"name", text("From target")}}, "2024-05-01T11:00:00.000000Z"};

    MergeResult result = merge_record(input);

    const FieldConflict* conflict = conflict_on(result, "name");
    ASSERT_NE(conflict, nullptr) << to_string(source);
    EXPECT_EQ(conflict->winner, source) << to_string(source);
    EXPECT_EQ(result.agreed.at("name"), text("From source"));
    EXPECT_EQ(result.writes.at(target), (CanonicalFields{{"name", text("From source")}}));
    EXPECT_EQ(result.writes.count(source), 0u);
  }
}

TEST(RecordMerge, ManualConflictHasNoWinnerAndWritesNothingForThatFieldWhileOthersSync) {
  MergeInput input = deal_change(Side::prm);
  input.targets = {Side::salesforce};
  input.base = {{"description", text("base text")}, {"amount", number("1.00")}};
  input.incoming = {{"description", text("prm text")}, {"amount", number("2.00")}};
  input.incoming_at = kLate;
  input.held[Side::salesforce] = {
      {{"description", text("sf text")}, {"amount", number("1.00")}}, kEarly};

  MergeResult result = merge_record(input);

  ASSERT_EQ(result.conflicts.size(), 1u);
  const FieldConflict& conflict = result.conflicts.front();
  EXPECT_EQ(conflict.field, "description");
  EXPECT_EQ(conflict.policy, ConflictPolicy::manual);
  EXPECT_EQ(conflict.winner, std::nullopt);
  EXPECT_EQ(conflict.base, text("base text"));
  EXPECT_EQ(conflict.values, (std::map<Side, FieldValue>{{Side::prm, text("prm text")},
                                                         {Side::salesforce, text("sf text")}}));
  EXPECT_EQ(result.agreed, (CanonicalFields{{"amount", number("2.00")}}));
  EXPECT_THAT(result.changed, ElementsAre("amount"));
  EXPECT_EQ(result.writes, (std::map<Side, CanonicalFields>{
                               {Side::salesforce, {{"amount", number("2.00")}}}}));
}

TEST(RecordMerge, FieldWithAnOpenManualConflictIsHeldOpen) {
  MergeInput input = deal_change(Side::prm);
  input.targets = {Side::salesforce};
  input.base = {{"description", text("base text")}, {"name", text("Old")}};
  input.incoming = {{"description", text("newer prm text")}, {"name", text("New")}};
  input.held[Side::salesforce] = {{{"description", text("sf text")}, {"name", text("Old")}}, kEarly};
  input.open_conflicts = {"description"};

  MergeResult result = merge_record(input);

  EXPECT_THAT(result.held_open, ElementsAre("description"));
  EXPECT_THAT(result.conflicts, IsEmpty()) << "already queued for an operator";
  EXPECT_EQ(result.agreed, (CanonicalFields{{"name", text("New")}}));
  EXPECT_EQ(result.writes, (std::map<Side, CanonicalFields>{
                               {Side::salesforce, {{"name", text("New")}}}}));
}

TEST(RecordMerge, TargetAlreadyHoldingTheIncomingValueIsNoConflict) {
  MergeInput input = deal_change(Side::prm);
  input.targets = {Side::salesforce};
  input.base = {{"description", text("base text")}};
  input.incoming = {{"description", text("same edit")}};
  input.held[Side::salesforce] = {{{"description", text("same edit")}}, kLate};

  MergeResult result = merge_record(input);

  EXPECT_THAT(result.conflicts, IsEmpty());
  EXPECT_EQ(result.agreed, (CanonicalFields{{"description", text("same edit")}}));
  EXPECT_THAT(result.changed, ElementsAre("description"));
  EXPECT_THAT(result.writes, IsEmpty());
}

TEST(RecordMerge, TargetChangedBackToTheBaseValueIsNoConflict) {
  MergeInput input = deal_change(Side::salesforce);
  input.targets = {Side::prm};
  input.base = {{"description", text("base text")}};
  input.incoming = {{"description", text("sf text")}};
  input.held[Side::prm] = {{{"description", text("base text")}}, kLate};

  MergeResult result = merge_record(input);

  EXPECT_THAT(result.conflicts, IsEmpty());
  EXPECT_EQ(result.writes, (std::map<Side, CanonicalFields>{
                               {Side::prm, {{"description", text("sf text")}}}}));
}

TEST(RecordMerge, FirstSyncWithEmptyBaseAndDifferingHeldValueIsAConflict) {
  MergeInput input = deal_change(Side::prm);
  input.targets = {Side::salesforce};
  input.incoming = {{"name", text("Acme deal")}, {"amount", number("10.00")}};
  input.incoming_at = kEarly;
  input.held[Side::salesforce] = {{{"name", text("ACME Deal")}, {"amount", number("10.00")}},
                                  kLate};

  MergeResult result = merge_record(input);

  ASSERT_EQ(result.conflicts.size(), 1u);
  const FieldConflict& conflict = result.conflicts.front();
  EXPECT_EQ(conflict.field, "name");
  EXPECT_EQ(conflict.base, std::nullopt);
  EXPECT_EQ(conflict.winner, Side::salesforce);
  // Both fields are new to the base; the amount already agrees everywhere.
  EXPECT_EQ(result.agreed,
            (CanonicalFields{{"name", text("ACME Deal")}, {"amount", number("10.00")}}));
  EXPECT_THAT(result.changed, UnorderedElementsAre("name", "amount"));
  EXPECT_EQ(result.writes, (std::map<Side, CanonicalFields>{
                               {Side::prm, {{"name", text("ACME Deal")}}}}));
}

// A CRM-only field of a PRM-born account was never agreed (no side had it when crmsync created the
// record). Dataverse's capture of crmsync's own create carries it empty — and arrives after a
// sales rep set it in Salesforce, with a later timestamp. The empty echo is no change: the rep's
// value stays, nothing is written (it was written as null to Salesforce: a lost update).
TEST(RecordMerge, AnEmptyValueOfANeverAgreedFieldIsNoChangeAndDoesNotOverwriteAnotherSidesValue) {
  MergeInput input = account_change(Side::dynamics);
  input.targets = {Side::prm, Side::salesforce};
  input.base = {{"name", text("Acme")}};
  input.incoming = {{"name", text("Acme")}, {"annual_revenue", FieldValue::null_value()}};
  input.incoming_at = kLate;
  input.held[Side::salesforce] = {{{"name", text("Acme")}, {"annual_revenue", number("5000000.00")}}, kEarly};
  input.held[Side::prm] = {{{"name", text("Acme")}}, kEarly};

  MergeResult result = merge_record(input);

  EXPECT_THAT(result.conflicts, IsEmpty());
  EXPECT_THAT(result.writes, IsEmpty());
  EXPECT_THAT(result.changed, IsEmpty());
}

// The other way round: Salesforce's rep sets the never-agreed field; Dataverse holds it empty
// (crmsync created it there without one). That empty copy is no edit: no conflict, the value
// goes to Dataverse whatever the timestamps say.
TEST(RecordMerge, AValueForANeverAgreedFieldIsNoConflictWithAnotherSidesEmptyCopy) {
  MergeInput input = account_change(Side::salesforce);
  input.targets = {Side::prm, Side::dynamics};
  input.base = {{"name", text("Acme")}};
  input.incoming = {{"name", text("Acme")}, {"annual_revenue", number("5000000.00")}};
  input.incoming_at = kEarly;
  input.held[Side::dynamics] = {{{"name", text("Acme")}, {"annual_revenue", FieldValue::null_value()}}, kLate};
  input.held[Side::prm] = {{{"name", text("Acme")}}, kEarly};

  MergeResult result = merge_record(input);

  EXPECT_THAT(result.conflicts, IsEmpty());
  EXPECT_EQ(result.agreed.at("annual_revenue"), number("5000000.00"));
  EXPECT_EQ(result.writes, (std::map<Side, CanonicalFields>{
                               {Side::dynamics, {{"annual_revenue", number("5000000.00")}}}}));
}

// ---- rfc3339_micros ---------------------------------------------------------------------------

long long micros_of(std::chrono::sys_days day, std::chrono::seconds time_of_day) {
  using std::chrono::microseconds;
  return std::chrono::duration_cast<microseconds>(day.time_since_epoch() + time_of_day).count();
}

TEST(Rfc3339Micros, ReadsUtcWithZ) {
  using namespace std::chrono;
  EXPECT_EQ(rfc3339_micros("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(rfc3339_micros("2024-02-29T23:59:59Z"),
            micros_of(sys_days{year{2024} / February / 29}, hours{23} + minutes{59} + seconds{59}));
  EXPECT_EQ(rfc3339_micros("1969-12-31T23:59:59Z"), -1000000);
  EXPECT_EQ(rfc3339_micros("2024-05-01T10:00:00z"), rfc3339_micros("2024-05-01T10:00:00Z"));
}

TEST(Rfc3339Micros, AppliesOffsets) {
  auto utc = rfc3339_micros("2024-05-01T10:00:00Z");
  ASSERT_TRUE(utc);
  EXPECT_EQ(rfc3339_micros("2024-05-01T12:30:00+02:30"), utc);
  EXPECT_EQ(rfc3339_micros("2024-05-01T05:00:00-05:00"), utc);
  EXPECT_EQ(rfc3339_micros("2024-05-01T15:30:00+0530"), utc);
  EXPECT_EQ(rfc3339_micros("2024-05-01T10:00:00+00:00"), utc);
  EXPECT_EQ(rfc3339_micros("2024-05-01T10:00:00-00:00"), utc);
  // Across midnight and a year boundary.
  EXPECT_EQ(rfc3339_micros("2023-12-31T23:00:00-01:00"), rfc3339_micros("2024-01-01T00:00:00Z"));
}

TEST(Rfc3339Micros, ReadsFractionsOfOneToNineDigits) {
  auto whole = rfc3339_micros("2024-05-01T10:00:00Z");
  ASSERT_TRUE(whole);
  const std::pair<const char*, long long> cases[] = {
      {"2024-05-01T10:00:00.1Z", 100000},         {"2024-05-01T10:00:00.12Z", 120000},
      {"2024-05-01T10:00:00.123Z", 123000},       {"2024-05-01T10:00:00.1234Z", 123400},
      {"2024-05-01T10:00:00.12345Z", 123450},     {"2024-05-01T10:00:00.123456Z", 123456},
      {"2024-05-01T10:00:00.1234567Z", 123456},   {"2024-05-01T10:00:00.12345678Z", 123456},
      {"2024-05-01T10:00:00.123456789Z", 123456}, {"2024-05-01T10:00:00.000001+00:00", 1},
      {"2024-05-01T10:00:00.999999999Z", 999999},
  };
  for (const auto& [input, fraction] : cases) {
    EXPECT_EQ(rfc3339_micros(input), *whole + fraction) << input;
  }
}

TEST(Rfc3339Micros, RejectsMalformedText) {
  for (const char* input : {
           "",
           "2024-05-01",
           "2024-05-01T10:00",
           "2024-05-01T10:00:00",           // no zone
           "2024-05-01T10:00:00.Z",         // empty fraction
           "2024-05-01T10:00:00.123",       // fraction, no zone
           "2024/05/01T10:00:00Z",
           "2024-05-01X10:00:00Z",
           "2024-05-01T10-00-00Z",
           "2024-05-01T10:00:00Zjunk",
           "2024-05-01T10:00:00+02",
           "2024-05-01T10:00:00+02:3",
           "2024-05-01T10:00:00+02:30:00",
           "2024-05-01T10:00:00 +02:00",
           "24-05-01T10:00:00Z",
           "2024-5-01T10:00:00Z",
           "abcd-ef-ghTij:kl:mnZ",
           "yesterday at noon, roughly",
       }) {
    EXPECT_EQ(rfc3339_micros(input), std::nullopt) << '"' << input << '"';
  }
}

// Out-of-range or signed components are malformed, not normalised into another instant (month 13
// is not January of the next year; "-1" is not a two-digit field): latest_wins must not be decided
// by a broken timestamp.
TEST(Rfc3339Micros, RejectsOutOfRangeOrSignedComponents) {
  for (const char* input : {
           "2024-13-01T10:00:00Z",
           "2024-00-10T10:00:00Z",
           "2024-05-32T10:00:00Z",
           "2024-05-01T25:00:00Z",
           "2024-05-01T10:61:00Z",
           "2024-05-01T10:00:61Z",
           "2024--1-01T10:00:00Z",
           "2024-05-01T10:00:00+-1:00",
           "2024-05-01T10:00:00+24:00",
       }) {
    EXPECT_EQ(rfc3339_micros(input), std::nullopt) << '"' << input << '"';
  }
}

}  // namespace
}  // namespace crmsync::mapping
