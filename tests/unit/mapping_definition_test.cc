#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "mapping/mapping_definition.h"

namespace crmsync::mapping {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string read_source_file(const std::string& relative) {
  std::ifstream in(std::string(CRMSYNC_SOURCE_DIR) + "/" + relative, std::ios::binary);
  EXPECT_TRUE(in) << relative;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string all_problems(const MappingLoad& load) {
  std::string text;
  for (const MappingProblem& problem : load.problems) text += to_string(problem) + "\n";
  return text;
}

// The problem with this key, failing the test when there is none.
MappingProblem problem_at(const MappingLoad& load, const std::string& key) {
  for (const MappingProblem& problem : load.problems) {
    if (problem.key == key) return problem;
  }
  ADD_FAILURE() << "no problem at " << key << "; problems:\n" << all_problems(load);
  return {};
}

std::vector<std::string> field_names(const ObjectMapping& object) {
  std::vector<std::string> names;
  for (const FieldMapping& field : object.fields) names.push_back(field.name);
  return names;
}

// A valid mapping the error tests change one thing in (lines numbered from 1).
constexpr std::string_view kValidHead = R"(schema = 1
[account.fields.name]
type = "string"
prm = "name"
salesforce = "Name"
dynamics = "name"
)";

MappingLoad parse_with_deal(std::string_view deal_part) {
  return parse_mapping(std::string(kValidHead) + std::string(deal_part), "test.toml");
}

TEST(DefaultMapping, ParsesAndKeepsFileOrder) {
  MappingDefinition mapping = default_mapping();
  EXPECT_THAT(field_names(mapping.account),
              ElementsAre("name", "website", "industry", "annual_revenue", "billing_country"));
  EXPECT_THAT(field_names(mapping.deal),
              ElementsAre("name", "account", "amount", "stage", "close_date", "description",
                          "currency", "registration_status", "discount_percent"));
  EXPECT_EQ(&mapping.of(ObjectKind::deal), &mapping.deal);
  EXPECT_EQ(&mapping.of(ObjectKind::account), &mapping.account);
}

TEST(DefaultMapping, EmbedsExactlyTheShippedFile) {
  EXPECT_EQ(default_mapping_toml(), read_source_file("deploy/examples/mapping.toml"));
}

TEST(DefaultMapping, CoversEveryConflictPolicyAndTheDealShape) {
  MappingDefinition mapping = default_mapping();
  std::set<ConflictPolicy> policies;
  for (const auto* object : {&mapping.account, &mapping.deal}) {
    for (const FieldMapping& field : object->fields) policies.insert(field.policy);
  }
  EXPECT_EQ(policies.size(), 4u);

  const FieldMapping* amount = mapping.deal.field("amount");
  ASSERT_NE(amount, nullptr);
  EXPECT_EQ(amount->type, FieldType::decimal);
  EXPECT_EQ(amount->scale, 2);
  EXPECT_EQ(amount->dynamics->name, "estimatedvalue");

  const FieldMapping* stage = mapping.deal.field("stage");
  ASSERT_NE(stage, nullptr);
  EXPECT_EQ(stage->type, FieldType::enumeration);
  EXPECT_EQ(stage->policy, ConflictPolicy::crm_wins);
  for (Side side : {Side::prm, Side::salesforce, Side::dynamics}) {
    ASSERT_TRUE(stage->on(side)) << to_string(side);
    EXPECT_EQ(stage->on(side)->enum_values.size(), 6u);
    EXPECT_EQ(stage->on(side)->enum_values.at("closed_won"), "Closed Won");
    EXPECT_EQ(stage->on(side)->enum_values.at("proposal"), "Proposal/Price Quote");
  }

  const FieldMapping* account = mapping.deal.field("account");
  ASSERT_NE(account, nullptr);
  EXPECT_EQ(account->type, FieldType::reference);
  EXPECT_EQ(account->references, ObjectKind::account);
  EXPECT_EQ(mapping.deal.field("discount_percent")->policy, ConflictPolicy::prm_wins);
  EXPECT_EQ(mapping.deal.field("description")->policy, ConflictPolicy::manual);
  EXPECT_TRUE(mapping.account.field("name")->match_key);
  EXPECT_EQ(mapping.deal.field("currency")->salesforce, std::nullopt);
}

// The PRM columns of `table` in deploy/prm/schema.sql.
std::set<std::string> prm_columns(const std::string& table) {
  std::string schema = read_source_file("deploy/prm/schema.sql");
  std::size_t start = schema.find("CREATE TABLE prm." + table + " (");
  EXPECT_NE(start, std::string::npos) << table;
  std::size_t end = schema.find("\n);", start);
  std::istringstream body(schema.substr(start, end - start));
  std::set<std::string> columns;
  std::string line;
  std::getline(body, line);  // CREATE TABLE
  std::regex column(R"(^  ([a-z_]+) )");
  while (std::getline(body, line)) {
    std::smatch match;
    if (std::regex_search(line, match, column)) columns.insert(match[1]);
  }
  return columns;
}

TEST(DefaultMapping, BindsOnlyNamesTheReferenceSchemasHave) {
  MappingDefinition mapping = default_mapping();
  std::string salesforce = read_source_file("tests/emulators/salesforce_schema.cc");
  std::string dataverse = read_source_file("tests/emulators/dataverse_schema.cc");
  for (const auto& [object, table] :
       {std::pair{&mapping.account, "accounts"}, std::pair{&mapping.deal, "deals"}}) {
    std::set<std::string> columns = prm_columns(table);
    EXPECT_TRUE(columns.contains("name")) << table;
    for (const FieldMapping& field : object->fields) {
      if (field.prm) {
        EXPECT_TRUE(columns.contains(field.prm->name)) << field.name;
      }
      if (field.salesforce) {
        EXPECT_THAT(salesforce, HasSubstr("\"" + field.salesforce->name + "\"")) << field.name;
      }
      if (field.dynamics) {
        EXPECT_THAT(dataverse, HasSubstr("\"" + field.dynamics->name + "\"")) << field.name;
      }
    }
  }
}

TEST(ParseMapping, AppliesDefaultsToOptionalKeys) {
  MappingLoad load = parse_with_deal(R"([deal.fields.amount]
type = "decimal"
salesforce = "Amount"
)");
  ASSERT_TRUE(load.mapping) << all_problems(load);
  const FieldMapping& amount = load.mapping->deal.fields.at(0);
  EXPECT_EQ(amount.scale, 2);
  EXPECT_EQ(amount.field_class, FieldClass::partner_visible);
  EXPECT_EQ(amount.policy, ConflictPolicy::latest_wins);
  EXPECT_FALSE(amount.match_key);
  EXPECT_FALSE(amount.prm);
  EXPECT_FALSE(amount.dynamics);
  EXPECT_EQ(amount.line, 7);
}

TEST(ParseMapping, KeepsFileOrderNotAlphabeticalOrder) {
  MappingLoad load = parse_with_deal(R"([deal.fields.zeta]
type = "string"
prm = "zeta"
[deal.fields.alpha]
type = "string"
prm = "alpha"
[deal.fields.mid]
type = "enum"
prm = "mid"
[deal.fields.mid.values]
zz = "Z"
aa = "A"
)");
  ASSERT_TRUE(load.mapping) << all_problems(load);
  EXPECT_THAT(field_names(load.mapping->deal), ElementsAre("zeta", "alpha", "mid"));
}

TEST(ParseMapping, EnumShorthandAppliesToEveryBoundSideAndIntegersAreOptionSets) {
  MappingLoad load = parse_with_deal(R"([deal.fields.stage]
type = "enum"
prm = "stage"
salesforce = "StageName"
dynamics = "salesstagecode"
[deal.fields.stage.values]
open = { prm = "open", salesforce = "Open", dynamics = 1 }
won = { prm = "won", salesforce = "Won", dynamics = 2 }
[deal.fields.kind]
type = "enum"
prm = "kind"
salesforce = "Type"
values = { new = "New", renewal = "Renewal" }
)");
  ASSERT_TRUE(load.mapping) << all_problems(load);
  const FieldMapping& stage = load.mapping->deal.fields.at(0);
  EXPECT_EQ(stage.dynamics->enum_values.at("won"), "2");
  EXPECT_TRUE(stage.dynamics->numeric_enum_values);
  EXPECT_FALSE(stage.salesforce->numeric_enum_values);
  const FieldMapping& kind = load.mapping->deal.fields.at(1);
  EXPECT_EQ(kind.prm->enum_values.at("renewal"), "Renewal");
  EXPECT_EQ(kind.salesforce->enum_values.at("new"), "New");
}

TEST(ObjectMapping, FindsFieldsByCanonicalAndNativeNames) {
  MappingDefinition mapping = default_mapping();
  const ObjectMapping& deal = mapping.deal;
  EXPECT_EQ(deal.field("amount")->name, "amount");
  EXPECT_EQ(deal.field("Amount"), nullptr);
  EXPECT_EQ(deal.field_for_native(Side::prm, "amount")->name, "amount");
  EXPECT_EQ(deal.field_for_native(Side::prm, "Amount"), nullptr);
  EXPECT_EQ(deal.field_for_native(Side::salesforce, "Amount")->name, "amount");
  EXPECT_EQ(deal.field_for_native(Side::salesforce, "amount")->name, "amount");  // SF ignores case
  EXPECT_EQ(deal.field_for_native(Side::dynamics, "estimatedvalue")->name, "amount");
  EXPECT_EQ(deal.field_for_native(Side::dynamics, "parentaccountid")->name, "account");
  EXPECT_EQ(deal.field_for_native(Side::dynamics, "_parentaccountid_value")->name, "account");
  EXPECT_EQ(deal.field_for_native(Side::dynamics, "_name_value"), nullptr);  // not a lookup
  EXPECT_EQ(deal.field_for_native(Side::salesforce, "currency"), nullptr);   // PRM only
  EXPECT_EQ(deal.field_for_native(Side::prm, "owner_partner_org_id"), nullptr);

  EXPECT_THAT(deal.native_read_names(Side::dynamics),
              ElementsAre("name", "_parentaccountid_value", "estimatedvalue", "stepname",
                          "estimatedclosedate", "description", "discountpercentage"));
  EXPECT_THAT(deal.native_read_names(Side::salesforce),
              ElementsAre("Name", "AccountId", "Amount", "StageName", "CloseDate", "Description",
                          "Discount_Percent__c"));
  EXPECT_THAT(mapping.account.native_read_names(Side::prm),
              ElementsAre("name", "website", "industry", "billing_country"));
}

TEST(ParseMapping, NamesEnumValues) {
  EXPECT_EQ(to_string(FieldType::enumeration), "enum");
  EXPECT_EQ(to_string(FieldType::reference), "reference");
  EXPECT_EQ(to_string(FieldClass::partner_editable), "partner_editable");
  EXPECT_EQ(to_string(ConflictPolicy::crm_wins), "crm_wins");
}

// ---- Problems: each with its key, its line and what to write instead -------------------------

TEST(ParseMappingProblems, SyntaxErrorGivesTheLine) {
  MappingLoad load = parse_mapping(
      "schema = 1\n[account.fields.name]\ntype = \"string\nprm = \"x\"\n", "bad.toml");
  ASSERT_FALSE(load.mapping);
  ASSERT_EQ(load.problems.size(), 1u);
  EXPECT_EQ(load.problems[0].key, "");
  EXPECT_EQ(load.problems[0].line, 3);
  EXPECT_THAT(load.problems[0].message, HasSubstr("not valid TOML"));
  EXPECT_THAT(to_string(load.problems[0]), HasSubstr("(bad.toml:3)"));
}

TEST(ParseMappingProblems, UnknownKeysSuggestTheIntendedOne) {
  MappingLoad load = parse_mapping(R"(schema = 1
sheme = 2
[account.fields.name]
type = "string"
polcy = "manual"
dataverse = "name"
prm = "name"
[account.filds.x]
[deal.fields.name]
type = "string"
prm = "name"
[deal.fields.name.values]
)",
                                   "test.toml");
  ASSERT_FALSE(load.mapping);
  MappingProblem top = problem_at(load, "sheme");
  EXPECT_EQ(top.line, 2);
  EXPECT_THAT(top.message, HasSubstr("did you mean schema?"));
  MappingProblem policy = problem_at(load, "account.fields.name.polcy");
  EXPECT_EQ(policy.line, 5);
  EXPECT_THAT(policy.message, HasSubstr("did you mean policy?"));
  EXPECT_THAT(problem_at(load, "account.fields.name.dataverse").message,
              HasSubstr("did you mean dynamics?"));
  EXPECT_THAT(problem_at(load, "account.filds").message, HasSubstr("did you mean fields?"));
  EXPECT_THAT(problem_at(load, "deal.fields.name.values").message,
              HasSubstr("values applies to enum fields only"));
  EXPECT_EQ(to_string(policy),
            "mapping: account.fields.name.polcy: unknown key; did you mean policy? (a field takes "
            "type, class, policy, match_key, scale, references, prm, salesforce, dynamics, values, "
            "editable_tiers) "
            "(test.toml:5)");
}

