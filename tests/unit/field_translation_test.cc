#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>

#include "mapping/field_values.h"
#include "mapping/mapping_definition.h"

namespace crmsync::mapping {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

FieldValue text(std::string value) {
  return FieldValue::string_value(std::move(value));
}
FieldValue number(std::string value) {
  return FieldValue::number_value(std::move(value));
}
const FieldValue kNull = FieldValue::null_value();

std::vector<std::string> names_of(const std::vector<Field>& fields) {
  std::vector<std::string> names;
  for (const Field& field : fields) names.push_back(field.name);
  return names;
}

const FieldValue& value_of(const std::vector<Field>& fields, const std::string& name) {
  for (const Field& field : fields) {
    if (field.name == name) return field.value;
  }
  ADD_FAILURE() << "no field " << name;
  return kNull;
}

// ---- value normalisation ---------------------------------------------------------------------

TEST(NormaliseDecimal, RoundsHalfAwayFromZeroInPlainNotation) {
  EXPECT_EQ(normalise_decimal("120000", 2), "120000.00");
  EXPECT_EQ(normalise_decimal("120000.5", 2), "120000.50");
  EXPECT_EQ(normalise_decimal("1.005", 2), "1.01");
  EXPECT_EQ(normalise_decimal("-1.005", 2), "-1.01");
  EXPECT_EQ(normalise_decimal("1.004999", 2), "1.00");
  EXPECT_EQ(normalise_decimal("0.125", 2), "0.13");
  EXPECT_EQ(normalise_decimal("9.995", 2), "10.00");
  EXPECT_EQ(normalise_decimal("-9.995", 2), "-10.00");
  EXPECT_EQ(normalise_decimal("0.5", 0), "1");
  EXPECT_EQ(normalise_decimal("-0.5", 0), "-1");
  EXPECT_EQ(normalise_decimal("0.49", 0), "0");
  EXPECT_EQ(normalise_decimal("0.005", 2), "0.01");
  EXPECT_EQ(normalise_decimal("0.0049", 2), "0.00");
  EXPECT_EQ(normalise_decimal("007.10", 2), "7.10");
  EXPECT_EQ(normalise_decimal("+.5", 1), "0.5");
  EXPECT_EQ(normalise_decimal("5.", 1), "5.0");
  EXPECT_EQ(normalise_decimal("1234.5678", 10), "1234.5678000000");
}

TEST(NormaliseDecimal, ReadsExponents) {
  EXPECT_EQ(normalise_decimal("1.5e3", 2), "1500.00");
  EXPECT_EQ(normalise_decimal("1.5E+3", 0), "1500");
  EXPECT_EQ(normalise_decimal("2E-2", 2), "0.02");
  EXPECT_EQ(normalise_decimal("1.2345678901234567e-7", 10), "0.0000001235");
  EXPECT_EQ(normalise_decimal("1e+20", 2), "100000000000000000000.00");
  EXPECT_EQ(normalise_decimal("5e-3", 2), "0.01");
  EXPECT_EQ(normalise_decimal("4e-300", 2), "0.00");
}

TEST(NormaliseDecimal, NeverNegativeZero) {
  EXPECT_EQ(normalise_decimal("-0", 2), "0.00");
  EXPECT_EQ(normalise_decimal("-0.001", 2), "0.00");
  EXPECT_EQ(normalise_decimal("-0e5", 0), "0");
  EXPECT_EQ(normalise_decimal("-0.4", 0), "0");
}

TEST(NormaliseDecimal, RejectsWhatIsNotAFiniteDecimal) {
  for (const char* bad : {"", "-", "+", ".", "e5", "1e", "1e+", "1,5", " 1", "1 ", "NaN", "nan",
                          "Infinity", "-Infinity", "0x10", "1.2.3", "12abc", "1e99999999"}) {
    EXPECT_EQ(normalise_decimal(bad, 2), std::nullopt) << bad;
  }
  EXPECT_EQ(normalise_decimal("1e5000", 2), std::nullopt);  // more than 1000 digits
  EXPECT_EQ(normalise_decimal("1", 11), std::nullopt);
  EXPECT_EQ(normalise_decimal("1", -1), std::nullopt);
}

TEST(NormaliseInteger, AcceptsOnlyWholeNumbers) {
  EXPECT_EQ(normalise_integer("42"), "42");
  EXPECT_EQ(normalise_integer("42.000"), "42");
  EXPECT_EQ(normalise_integer("1.5e3"), "1500");
  EXPECT_EQ(normalise_integer("-0"), "0");
  EXPECT_EQ(normalise_integer("-007"), "-7");
  EXPECT_EQ(normalise_integer("1.5"), std::nullopt);
  EXPECT_EQ(normalise_integer("1.0000000000001"), std::nullopt);
  EXPECT_EQ(normalise_integer("1e-1"), std::nullopt);
  EXPECT_EQ(normalise_integer("abc"), std::nullopt);
}

TEST(NormaliseDate, TakesTheDateOfADateOrDateTime) {
  EXPECT_EQ(normalise_date("2026-11-27"), "2026-11-27");
  EXPECT_EQ(normalise_date("2026-11-27T22:10:11.123Z"), "2026-11-27");
  EXPECT_EQ(normalise_date("2026-11-27T23:30:00+01:00"), "2026-11-27");
  EXPECT_EQ(normalise_date("2026-11-27T00:00:00-0500"), "2026-11-27");
  EXPECT_EQ(normalise_date("2026-11-27 22:10:11"), "2026-11-27");  // PRM timestamp
  EXPECT_EQ(normalise_date("2026-11-27T22:10:11.123+00"), "2026-11-27");
  EXPECT_EQ(normalise_date("2024-02-29"), "2024-02-29");
  EXPECT_EQ(normalise_date("2000-02-29"), "2000-02-29");
}

TEST(NormaliseDate, RejectsImpossibleOrMalformedDates) {
  for (const char* bad :
       {"", "2026-11", "2026/11/27", "27.11.2026", "2026-13-01", "2026-00-10", "2026-02-30",
        "2023-02-29", "1900-02-29", "2026-11-27X", "2026-11-27T", "2026-11-27T25:00:00Z",
        "2026-11-27T10:00:00+2", "2026-11-27T10:00:00.Z", "20261127"}) {
    EXPECT_EQ(normalise_date(bad), std::nullopt) << bad;
  }
}

TEST(ParseBooleanText, ReadsPostgresAndJsonSpellings) {
  EXPECT_EQ(parse_boolean_text("true"), true);
  EXPECT_EQ(parse_boolean_text("t"), true);
  EXPECT_EQ(parse_boolean_text("TRUE"), true);
  EXPECT_EQ(parse_boolean_text("false"), false);
  EXPECT_EQ(parse_boolean_text("f"), false);
  EXPECT_EQ(parse_boolean_text("yes"), std::nullopt);
  EXPECT_EQ(parse_boolean_text("1"), std::nullopt);
}

// ---- to_canonical ----------------------------------------------------------------------------

class FieldTranslation : public ::testing::Test {
 protected:
  MappingDefinition mapping_ = default_mapping();
};

TEST_F(FieldTranslation, PrmDealAsTheCaptureProducesIt) {
  // prm_event_builder: numeric columns as numbers, date and uuid columns as text.
  std::vector<Field> native = {
      {"id", text("9b1c1a52-5f0e-4c8e-9a55-6a3f4b0f0001")},
      {"account_id", text("9b1c1a52-5f0e-4c8e-9a55-6a3f4b0f0002")},
      {"name", text("Big deal")},
      {"amount", number("120000")},
      {"currency", text("EUR")},
      {"stage", text("Closed Won")},
      {"close_date", text("2026-11-27")},
      {"registration_status", text("submitted")},
      {"discount_percent", kNull},
      {"description", kNull},
      {"owner_partner_org_id", text("org")},
      {"row_version", number("3")},
  };
  CanonicalTranslation canonical = to_canonical(mapping_.deal, Side::prm, native);
  EXPECT_THAT(canonical.problems, IsEmpty());
  EXPECT_THAT(canonical.ignored, ElementsAre("id", "owner_partner_org_id", "row_version"));
  EXPECT_EQ(canonical.fields.at("account"), text("9b1c1a52-5f0e-4c8e-9a55-6a3f4b0f0002"));
  EXPECT_EQ(canonical.fields.at("name"), text("Big deal"));
  EXPECT_EQ(canonical.fields.at("amount"), number("120000.00"));
  EXPECT_EQ(canonical.fields.at("currency"), text("EUR"));
  EXPECT_EQ(canonical.fields.at("stage"), text("closed_won"));
  EXPECT_EQ(canonical.fields.at("close_date"), text("2026-11-27"));
  EXPECT_EQ(canonical.fields.at("registration_status"), text("submitted"));
  EXPECT_EQ(canonical.fields.at("discount_percent"), kNull);
  EXPECT_EQ(canonical.fields.at("description"), kNull);
  EXPECT_THAT(canonical.fields, SizeIs(9));
}

TEST_F(FieldTranslation, SalesforceOpportunityAsTheCaptureProducesIt) {
  // salesforce_capture: JSON numbers keep their text (may carry an exponent).
  std::vector<Field> native = {
      {"Id", text("006000000000001AAA")},
      {"Name", text("Big deal")},
      {"AccountId", text("001000000000001AAA")},
      {"Amount", number("1.5e5")},
      {"StageName", text("Proposal/Price Quote")},
      {"CloseDate", text("2026-11-27")},
      {"description", text("notes")},  // case as the caller wrote it in SOQL
      {"SystemModstamp", text("2026-11-27T10:00:00.000+0000")},
  };
  CanonicalTranslation canonical = to_canonical(mapping_.deal, Side::salesforce, native);
  EXPECT_THAT(canonical.problems, IsEmpty());
  EXPECT_THAT(canonical.ignored, ElementsAre("Id", "SystemModstamp"));
  EXPECT_EQ(canonical.fields.at("amount"), number("150000.00"));
  EXPECT_EQ(canonical.fields.at("stage"), text("proposal"));
  EXPECT_EQ(canonical.fields.at("account"), text("001000000000001AAA"));
  EXPECT_EQ(canonical.fields.at("description"), text("notes"));
  EXPECT_EQ(canonical.fields.count("currency"), 0u);
}

TEST_F(FieldTranslation, DataverseOpportunityAsTheCaptureProducesIt) {
  // dataverse_capture: lookups read as _<name>_value, decimals as shortest double text.
  std::vector<Field> native = {
      {"name", text("Big deal")},
      {"_parentaccountid_value", text("0b7e9d8c-0000-4000-8000-000000000001")},
      {"estimatedvalue", number("120000.5")},
      {"stepname", text("Negotiation/Review")},
      {"estimatedclosedate", text("2026-11-27T00:00:00Z")},
      {"_ownerid_value", text("0b7e9d8c-0000-4000-8000-0000000000ff")},
      {"versionnumber", number("1234")},
  };
  CanonicalTranslation canonical = to_canonical(mapping_.deal, Side::dynamics, native);
  EXPECT_THAT(canonical.problems, IsEmpty());
  EXPECT_THAT(canonical.ignored, ElementsAre("_ownerid_value", "versionnumber"));
  EXPECT_EQ(canonical.fields.at("account"), text("0b7e9d8c-0000-4000-8000-000000000001"));
  EXPECT_EQ(canonical.fields.at("amount"), number("120000.50"));
  EXPECT_EQ(canonical.fields.at("stage"), text("negotiation"));
  EXPECT_EQ(canonical.fields.at("close_date"), text("2026-11-27"));
}

TEST_F(FieldTranslation, BadValuesAreProblemsThatNameTheFieldNotTheValue) {
  std::vector<Field> native = {
      {"Amount", text("a lot of money")},
      {"StageName", text("Secret Partner Stage")},
      {"CloseDate", text("next tuesday")},
      {"Name", FieldValue::boolean_value(true)},
      {"AccountId", FieldValue::boolean_value(false)},
  };
  CanonicalTranslation canonical = to_canonical(mapping_.deal, Side::salesforce, native);
  EXPECT_THAT(canonical.fields, IsEmpty());
  ASSERT_THAT(canonical.problems, SizeIs(5));
  EXPECT_EQ(canonical.problems[0],
            "deal.amount (salesforce Amount): expected a decimal number, got text that is not a "
            "finite decimal number");
  EXPECT_EQ(canonical.problems[1],
            "deal.stage (salesforce StageName): the salesforce value is not listed in "
            "deal.fields.stage.values; add it there (a value is never guessed)");
  EXPECT_THAT(canonical.problems[2], HasSubstr("deal.close_date (salesforce CloseDate): expected "
                                               "a date"));
  EXPECT_EQ(canonical.problems[3], "deal.name (salesforce Name): expected text, got a boolean");
  EXPECT_EQ(canonical.problems[4],
            "deal.account (salesforce AccountId): expected a record id, got a boolean");
  for (const std::string& problem : canonical.problems) {
    for (const char* secret : {"a lot of money", "Secret Partner Stage", "next tuesday"}) {
      EXPECT_THAT(problem, Not(HasSubstr(secret)));
    }
  }
}

TEST_F(FieldTranslation, NonFiniteNumbersAndFractionsAreProblems) {
  MappingLoad load = parse_mapping(R"(schema = 1
[account.fields.name]
type = "string"
prm = "name"
salesforce = "Name"
[deal.fields.seats]
type = "integer"
prm = "seats"
[deal.fields.rate]
type = "decimal"
scale = 4
prm = "rate"
[deal.fields.active]
type = "boolean"
prm = "active"
)",
                                   "t.toml");
  ASSERT_TRUE(load.mapping);
  const ObjectMapping& deal = load.mapping->deal;
  CanonicalTranslation good = to_canonical(
      deal, Side::prm,
      {{"seats", number("1.2e1")}, {"rate", number("0.00005")}, {"active", text("t")}});
  EXPECT_THAT(good.problems, IsEmpty());
  EXPECT_EQ(good.fields.at("seats"), number("12"));
  EXPECT_EQ(good.fields.at("rate"), number("0.0001"));
  EXPECT_EQ(good.fields.at("active"), FieldValue::boolean_value(true));

