#include "tests/emulators/dataverse_schema.h"

namespace crmsync::emulators {

namespace {

FieldDef column(std::string name, FieldType type) {
  FieldDef f;
  f.name = std::move(name);
  f.type = type;
  return f;
}

FieldDef read_only(FieldDef f) {
  f.createable = false;
  f.updateable = false;
  return f;
}

FieldDef lookup(std::string navigation, std::vector<std::string> targets,
                std::string attribute = {}) {
  FieldDef f;
  f.name = "_" + (attribute.empty() ? navigation : attribute) + "_value";
  f.type = FieldType::reference;
  f.navigation = std::move(navigation);
  f.reference_to = std::move(targets);
  f.createable = false;  // written through @odata.bind only
  f.updateable = false;
  return f;
}

FieldDef alternate_key(std::string name) {
  FieldDef f = column(std::move(name), FieldType::string);
  f.external_id = true;
  f.unique = true;
  return f;
}

ObjectDef table(std::string logical, std::string entity_set, std::string key) {
  ObjectDef def;
  def.name = std::move(logical);
  def.label = def.name;
  def.entity_set = std::move(entity_set);
  def.primary_key = key;
  def.fields.push_back(column(std::move(key), FieldType::id));
  return def;
}

void add_system(ObjectDef& def, bool owned) {
  if (owned) {
    def.fields.push_back(lookup("ownerid", {"systemusers", "teams"}));
    def.fields.push_back(read_only(column("_owningbusinessunit_value", FieldType::reference)));
    def.fields.push_back(column("statecode", FieldType::integer));
  }
  def.fields.push_back(read_only(column("createdon", FieldType::datetime)));
  def.fields.push_back(read_only(column("modifiedon", FieldType::datetime)));
  def.fields.push_back(read_only(column("versionnumber", FieldType::number)));
}

}  // namespace

std::vector<ObjectDef> dataverse_builtin_tables() {
  std::vector<ObjectDef> out;
  ObjectDef account = table("account", "accounts", "accountid");
  for (const char* name :
       {"name", "accountnumber", "telephone1", "websiteurl", "address1_city", "address1_country"}) {
    account.fields.push_back(column(name, FieldType::string));
  }
  account.fields.push_back(column("description", FieldType::textarea));
  account.fields.push_back(column("revenue", FieldType::number));
  account.fields.push_back(column("numberofemployees", FieldType::integer));
  account.fields.push_back(alternate_key("crmsync_prmid"));
  account.fields.push_back(lookup("parentaccountid", {"accounts"}));
  add_system(account, true);
  out.push_back(account);

  ObjectDef opportunity = table("opportunity", "opportunities", "opportunityid");
  opportunity.fields.push_back(column("name", FieldType::string));
  opportunity.fields.push_back(column("stepname", FieldType::string));
  opportunity.fields.push_back(column("description", FieldType::textarea));
  opportunity.fields.push_back(column("estimatedvalue", FieldType::number));
  opportunity.fields.push_back(column("estimatedclosedate", FieldType::date));
  opportunity.fields.push_back(column("discountpercentage", FieldType::number));
  opportunity.fields.push_back(alternate_key("crmsync_prmid"));
  opportunity.fields.push_back(lookup("parentaccountid", {"accounts"}));
  opportunity.fields.push_back(lookup("customerid_account", {"accounts"}, "customerid"));
  add_system(opportunity, true);
  out.push_back(opportunity);

  ObjectDef user = table("systemuser", "systemusers", "systemuserid");
  for (const char* name :
       {"fullname", "firstname", "lastname", "domainname", "internalemailaddress", "applicationid",
        "azureactivedirectoryobjectid"}) {
    user.fields.push_back(column(name, FieldType::string));
  }
  user.fields.push_back(column("isdisabled", FieldType::boolean));
  user.fields.push_back(lookup("businessunitid", {"businessunits"}));
  add_system(user, false);
  out.push_back(user);

  ObjectDef team = table("team", "teams", "teamid");
  team.fields.push_back(column("name", FieldType::string));
  team.fields.push_back(column("teamtype", FieldType::integer));
  team.fields.push_back(column("azureactivedirectoryobjectid", FieldType::string));
  team.fields.push_back(lookup("businessunitid", {"businessunits"}));
  add_system(team, false);
  out.push_back(team);

  ObjectDef unit = table("businessunit", "businessunits", "businessunitid");
  unit.fields.push_back(column("name", FieldType::string));
  unit.fields.push_back(lookup("parentbusinessunitid", {"businessunits"}));
  add_system(unit, false);
  out.push_back(unit);
  return out;
}

const FieldDef* dataverse_navigation(const ObjectDef& def, std::string_view navigation) {
  for (const auto& f : def.fields) {
    if (!f.navigation.empty() && f.navigation == navigation) return &f;
  }
  return nullptr;
}

}  // namespace crmsync::emulators