TEST(ParseMappingProblems, WrongValueTypesAndUnknownNames) {
  MappingLoad load = parse_with_deal(R"([deal.fields.a]
type = 5
prm = "a"
[deal.fields.b]
type = "enumeration"
prm = "b"
[deal.fields.c]
type = "string"
class = "partner_only"
policy = "crm-wins"
match_key = "yes"
prm = 3
salesforce = "C"
)");
  ASSERT_FALSE(load.mapping);
  MappingProblem type = problem_at(load, "deal.fields.a.type");
  EXPECT_EQ(type.line, 8);
  EXPECT_THAT(type.message, HasSubstr("expected a string, got integer 5; write one of string, "
                                      "decimal, integer, boolean, date, enum, reference"));
  EXPECT_THAT(problem_at(load, "deal.fields.b.type").message,
              HasSubstr("unknown type \"enumeration\" (did you mean enum?); write one of"));
  MappingProblem field_class = problem_at(load, "deal.fields.c.class");
  EXPECT_EQ(field_class.line, 15);
  EXPECT_THAT(field_class.message, HasSubstr("write one of partner_editable, partner_visible, "
                                             "internal"));
  EXPECT_THAT(problem_at(load, "deal.fields.c.policy").message,
              HasSubstr("did you mean crm_wins?"));
  EXPECT_THAT(problem_at(load, "deal.fields.c.match_key").message,
              HasSubstr("expected true or false, got string \"yes\""));
  MappingProblem prm = problem_at(load, "deal.fields.c.prm");
  EXPECT_EQ(prm.line, 18);
  EXPECT_THAT(prm.message, HasSubstr("expected a string, the PRM column name, got integer 3"));
}

