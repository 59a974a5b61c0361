#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "mapping/canonical_event.h"
#include "mapping/event_json.h"

namespace crmsync::mapping {

// Readable failure output for field values (identical in every test file of this binary).
inline void PrintTo(const FieldValue& value, std::ostream* out) { *out << to_json_value(value); }

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A partner value that must never reach an error message.
constexpr const char* kSecret = "hunter2-Tr0ub4dor-s3cret";

CanonicalEvent full_event() {
  CanonicalEvent event;
  event.event_id = "0b6e2c1a-6f3d-8a4b-9c2d-1e2f3a4b5c6d";
  event.source = Side::salesforce;
  event.object = ObjectKind::deal;
  event.op = CanonicalEvent::Operation::upsert;
  event.prm_id = "4711";
  event.salesforce_id = "006Dn000004XyZaIAK";
  event.dynamics_id = "8f1c2d3e-0000-4000-8000-000000000001";
  event.source_version = "2024-05-01T10:00:00.000Z";
  event.occurred_at = "2024-05-01T10:00:00.123456Z";
  event.actor = {Actor::Kind::partner_user, "user-17", "org-42"};
  event.fields = {
      {"Amount", FieldValue::number_value("120000.10")},
      {"Quantity", FieldValue::number_value("1e3")},
      {"Discount", FieldValue::number_value("-0.50")},
      {"Description", FieldValue::null_value()},
      {"IsPrivate", FieldValue::boolean_value(true)},
      {"IsClosed", FieldValue::boolean_value(false)},
      {"Name", FieldValue::string_value("Ünïcode \"quoted\" \\ back\nslash \t tab")},
      {"Empty", FieldValue::string_value("")},
      {"NumberLooking", FieldValue::string_value("120000.10")},
  };
  event.changed = {"Amount", "Name"};
  event.sharing.owner_partner_org = "org-42";
  event.sharing.owner_user = "user-17";
  event.sharing.grants = {{"partner_org:org-42", ShareGrant::Access::edit},
                          {"partner_user:user-99", ShareGrant::Access::read}};
  event.sharing.record_type = "PartnerDeal";
  event.snapshot = true;
  return event;
}

void expect_same_event(const CanonicalEvent& actual, const CanonicalEvent& expected) {
  EXPECT_EQ(actual.schema, expected.schema);
  EXPECT_EQ(actual.event_id, expected.event_id);
  EXPECT_EQ(actual.source, expected.source);
  EXPECT_EQ(actual.object, expected.object);
  EXPECT_EQ(actual.op, expected.op);
  EXPECT_EQ(actual.prm_id, expected.prm_id);
  EXPECT_EQ(actual.salesforce_id, expected.salesforce_id);
  EXPECT_EQ(actual.dynamics_id, expected.dynamics_id);
  EXPECT_EQ(actual.source_version, expected.source_version);
  EXPECT_EQ(actual.occurred_at, expected.occurred_at);
  EXPECT_EQ(actual.actor.kind, expected.actor.kind);
  EXPECT_EQ(actual.actor.id, expected.actor.id);
  EXPECT_EQ(actual.actor.partner_org, expected.actor.partner_org);
  ASSERT_EQ(actual.fields.size(), expected.fields.size());
  for (std::size_t i = 0; i < expected.fields.size(); ++i) {
    EXPECT_EQ(actual.fields[i].name, expected.fields[i].name) << "field #" << i;
    EXPECT_EQ(actual.fields[i].value, expected.fields[i].value) << expected.fields[i].name;
  }
  EXPECT_EQ(actual.changed, expected.changed);
  EXPECT_EQ(actual.sharing.owner_partner_org, expected.sharing.owner_partner_org);
  EXPECT_EQ(actual.sharing.owner_user, expected.sharing.owner_user);
  EXPECT_EQ(actual.sharing.grants, expected.sharing.grants);
  EXPECT_EQ(actual.sharing.record_type, expected.sharing.record_type);
  EXPECT_EQ(actual.snapshot, expected.snapshot);
  EXPECT_EQ(actual.resolves_conflict, expected.resolves_conflict);
}

// ---- round trip -------------------------------------------------------------------------------

TEST(EventJson, RoundTripKeepsEveryMember) {
  CanonicalEvent event = full_event();
  std::string json = to_json(event);
  // Numbers travel as JSON numbers with their exact text (a double would print 120000.1 and 1000).
  EXPECT_THAT(json, HasSubstr("\"Amount\":120000.10"));
  EXPECT_THAT(json, HasSubstr("\"Quantity\":1e3"));

  auto parsed = parse_event(json);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  expect_same_event(parsed.value(), event);
  EXPECT_EQ(to_json(parsed.value()), json);
}

TEST(EventJson, RoundTripOfAMinimalPrmDeleteWithAbsentOptionals) {
  CanonicalEvent event;
  event.event_id = "e-1";
  event.source = Side::prm;
  event.object = ObjectKind::account;
  event.op = CanonicalEvent::Operation::remove;
  event.prm_id = "17";
  event.actor = {Actor::Kind::internal_user, "alice", ""};

  auto parsed = parse_event(to_json(event));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  expect_same_event(parsed.value(), event);
}

TEST(EventJson, RoundTripOfEachSourceAndActorKind) {
  const std::pair<Side, Actor::Kind> cases[] = {{Side::prm, Actor::Kind::integration},
                                                {Side::salesforce, Actor::Kind::internal_user},
                                                {Side::dynamics, Actor::Kind::partner_user}};
  for (const auto& [side, kind] : cases) {
    CanonicalEvent event = full_event();
    event.source = side;
    event.actor.kind = kind;
    event.snapshot = false;
    auto parsed = parse_event(to_json(event));
    ASSERT_TRUE(parsed.ok()) << to_string(side) << ": " << parsed.error().message;
    expect_same_event(parsed.value(), event);
  }
}

TEST(EventJson, AnOperatorsConflictDecisionRoundTripsAndNeedsAnOperator) {
  CanonicalEvent event = full_event();
  event.actor = {Actor::Kind::operator_user, "alice", ""};
  event.resolves_conflict = 42;
  auto parsed = parse_event(to_json(event));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value().actor.kind, Actor::Kind::operator_user);
  EXPECT_EQ(parsed.value().actor.id, "alice");
  EXPECT_EQ(parsed.value().resolves_conflict, std::optional<std::int64_t>(42));