  CanonicalTranslation bad =
      to_canonical(deal, Side::prm,
                   {{"seats", number("2.5")}, {"rate", number("NaN")}, {"active", number("1")}});
  EXPECT_THAT(bad.problems,
              ElementsAre("deal.seats (prm seats): expected a whole number, got a number that is "
                          "not a whole number",
                          "deal.rate (prm rate): expected a decimal number, got a number that is "
                          "not a finite decimal number",
                          "deal.active (prm active): expected true or false, got a number"));
}

// ---- to_side ---------------------------------------------------------------------------------

CanonicalFields canonical_deal() {
  return {
      {"name", text("Big deal")},         {"account", text("ACCOUNT-ID")},
      {"amount", number("120000.00")},    {"stage", text("closed_won")},
      {"close_date", text("2026-11-27")}, {"description", kNull},
      {"currency", text("EUR")},
  };
}

TEST_F(FieldTranslation, ToSalesforceWritesOnlyBoundFieldsInMappingOrder) {
  std::vector<Field> fields = to_side(mapping_.deal, Side::salesforce, canonical_deal());
  EXPECT_THAT(names_of(fields),
              ElementsAre("Name", "AccountId", "Amount", "StageName", "CloseDate", "Description"));
  EXPECT_EQ(value_of(fields, "AccountId"), text("ACCOUNT-ID"));
  EXPECT_EQ(value_of(fields, "Amount"), number("120000.00"));
  EXPECT_EQ(value_of(fields, "StageName"), text("Closed Won"));
  EXPECT_EQ(value_of(fields, "CloseDate"), text("2026-11-27"));
  EXPECT_EQ(value_of(fields, "Description"), kNull);
}