TEST(ParseMappingProblems, MissingRequiredKeys) {
  MappingLoad load = parse_mapping(R"(
[account.fields.name]
prm = "name"
[account.fields.other]
type = "string"
)",
                                   "test.toml");
  ASSERT_FALSE(load.mapping);
  EXPECT_EQ(problem_at(load, "schema").line, 1);
  EXPECT_THAT(problem_at(load, "schema").message, HasSubstr("add schema = 1"));
  MappingProblem type = problem_at(load, "account.fields.name.type");
  EXPECT_EQ(type.line, 2);
  EXPECT_THAT(type.message, HasSubstr("required key is missing; add type = \"...\""));
  MappingProblem unbound = problem_at(load, "account.fields.other");
  EXPECT_EQ(unbound.line, 4);
  EXPECT_THAT(unbound.message, HasSubstr("bound on no side; add prm = "));
  EXPECT_THAT(problem_at(load, "deal").message,
              HasSubstr("required table is missing; add a [deal.fields.<name>] section"));
}

TEST(ParseMappingProblems, UnsupportedSchemaAndEmptyObjects) {
  MappingLoad load = parse_mapping("schema = 2\n[account.fields]\n[deal]\nfields = 3\n", "t.toml");
  ASSERT_FALSE(load.mapping);
  EXPECT_THAT(problem_at(load, "schema").message, HasSubstr("unsupported schema 2"));
  MappingProblem empty = problem_at(load, "account.fields");
  EXPECT_EQ(empty.line, 2);
  EXPECT_THAT(empty.message, HasSubstr("no fields are mapped"));
  EXPECT_EQ(problem_at(load, "deal.fields").line, 4);
}