  event.actor.kind = Actor::Kind::internal_user;  // only an operator decides conflicts
  auto refused = parse_event(to_json(event));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("resolves_conflict"));
  std::string text = to_json(full_event());
  text.insert(text.size() - 1, R"(,"resolves_conflict":"12")");
  EXPECT_FALSE(parse_event(text).ok()) << "a conflict id is a positive integer";
}

TEST(EventJson, AReconcileRepairRoundTrips) {
  CanonicalEvent event = full_event();
  event.actor = {Actor::Kind::operator_user, "alice", ""};
  event.repairs_drift = {"field_differs:salesforce:amount", "missing_on:dynamics"};
  auto parsed = parse_event(to_json(event));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value().repairs_drift, event.repairs_drift);
  EXPECT_TRUE(parse_event(to_json(full_event())).value().repairs_drift.empty());

  event.actor = {Actor::Kind::partner_user, "user-1", "org-1"};  // a PRM repair keeps the row's actor
  auto partner = parse_event(to_json(event));
  ASSERT_TRUE(partner.ok()) << partner.error().message;
  EXPECT_EQ(partner.value().repairs_drift, event.repairs_drift);
  std::string text = to_json(full_event());
  text.insert(text.size() - 1, R"(,"repairs_drift":[])");
  EXPECT_FALSE(parse_event(text).ok()) << "an empty list repairs nothing";
}

TEST(EventJson, ReadsAnEventWithoutOptionalMembers) {
  auto parsed = parse_event(
      R"({"event_id":"e-2","source":"dynamics","object":"deal","op":"upsert",)"
      R"("ids":{"dynamics":"guid-1"}})");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const CanonicalEvent& event = parsed.value();
  EXPECT_EQ(event.schema, 1);
  EXPECT_EQ(event.dynamics_id, "guid-1");
  EXPECT_EQ(event.prm_id, std::nullopt);
  EXPECT_EQ(event.salesforce_id, std::nullopt);
  EXPECT_TRUE(event.fields.empty());
  EXPECT_TRUE(event.sharing.grants.empty());
  EXPECT_EQ(event.actor.kind, Actor::Kind::integration);
  EXPECT_FALSE(event.snapshot);
}

// ---- malformed events -------------------------------------------------------------------------

