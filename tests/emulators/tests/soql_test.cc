#include "tests/emulators/soql.h"

#include <gtest/gtest.h>

#include "tests/emulators/salesforce_schema.h"

namespace crmsync::emulators {
namespace {

ObjectDef account() {
  for (auto& def : salesforce_builtin_objects()) {
    if (def.name == "Account") return def;
  }
  return {};
}

SoqlQuery parsed(const std::string& text) {
  auto result = parse_soql(text);
  if (auto* e = std::get_if<SoqlError>(&result)) ADD_FAILURE() << text << ": " << e->message;
  return std::get<SoqlQuery>(result);
}

std::string error_code(const std::string& text) {
  auto result = parse_soql(text);
  if (auto* e = std::get_if<SoqlError>(&result)) return e->code;
  auto q = std::get<SoqlQuery>(result);
  auto def = account();
  if (auto e = bind_soql(q, def)) return e->code;
  return "OK";
}

Record row(std::string name, double revenue, FieldValue industry) {
  Record r;
  r.id = "001000000000001AAA";
  r.fields["Name"] = std::move(name);
  r.fields["AnnualRevenue"] = revenue;
  r.fields["Industry"] = std::move(industry);
  return r;
}

TEST(Soql, ParsesFieldListObjectClausesAndCount) {
  auto q = parsed(
      "select Id, name FROM Account where Name = 'x' order by Name desc nulls first, Id limit 5 "
      "offset 2");
  EXPECT_EQ(q.fields, (std::vector<std::string>{"Id", "name"}));
  EXPECT_EQ(q.object, "Account");
  ASSERT_EQ(q.order_by.size(), 2u);
  EXPECT_TRUE(q.order_by[0].descending);
  EXPECT_TRUE(q.order_by[0].nulls_first);
  EXPECT_FALSE(q.order_by[1].descending);
  EXPECT_EQ(*q.limit, 5);
  EXPECT_EQ(*q.offset, 2);
  EXPECT_TRUE(parsed("SELECT COUNT() FROM Account").count_only);
}

TEST(Soql, LiteralsOfEveryKind) {
  auto q = parsed(
      "SELECT Id FROM Account WHERE A = 'it\\'s' AND B = -1.5 AND C = true AND D = null AND "
      "E = 2024-01-02 AND F = 2024-01-02T03:04:05Z AND G > 2024-01-02T03:04:05+01:00");
  const auto& c = q.where->children;
  ASSERT_EQ(c.size(), 7u);
  EXPECT_EQ(std::get<std::string>(c[0].values[0].value), "it's");
  EXPECT_EQ(std::get<double>(c[1].values[0].value), -1.5);
  EXPECT_EQ(std::get<bool>(c[2].values[0].value), true);
  EXPECT_EQ(c[3].values[0].kind, LiteralKind::null);
  EXPECT_EQ(c[4].values[0].kind, LiteralKind::date);
  EXPECT_EQ(std::get<std::string>(c[5].values[0].value), "2024-01-02T03:04:05.000+0000");
  EXPECT_EQ(std::get<std::string>(c[6].values[0].value), "2024-01-02T02:04:05.000+0000");
}

TEST(Soql, UnsupportedSyntaxIsMalformedNeverGuessed) {
  for (const char* text :
       {"SELECT Owner.Name FROM Account", "SELECT Id FROM Account WHERE A = 1 AND B = 2 OR C = 3",
        "SELECT Id FROM Account WHERE CreatedDate = TODAY", "SELECT COUNT(Id) FROM Account",
        "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Opportunity)",
        "SELECT Id FROM Account GROUP BY Name", "SELECT Id FROM Account WITH SECURITY_ENFORCED",
        "SELECT Id FROM Account WHERE Name = :name", "SELECT Id FROM Account LIMIT x",
        "SELECT Id FROM Account WHERE Name = 'open", "SELECT Id FROM Account WHERE Name LIKE 5",
        "SELECT Id FROM Account FOR UPDATE", "SELECT Id FROM Account WHERE Name INCLUDES ('a')",
        "SELECT Id FROM Account WHERE (Name = 'a'", "SELECT Id, FROM Account"}) {
    EXPECT_EQ(error_code(text), "MALFORMED_QUERY") << text;
  }
}

TEST(Soql, BindingChecksFieldsAndLiteralTypes) {
  EXPECT_EQ(error_code("SELECT Nope FROM Account"), "INVALID_FIELD");
  EXPECT_EQ(error_code("SELECT Id FROM Account WHERE Nope = 1"), "INVALID_FIELD");
  EXPECT_EQ(error_code("SELECT Id FROM Account ORDER BY Nope"), "INVALID_FIELD");
  EXPECT_EQ(error_code("SELECT Id FROM Account WHERE AnnualRevenue = 'x'"),
            "INVALID_QUERY_FILTER_OPERATOR");
  EXPECT_EQ(error_code("SELECT Id FROM Account WHERE IsPartner > true"),
            "INVALID_QUERY_FILTER_OPERATOR");
  EXPECT_EQ(error_code("SELECT Id FROM Account WHERE AnnualRevenue LIKE '1%'"),
            "INVALID_QUERY_FILTER_OPERATOR");
  EXPECT_EQ(error_code("SELECT Id FROM Account WHERE Id = 'short'"),
            "INVALID_QUERY_FILTER_OPERATOR");
  EXPECT_EQ(error_code("SELECT Id FROM Account WHERE Name < null"), "MALFORMED_QUERY");
  EXPECT_EQ(error_code("SELECT Id, Id FROM Account"), "MALFORMED_QUERY");
  EXPECT_EQ(error_code("SELECT id, NAME FROM account WHERE name = 'x'"), "OK");
}

TEST(Soql, EvaluatesComparisonsCaseInsensitivelyAndNullsLikeSalesforce) {
  auto def = account();
  auto matches = [&](const std::string& text, const Record& r) {
    auto q = parsed(text);
    EXPECT_FALSE(bind_soql(q, def).has_value()) << text;
    return soql_matches(*q.where, r, def);
  };
  Record acme = row("Acme", 100, std::string("Tech"));
  Record blank = row("Blank", 5, std::monostate{});
  EXPECT_TRUE(matches("SELECT Id FROM Account WHERE Name = 'ACME'", acme));
  EXPECT_TRUE(
      matches("SELECT Id FROM Account WHERE Industry != 'Tech'", blank));  // null is "not equal"
  EXPECT_FALSE(matches("SELECT Id FROM Account WHERE Industry > 'A'", blank));  // but not "greater"
  EXPECT_TRUE(matches("SELECT Id FROM Account WHERE Industry NOT IN ('Tech')", blank));
  EXPECT_TRUE(
      matches("SELECT Id FROM Account WHERE AnnualRevenue > 99.5 AND AnnualRevenue <= 100", acme));
  EXPECT_TRUE(matches("SELECT Id FROM Account WHERE NOT Name LIKE 'b%'", acme));
  EXPECT_TRUE(matches("SELECT Id FROM Account WHERE Name LIKE '_cm%'", acme));
  EXPECT_TRUE(matches(
      "SELECT Id FROM Account WHERE (Name = 'x' OR Name = 'acme') AND Industry IN ('tech', 'y')",
      acme));
}

TEST(Soql, LikeHandlesWildcardsAndEscapes) {
  EXPECT_TRUE(soql_like("a%c", "abbbc"));
  EXPECT_TRUE(soql_like("%", ""));
  EXPECT_FALSE(soql_like("a_c", "ac"));
  EXPECT_TRUE(soql_like("100\\%", "100%"));
  EXPECT_FALSE(soql_like("100\\%", "1000"));
  EXPECT_TRUE(soql_like("%b%b%", "abcab"));
}

TEST(Soql, SortsWithNullPlacementAndSeveralKeys) {
  Record a = row("a", 1, std::string("X")), b = row("b", 2, std::monostate{}),
         c = row("c", 1, std::string("Y"));
  std::vector<const Record*> rows{&a, &b, &c};
  soql_sort(rows, {{"AnnualRevenue", false, true}, {"Name", true, false}});
  EXPECT_EQ(rows[0], &c);
  EXPECT_EQ(rows[1], &a);
  EXPECT_EQ(rows[2], &b);
  soql_sort(rows, {{"Industry", false, true}});
  EXPECT_EQ(rows[0], &b);
  soql_sort(rows, {{"Industry", false, false}});
  EXPECT_EQ(rows[2], &b);
}

}  // namespace
}  // namespace crmsync::emulators