TEST(ParseMappingProblems, EnumValuesMustCoverEveryBoundSide) {
  MappingLoad load = parse_with_deal(R"([deal.fields.stage]
type = "enum"
prm = "stage"
salesforce = "StageName"
[deal.fields.stage.values]
open = { prm = "Open", salesforce = "Open" }
won = { prm = "Won" }
lost = { prm = "Lost", salesforce = "Lost", dynamics = "Lost" }
again = { prm = "Open", salesforce = "Again", dynaics = "x" }
mixed = { prm = 4, salesforce = "Mixed" }
[deal.fields.plain]
type = "enum"
prm = "plain"
)");
  ASSERT_FALSE(load.mapping);
  MappingProblem missing = problem_at(load, "deal.fields.stage.values.won");
  EXPECT_EQ(missing.line, 13);
  EXPECT_THAT(missing.message, HasSubstr("no salesforce value; add salesforce = \"...\""));
  MappingProblem unbound = problem_at(load, "deal.fields.stage.values.lost.dynamics");
  EXPECT_EQ(unbound.line, 14);
  EXPECT_THAT(unbound.message, HasSubstr("not bound on dynamics"));
  MappingProblem duplicate = problem_at(load, "deal.fields.stage.values.again.prm");
  EXPECT_EQ(duplicate.line, 15);
  EXPECT_THAT(duplicate.message, HasSubstr("prm value \"Open\" already stands for open"));
  EXPECT_THAT(problem_at(load, "deal.fields.stage.values.again.dynaics").message,
              HasSubstr("did you mean dynamics?"));
  EXPECT_THAT(problem_at(load, "deal.fields.stage.values").message,
              HasSubstr("the prm values mix integers and strings"));
  MappingProblem no_values = problem_at(load, "deal.fields.plain.values");
  EXPECT_EQ(no_values.line, 17);
  EXPECT_THAT(no_values.message, HasSubstr("an enum field needs its values"));
}