struct MalformedCase {
  const char* name;
  std::string json;
  const char* member;  // what the message must name
};

// An event made of `head` (the members before "fields"), a `fields` object holding a
// secret-looking value, and `tail` (members after it, each starting with a comma).
std::string event_with(const std::string& head, const std::string& tail = "") {
  return "{" + head + R"("fields":{"notes":")" + kSecret + R"(","amount":120000.10})" + tail +
         "}";
}

const std::string kValidHead =
    R"("schema":1,"event_id":"e-3","source":"prm","object":"deal","op":"upsert",)"
    R"("ids":{"prm":"p-1","salesforce":null,"dynamics":null},)";

TEST(EventJson, TheValidBaseOfTheMalformedCasesParses) {
  auto parsed = parse_event(event_with(kValidHead));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  ASSERT_EQ(parsed.value().fields.size(), 2u);
  EXPECT_EQ(parsed.value().fields[0].value, FieldValue::string_value(kSecret));
  EXPECT_EQ(parsed.value().fields[1].value, FieldValue::number_value("120000.10"));
}

TEST(EventJson, MalformedEventsAreInvalidNamingTheMemberWithoutFieldValues) {
  const std::string secret = kSecret;
  const MalformedCase cases[] = {
      {"not JSON", R"({"event_id":"e-3","fields":{"notes":")" + secret + "\"", "not JSON"},
      {"trailing garbage", event_with(kValidHead) + secret, "not JSON"},
      {"not an object", R"(["e-3",")" + secret + "\"]", "not a JSON object"},
      {"a string", "\"" + secret + "\"", "not a JSON object"},
      {"wrong schema", event_with(R"("schema":2,"event_id":"e-3","source":"prm","object":"deal",)"
                                  R"("op":"upsert","ids":{"prm":"p-1"},)"),
       "schema"},
      {"schema not a number",
       event_with(R"("schema":"1","event_id":"e-3","source":"prm","object":"deal",)"
                  R"("op":"upsert","ids":{"prm":"p-1"},)"),
       "schema"},
      {"missing event_id",
       event_with(R"("source":"prm","object":"deal","op":"upsert","ids":{"prm":"p-1"},)"),
       "event_id"},
      {"empty event_id",
       event_with(R"("event_id":"","source":"prm","object":"deal","op":"upsert",)"
                  R"("ids":{"prm":"p-1"},)"),
       "event_id"},
      {"event_id not a string",
       event_with(R"("event_id":7,"source":"prm","object":"deal","op":"upsert",)"
                  R"("ids":{"prm":"p-1"},)"),
       "event_id"},
      {"bad source",
       event_with(R"("event_id":"e-3","source":"sap","object":"deal","op":"upsert",)"
                  R"("ids":{"prm":"p-1"},)"),
       "source"},
      {"missing source",
       event_with(R"("event_id":"e-3","object":"deal","op":"upsert","ids":{"prm":"p-1"},)"),
       "source"},
      {"bad object",
       event_with(R"("event_id":"e-3","source":"prm","object":"lead","op":"upsert",)"
                  R"("ids":{"prm":"p-1"},)"),
       "object"},
      {"bad op",
       event_with(R"("event_id":"e-3","source":"prm","object":"deal","op":"merge",)"
                  R"("ids":{"prm":"p-1"},)"),
       "op"},
      {"missing own id (prm)",
       event_with(R"("event_id":"e-3","source":"prm","object":"deal","op":"upsert",)"
                  R"("ids":{"salesforce":"006x"},)"),
       "ids.prm"},
      {"missing own id (salesforce)",
       event_with(R"("event_id":"e-3","source":"salesforce","object":"deal","op":"upsert",)"
                  R"("ids":{"prm":"p-1","salesforce":null},)"),
       "ids.salesforce"},
      {"empty own id (dynamics)",
       event_with(R"("event_id":"e-3","source":"dynamics","object":"deal","op":"upsert",)"
                  R"("ids":{"dynamics":""},)"),
       "ids.dynamics"},
      {"no ids at all",
       event_with(R"("event_id":"e-3","source":"prm","object":"deal","op":"upsert",)"),
       "ids.prm"},
      {"ids not an object",
       event_with(R"("event_id":"e-3","source":"prm","object":"deal","op":"upsert",)"
                  R"("ids":["p-1"],)"),
       "ids"},
      {"id not a string",
       event_with(R"("event_id":"e-3","source":"prm","object":"deal","op":"upsert",)"
                  R"("ids":{"prm":17},)"),
       "ids.prm"},
      {"fields not an object", "{" + kValidHead + R"("fields":[")" + secret + "\"]}", "fields"},
      {"field value an object",
       "{" + kValidHead + R"("fields":{"notes":{"text":")" + secret + "\"}}}", "fields.notes"},
      {"field value an array",
       "{" + kValidHead + R"("fields":{"notes":[")" + secret + "\"]}}", "fields.notes"},
      {"actor not an object", event_with(kValidHead, R"(,"actor":")" + secret + "\""), "actor"},
      {"bad actor kind", event_with(kValidHead, R"(,"actor":{"kind":"robot","id":"x"})"),
       "actor.kind"},
      {"changed not an array", event_with(kValidHead, R"(,"changed":"notes")"), "changed"},
      {"sharing not an object", event_with(kValidHead, R"(,"sharing":[])"), "sharing"},
      {"bad grant access",
       event_with(kValidHead,
                  R"(,"sharing":{"grants":[{"principal":"partner_org:o-1","access":"admin"}]})"),
       "sharing.grants[].access"},
      {"grant without access",
       event_with(kValidHead, R"(,"sharing":{"grants":[{"principal":"partner_org:o-1"}]})"),
       "sharing.grants[].access"},
      {"grant without principal",
       event_with(kValidHead, R"(,"sharing":{"grants":[{"access":"read"}]})"),
       "sharing.grants[].principal"},
      {"grants not an array", event_with(kValidHead, R"(,"sharing":{"grants":{}})"),
       "sharing.grants"},
      {"owner not an object", event_with(kValidHead, R"(,"sharing":{"owner":"o-1"})"),
       "sharing.owner"},
  };
  for (const MalformedCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto parsed = parse_event(c.json);
    ASSERT_FALSE(parsed.ok()) << c.json;
    EXPECT_EQ(parsed.error().error_class, ErrorClass::invalid);
    EXPECT_THAT(parsed.error().message, HasSubstr(c.member));
    EXPECT_THAT(parsed.error().message, HasSubstr("canonical event"));
    EXPECT_THAT(parsed.error().message, Not(HasSubstr(kSecret)));
    EXPECT_THAT(parsed.error().message, Not(HasSubstr("hunter2")));
  }
}