TEST_F(FieldTranslation, ToDataverseBindsLookupsToTheirEntitySet) {
  std::vector<Field> fields = to_side(mapping_.deal, Side::dynamics, canonical_deal());
  EXPECT_THAT(names_of(fields), ElementsAre("name", "parentaccountid@odata.bind", "estimatedvalue",
                                            "stepname", "estimatedclosedate", "description"));
  EXPECT_EQ(value_of(fields, "parentaccountid@odata.bind"), text("/accounts(ACCOUNT-ID)"));
  EXPECT_EQ(value_of(fields, "stepname"), text("Closed Won"));

  CanonicalFields unlink = {{"account", kNull}};
  std::vector<Field> cleared = to_side(mapping_.deal, Side::dynamics, unlink);
  ASSERT_THAT(cleared, SizeIs(1));
  EXPECT_EQ(cleared[0].name, "parentaccountid@odata.bind");
  EXPECT_EQ(cleared[0].value, kNull);
}

TEST_F(FieldTranslation, ToPrmWritesPlainIdsAndPrmOnlyFields) {
  std::vector<Field> fields = to_side(mapping_.deal, Side::prm, canonical_deal());
  EXPECT_THAT(names_of(fields), ElementsAre("name", "account_id", "amount", "stage", "close_date",
                                            "description", "currency"));
  EXPECT_EQ(value_of(fields, "account_id"), text("ACCOUNT-ID"));
  EXPECT_EQ(value_of(fields, "stage"), text("Closed Won"));
  EXPECT_EQ(value_of(fields, "currency"), text("EUR"));
}