TEST(ParseMappingProblems, NativeNameBoundTwiceOnOneSide) {
  MappingLoad load = parse_with_deal(R"([deal.fields.amount]
type = "decimal"
salesforce = "Amount"
prm = "amount"
[deal.fields.value]
type = "decimal"
salesforce = "amount"
prm = "value"
)");
  ASSERT_FALSE(load.mapping);
  ASSERT_EQ(load.problems.size(), 1u) << all_problems(load);
  MappingProblem twice = problem_at(load, "deal.fields.value.salesforce");
  EXPECT_EQ(twice.line, 13);
  EXPECT_THAT(twice.message, HasSubstr("Salesforce field \"amount\" is already bound to "
                                       "deal.fields.amount (line 7)"));
}

TEST(ParseMappingProblems, ReferencesScaleAndTypeSpecificKeys) {
  MappingLoad load = parse_with_deal(R"([deal.fields.account]
type = "reference"
prm = "account_id"
[deal.fields.owner]
type = "string"
references = "account"
prm = "owner"
[deal.fields.parent]
type = "reference"
references = "acount"
prm = "parent_id"
[deal.fields.amount]
type = "decimal"
scale = 11
prm = "amount"
[deal.fields.count]
type = "integer"
scale = 0
prm = "count"
)");
  ASSERT_FALSE(load.mapping);
  MappingProblem no_target = problem_at(load, "deal.fields.account.references");
  EXPECT_EQ(no_target.line, 7);
  EXPECT_THAT(no_target.message, HasSubstr("add references = \"...\", one of account, deal"));
  EXPECT_THAT(problem_at(load, "deal.fields.owner.references").message,
              HasSubstr("references applies to reference fields only"));
  EXPECT_THAT(problem_at(load, "deal.fields.parent.references").message,
              HasSubstr("unknown object \"acount\" (did you mean account?)"));
  MappingProblem scale = problem_at(load, "deal.fields.amount.scale");
  EXPECT_EQ(scale.line, 20);
  EXPECT_THAT(scale.message, HasSubstr("scale 11 is out of range; write an integer from 0 to 10"));
  EXPECT_THAT(problem_at(load, "deal.fields.count.scale").message,
              HasSubstr("scale applies to decimal fields only"));
}