// ---- stored field maps ------------------------------------------------------------------------

TEST(FieldsJson, RoundTripKeepsExactNumbersAndEveryKind) {
  const std::map<std::string, FieldValue> fields{
      {"amount", FieldValue::number_value("120000.10")},
      {"quantity", FieldValue::number_value("1e3")},
      {"negative", FieldValue::number_value("-0.005")},
      {"huge", FieldValue::number_value("123456789012345678901234567890.12")},
      {"nothing", FieldValue::null_value()},
      {"yes", FieldValue::boolean_value(true)},
      {"no", FieldValue::boolean_value(false)},
      {"text", FieldValue::string_value("line\n\"quoted\" \\ Ünïcode")},
      {"number as text", FieldValue::string_value("42")},
      {"", FieldValue::string_value("empty name")},
  };
  std::string json = fields_to_json(fields);
  EXPECT_THAT(json, HasSubstr("\"amount\":120000.10"));
  EXPECT_THAT(json, HasSubstr("\"quantity\":1e3"));

  auto parsed = parse_fields_json(json);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value(), fields);
  EXPECT_EQ(fields_to_json(parsed.value()), json);
}

TEST(FieldsJson, EmptyMapRoundTrips) {
  EXPECT_EQ(fields_to_json({}), "{}");
  auto parsed = parse_fields_json("{}");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_TRUE(parsed.value().empty());
}

TEST(FieldsJson, DamagedStoredValuesAreAnErrorWithoutTheValues) {
  const std::string secret = kSecret;
  for (const std::string& json : {R"({"notes":")" + secret, "[\"" + secret + "\"]",
                                  R"({"notes":{"inner":")" + secret + "\"}}"}) {
    SCOPED_TRACE(json);
    auto parsed = parse_fields_json(json);
    ASSERT_FALSE(parsed.ok());
    EXPECT_THAT(parsed.error().message, Not(HasSubstr(kSecret)));
  }
}

}  // namespace
}  // namespace crmsync::mapping
