#include "tests/emulators/odata_filter.h"

#include <gtest/gtest.h>

#include "tests/emulators/dataverse_schema.h"

namespace crmsync::emulators {
namespace {

ObjectDef accounts() {
  for (auto& def : dataverse_builtin_tables()) {
    if (def.entity_set == "accounts") return def;
  }
  return {};
}

std::string bind_error(const std::string& text) {
  auto parsed = parse_odata_filter(text);
  if (auto* e = std::get_if<std::string>(&parsed)) return "parse: " + *e;
  auto expr = std::get<ODataExpr>(parsed);
  auto def = accounts();
  if (auto e = bind_odata_filter(expr, def)) return "bind: " + *e;
  return "OK";
}

bool matches(const std::string& text, const Record& r) {
  auto parsed = parse_odata_filter(text);
  EXPECT_TRUE(std::holds_alternative<ODataExpr>(parsed)) << text;
  auto expr = std::get<ODataExpr>(parsed);
  auto def = accounts();
  EXPECT_FALSE(bind_odata_filter(expr, def).has_value()) << text;
  return odata_matches(expr, r);
}

Record account() {
  Record r;
  r.fields["name"] = std::string("Contoso Ltd");
  r.fields["revenue"] = 5000.0;
  r.fields["crmsync_prmid"] = std::string("P-1");
  r.fields["_ownerid_value"] = std::string("0a1b2c3d-0000-4000-8000-000000000001");
  r.fields["createdon"] = std::string("2024-05-01T10:00:00Z");
  r.fields["statecode"] = 0.0;
  return r;
}

TEST(ODataFilter, ComparisonsLogicAndPrecedence) {
  Record r = account();
  EXPECT_TRUE(matches("name eq 'contoso ltd'", r));
  EXPECT_TRUE(matches("revenue gt 4999.5 and revenue le 5000", r));
  EXPECT_TRUE(matches("revenue lt 10 or name ne 'x' and statecode eq 0", r));  // and binds tighter
  EXPECT_FALSE(matches("(revenue lt 10 or name ne 'x') and statecode eq 1", r));
  EXPECT_TRUE(matches("not (statecode eq 1)", r));
  EXPECT_TRUE(matches("description eq null and name ne null", r));
  EXPECT_FALSE(
      matches("description ne 'x'", r));  // a null column satisfies no comparison with a value
}

TEST(ODataFilter, FunctionsGuidsAndDates) {
  Record r = account();
  EXPECT_TRUE(matches("contains(name,'TOSO')", r));
  EXPECT_TRUE(matches("startswith(name,'cont') and endswith(name,'ltd')", r));
  EXPECT_TRUE(matches("_ownerid_value eq 0A1B2C3D-0000-4000-8000-000000000001", r));
  EXPECT_TRUE(
      matches("createdon ge 2024-05-01T09:00:00Z and createdon lt 2024-05-01T12:00:00+01:00", r));
  EXPECT_TRUE(matches("name eq 'it''s' or crmsync_prmid eq 'P-1'", r));
}

TEST(ODataFilter, ErrorsForUnknownPropertiesTypesAndSyntax) {
  EXPECT_EQ(
      bind_error("nope eq 1"),
      "bind: Could not find a property named 'nope' on type 'Microsoft.Dynamics.CRM.account'.");
  EXPECT_EQ(bind_error("Name eq 'x'").substr(0, 5), "bind:");  // property names are case-sensitive
  EXPECT_EQ(bind_error("revenue eq 'x'").substr(0, 5), "bind:");
  EXPECT_EQ(bind_error("name gt null").substr(0, 5), "bind:");
  EXPECT_EQ(bind_error("contains(revenue,'1')").substr(0, 5), "bind:");
  EXPECT_EQ(bind_error("name eq 'open").substr(0, 6), "parse:");
  EXPECT_EQ(bind_error("name has 'x'").substr(0, 6), "parse:");
  EXPECT_EQ(bind_error("Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['a'])")
                .substr(0, 6),
            "parse:");
  EXPECT_EQ(bind_error("tolower(name) eq 'x'").substr(0, 6), "parse:");
  EXPECT_EQ(bind_error("(name eq 'x'").substr(0, 6), "parse:");
  EXPECT_EQ(bind_error("name eq 'x' extra").substr(0, 6), "parse:");
  EXPECT_EQ(bind_error("name eq 'x'"), "OK");
}

TEST(ODataFilter, OrderBy) {
  auto parsed = parse_odata_orderby("name desc, revenue asc,createdon");
  auto order = std::get<std::vector<ODataOrder>>(parsed);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_TRUE(order[0].descending);
  EXPECT_FALSE(order[1].descending);
  EXPECT_EQ(order[2].property, "createdon");
  EXPECT_TRUE(std::holds_alternative<std::string>(parse_odata_orderby("name sideways")));
}

}  // namespace
}  // namespace crmsync::emulators