TEST(ParseMappingProblems, NamesMustBeValidForTheirSide) {
  MappingLoad load = parse_with_deal(R"([deal.fields.account]
type = "reference"
references = "account"
dynamics = "_parentaccountid_value"
[deal.fields.owner]
type = "string"
dynamics = "_ownerid_value"
[deal.fields.title]
type = "string"
dynamics = "Title"
salesforce = "Bad Name"
[deal.fields.Close-Date]
type = "date"
prm = "close_date"
[deal.fields.solo]
type = "string"
match_key = true
prm = "solo"
)");
  ASSERT_FALSE(load.mapping);
  EXPECT_THAT(problem_at(load, "deal.fields.account.dynamics").message,
              HasSubstr("write the lookup name \"parentaccountid\", not its read name"));
  EXPECT_THAT(problem_at(load, "deal.fields.owner.dynamics").message,
              HasSubstr("map it as type = \"reference\" with dynamics = \"ownerid\""));
  EXPECT_THAT(problem_at(load, "deal.fields.title.dynamics").message,
              HasSubstr("a Dataverse logical name is lowercase"));
  EXPECT_THAT(problem_at(load, "deal.fields.title.salesforce").message,
              HasSubstr("is not a valid Salesforce field name"));
  EXPECT_THAT(problem_at(load, "deal.fields.Close-Date").message,
              HasSubstr("a canonical field name is lowercase letters"));
  MappingProblem solo = problem_at(load, "deal.fields.solo.match_key");
  EXPECT_EQ(solo.line, 23);
  EXPECT_THAT(solo.message, HasSubstr("at least two sides"));
  // A rejected binding is not reported a second time as "bound on no side".
  for (const MappingProblem& problem : load.problems) {
    EXPECT_THAT(problem.message, Not(HasSubstr("bound on no side"))) << problem.key;
  }
}

TEST(ParseMappingProblems, ReportsEveryProblemSortedByLine) {
  MappingLoad load = parse_mapping(R"(schema = 1
[account.fields.a]
type = "strin"
prm = "a"
[account.fields.b]
type = "string"
policy = "nobody_wins"
prm = "b"
[deal.fields.c]
type = "decimal"
scale = -1
prm = "c"
)",
                                   "many.toml");
  ASSERT_FALSE(load.mapping);
  std::vector<std::string> keys;
  std::vector<int> lines;
  for (const MappingProblem& problem : load.problems) {
    keys.push_back(problem.key);
    lines.push_back(problem.line);
    EXPECT_EQ(problem.source, "many.toml");
  }
  EXPECT_THAT(
      keys, ElementsAre("account.fields.a.type", "account.fields.b.policy", "deal.fields.c.scale"));
  EXPECT_THAT(lines, ElementsAre(3, 7, 11));
}

TEST(ParseMappingProblems, AValidMappingHasNoProblems) {
  MappingLoad load = parse_mapping(default_mapping_toml(), "mapping.toml");
  EXPECT_THAT(load.problems, IsEmpty()) << all_problems(load);
  EXPECT_TRUE(load.mapping);
}

}  // namespace
}  // namespace crmsync::mapping

namespace crmsync::mapping {
namespace {

TEST(FieldClasses, TiersQualifyPartnerEditableFields) {
  MappingDefinition mapping = default_mapping();
  const FieldMapping& discount = *mapping.deal.field("discount_percent");
  EXPECT_TRUE(discount.partner_may_edit("gold"));
  EXPECT_TRUE(discount.partner_may_edit("platinum"));
  EXPECT_FALSE(discount.partner_may_edit("silver"));
  EXPECT_TRUE(mapping.deal.field("amount")->partner_may_edit("registered"));
  EXPECT_FALSE(mapping.account.field("industry")->partner_may_edit("platinum")) << "partner_visible";
  EXPECT_FALSE(mapping.account.field("annual_revenue")->partner_may_edit("platinum")) << "internal";
}

TEST(FieldClasses, TierAndInternalMistakesAreNamed) {
  auto load = parse_with_deal(R"(
[deal.fields.name]
type = "string"
class = "partner_visible"
editable_tiers = ["gold"]
prm = "name"
salesforce = "Name"
[deal.fields.amount]
type = "decimal"
class = "partner_editable"
editable_tiers = ["golden"]
prm = "amount"
salesforce = "Amount"
[deal.fields.cost]
type = "decimal"
class = "internal"
prm = "cost"
salesforce = "Cost__c"
)");
  EXPECT_FALSE(load.mapping);
  EXPECT_THAT(problem_at(load, "deal.fields.name.editable_tiers").message,
              HasSubstr("qualifies partner_editable fields only"));
  EXPECT_THAT(problem_at(load, "deal.fields.amount.editable_tiers").message, HasSubstr("did you mean gold?"));
  EXPECT_THAT(problem_at(load, "deal.fields.cost.prm").message, HasSubstr("never goes to the PRM"));
}

}  // namespace
}  // namespace crmsync::mapping