TEST_F(FieldTranslation, ToSideNormalisesDecimalsToTheFieldScale) {
  std::vector<Field> fields =
      to_side(mapping_.deal, Side::salesforce, {{"amount", number("99.999")}});
  ASSERT_THAT(fields, SizeIs(1));
  EXPECT_EQ(fields[0].value, number("100.00"));
}

TEST_F(FieldTranslation, ToSideRefusesValuesThatDidNotComeFromToCanonical) {
  CanonicalFields values = {{"stage", text("won_somehow")}, {"amount", text("lots")}};
  SideTranslation checked = to_side_checked(mapping_.deal, Side::salesforce, values);
  EXPECT_THAT(checked.fields, IsEmpty());
  EXPECT_THAT(checked.problems,
              ElementsAre("deal.amount (salesforce Amount): expected a decimal number, got text "
                          "that is not a finite decimal number",
                          "deal.stage (salesforce StageName): the canonical value is not listed in "
                          "deal.fields.stage.values; add it there"));
  EXPECT_THROW(to_side(mapping_.deal, Side::salesforce, values), std::invalid_argument);
}

TEST_F(FieldTranslation, RoundTripsThroughCanonicalOnEverySide) {
  std::vector<std::pair<Side, std::vector<Field>>> cases = {
      {Side::prm,
       {{"name", text("Deal")},
        {"account_id", text("p-1")},
        {"amount", number("10.50")},
        {"stage", text("Negotiation/Review")},
        {"close_date", text("2026-01-31")},
        {"description", text("d")},
        {"currency", text("USD")},
        {"registration_status", text("draft")},
        {"discount_percent", number("5.00")}}},
      {Side::salesforce,
       {{"Name", text("Deal")},
        {"AccountId", text("001x")},
        {"Amount", number("10.50")},
        {"StageName", text("Closed Lost")},
        {"CloseDate", text("2026-01-31")},
        {"Description", kNull}}},
  };
  for (const auto& [side, native] : cases) {
    CanonicalTranslation canonical = to_canonical(mapping_.deal, side, native);
    ASSERT_THAT(canonical.problems, IsEmpty()) << to_string(side);
    std::vector<Field> back = to_side(mapping_.deal, side, canonical.fields);
    ASSERT_EQ(back.size(), native.size()) << to_string(side);
    for (std::size_t i = 0; i < native.size(); ++i) {
      EXPECT_EQ(back[i].name, native[i].name) << to_string(side);
      EXPECT_EQ(back[i].value, native[i].value) << native[i].name;
    }
  }
  // Dataverse reads a lookup as _<name>_value and writes it as <name>@odata.bind.
  CanonicalTranslation canonical = to_canonical(
      mapping_.deal, Side::dynamics,
      {{"_parentaccountid_value", text("guid-1")}, {"stepname", text("Qualification")}});
  std::vector<Field> back = to_side(mapping_.deal, Side::dynamics, canonical.fields);
  EXPECT_THAT(names_of(back), ElementsAre("parentaccountid@odata.bind", "stepname"));
  EXPECT_EQ(back[0].value, text("/accounts(guid-1)"));
  EXPECT_EQ(back[1].value, text("Qualification"));
  // And across sides: a Salesforce stage arrives in the PRM's and Dataverse's spelling.
  CanonicalTranslation from_salesforce =
      to_canonical(mapping_.account, Side::salesforce,
                   {{"Name", text("Acme")}, {"BillingCountry", text("DE")}, {"Website", kNull}});
  EXPECT_THAT(names_of(to_side(mapping_.account, Side::dynamics, from_salesforce.fields)),
              UnorderedElementsAre("name", "websiteurl", "address1_country"));
}

TEST_F(FieldTranslation, OptionSetValuesTravelAsNumbersAndDealReferencesBindToOpportunities) {
  MappingLoad load = parse_mapping(R"(schema = 1
[account.fields.name]
type = "string"
prm = "name"
dynamics = "name"
[deal.fields.status]
type = "enum"
prm = "status"
dynamics = "statuscode"
values = { open = { prm = "open", dynamics = 1 }, won = { prm = "won", dynamics = 3 } }
[deal.fields.parent]
type = "reference"
references = "deal"
prm = "parent_id"
dynamics = "parentopportunityid"
)",
                                   "t.toml");
  ASSERT_TRUE(load.mapping) << (load.problems.empty() ? "" : to_string(load.problems[0]));
  const ObjectMapping& deal = load.mapping->deal;
  CanonicalTranslation canonical =
      to_canonical(deal, Side::dynamics,
                   {{"statuscode", number("3")}, {"_parentopportunityid_value", text("g")}});
  EXPECT_THAT(canonical.problems, IsEmpty());
  EXPECT_EQ(canonical.fields.at("status"), text("won"));
  std::vector<Field> written = to_side(deal, Side::dynamics, canonical.fields);
  EXPECT_EQ(value_of(written, "statuscode"), number("3"));
  EXPECT_EQ(value_of(written, "parentopportunityid@odata.bind"), text("/opportunities(g)"));
  EXPECT_EQ(value_of(to_side(deal, Side::prm, canonical.fields), "status"), text("won"));
}

}  // namespace
}  // namespace crmsync::mapping
