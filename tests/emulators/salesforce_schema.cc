#include "tests/emulators/salesforce_schema.h"

namespace crmsync::emulators {

namespace {

FieldDef field(std::string name, FieldType type) {
  FieldDef f;
  f.name = std::move(name);
  f.type = type;
  return f;
}

FieldDef required(std::string name, FieldType type) {
  FieldDef f = field(std::move(name), type);
  f.required = true;
  f.nillable = false;
  return f;
}

FieldDef reference(std::string name, std::vector<std::string> to) {
  FieldDef f = field(std::move(name), FieldType::reference);
  f.reference_to = std::move(to);
  return f;
}

FieldDef read_only(FieldDef f) {
  f.createable = false;
  f.updateable = false;
  return f;
}

FieldDef external_id(std::string name) {
  FieldDef f = field(std::move(name), FieldType::string);
  f.external_id = true;
  return f;
}

void add_audit_fields(ObjectDef& def, bool owner) {
  if (owner) {
    FieldDef o = reference("OwnerId", {"User", "Group"});
    o.nillable = false;
    def.fields.push_back(o);
  }
  def.fields.push_back(read_only(field("IsDeleted", FieldType::boolean)));
  def.fields.push_back(read_only(field("CreatedDate", FieldType::datetime)));
  def.fields.push_back(read_only(reference("CreatedById", {"User"})));
  def.fields.push_back(read_only(field("LastModifiedDate", FieldType::datetime)));
  def.fields.push_back(read_only(reference("LastModifiedById", {"User"})));
  def.fields.push_back(read_only(field("SystemModstamp", FieldType::datetime)));
}

ObjectDef object(std::string name, std::string label, std::string prefix) {
  ObjectDef def;
  def.name = std::move(name);
  def.label = std::move(label);
  def.key_prefix = std::move(prefix);
  def.primary_key = "Id";
  def.fields.push_back(read_only(field("Id", FieldType::id)));
  return def;
}

}  // namespace

std::vector<ObjectDef> salesforce_builtin_objects() {
  std::vector<ObjectDef> out;

  ObjectDef account = object("Account", "Account", "001");
  account.fields.push_back(required("Name", FieldType::string));
  for (const char* name : {"AccountNumber", "Phone", "Website", "BillingStreet", "BillingCity",
                           "BillingState", "BillingPostalCode", "BillingCountry"}) {
    account.fields.push_back(field(name, FieldType::string));
  }
  account.fields.push_back(field("Type", FieldType::picklist));
  account.fields.push_back(field("Industry", FieldType::picklist));
  account.fields.push_back(field("Description", FieldType::textarea));
  account.fields.push_back(field("AnnualRevenue", FieldType::number));
  account.fields.push_back(field("NumberOfEmployees", FieldType::integer));
  account.fields.push_back(reference("ParentId", {"Account"}));
  account.fields.push_back(field("IsPartner", FieldType::boolean));
  account.fields.push_back(external_id("PRM_Id__c"));
  add_audit_fields(account, true);
  out.push_back(account);

  ObjectDef opportunity = object("Opportunity", "Opportunity", "006");
  opportunity.fields.push_back(required("Name", FieldType::string));
  opportunity.fields.push_back(reference("AccountId", {"Account"}));
  opportunity.fields.push_back(required("StageName", FieldType::picklist));
  opportunity.fields.push_back(required("CloseDate", FieldType::date));
  opportunity.fields.push_back(field("Amount", FieldType::number));
  opportunity.fields.push_back(field("Probability", FieldType::number));
  opportunity.fields.push_back(field("Type", FieldType::picklist));
  opportunity.fields.push_back(field("LeadSource", FieldType::picklist));
  opportunity.fields.push_back(field("NextStep", FieldType::string));
  opportunity.fields.push_back(field("Description", FieldType::textarea));
  opportunity.fields.push_back(field("Discount_Percent__c", FieldType::number));  // the org's custom field
  opportunity.fields.push_back(external_id("PRM_Id__c"));
  add_audit_fields(opportunity, true);
  out.push_back(opportunity);

  ObjectDef user = object("User", "User", "005");
  FieldDef username = required("Username", FieldType::string);
  username.unique = true;
  username.external_id = true;
  user.fields.push_back(username);
  user.fields.push_back(required("LastName", FieldType::string));
  user.fields.push_back(field("FirstName", FieldType::string));
  user.fields.push_back(read_only(field("Name", FieldType::string)));
  user.fields.push_back(field("Email", FieldType::string));
  user.fields.push_back(field("Alias", FieldType::string));
  FieldDef active = field("IsActive", FieldType::boolean);
  active.nillable = false;
  user.fields.push_back(active);
  user.fields.push_back(field("UserType", FieldType::picklist));
  user.fields.push_back(reference("UserRoleId", {"UserRole"}));
  user.fields.push_back(reference("ContactId", {"Contact"}));
  user.fields.push_back(external_id("PRM_Id__c"));
  add_audit_fields(user, false);
  out.push_back(user);

  ObjectDef group = object("Group", "Group", "00G");
  group.fields.push_back(required("Name", FieldType::string));
  group.fields.push_back(field("DeveloperName", FieldType::string));
  group.fields.push_back(field("Type", FieldType::picklist));
  group.fields.push_back(reference("RelatedId", {"UserRole", "User"}));
  add_audit_fields(group, true);
  out.push_back(group);

  ObjectDef member = object("GroupMember", "Group Member", "011");
  FieldDef member_group = reference("GroupId", {"Group"});
  member_group.required = true;
  member_group.nillable = false;
  member_group.updateable = false;
  member.fields.push_back(member_group);
  FieldDef member_principal = reference("UserOrGroupId", {"User", "Group"});
  member_principal.required = true;
  member_principal.nillable = false;
  member_principal.updateable = false;
  member.fields.push_back(member_principal);
  member.fields.push_back(read_only(field("SystemModstamp", FieldType::datetime)));
  out.push_back(member);

  auto share = [&](std::string name, std::string prefix, std::string parent_field,
                   std::string parent, std::vector<std::string> levels) {
    ObjectDef def = object(std::move(name), "", std::move(prefix));
    def.label = def.name;
    FieldDef parent_ref = reference(std::move(parent_field), {std::move(parent)});
    parent_ref.required = true;
    parent_ref.nillable = false;
    parent_ref.updateable = false;
    def.fields.push_back(parent_ref);
    FieldDef principal = reference("UserOrGroupId", {"User", "Group"});
    principal.required = true;
    principal.nillable = false;
    principal.updateable = false;
    def.fields.push_back(principal);
    for (std::size_t i = 0; i < levels.size(); ++i) {
      FieldDef level = field(levels[i], FieldType::picklist);
      if (i < 2 || levels.size() == 1) {
        level.required = true;
        level.nillable = false;
      }
      def.fields.push_back(level);
    }
    FieldDef cause = field("RowCause", FieldType::picklist);
    cause.updateable = false;
    def.fields.push_back(cause);
    def.fields.push_back(read_only(field("IsDeleted", FieldType::boolean)));
    def.fields.push_back(read_only(field("LastModifiedDate", FieldType::datetime)));
    def.fields.push_back(read_only(reference("LastModifiedById", {"User"})));
    return def;
  };
  out.push_back(share(
      "AccountShare", "00r", "AccountId", "Account",
      {"AccountAccessLevel", "OpportunityAccessLevel", "CaseAccessLevel", "ContactAccessLevel"}));
  out.push_back(
      share("OpportunityShare", "00t", "OpportunityId", "Opportunity", {"OpportunityAccessLevel"}));
  return out;
}

const char* salesforce_field_type(const FieldDef& field) {
  switch (field.type) {
    case FieldType::id:
      return "id";
    case FieldType::textarea:
      return "textarea";
    case FieldType::picklist:
      return "picklist";
    case FieldType::boolean:
      return "boolean";
    case FieldType::number:
      return field.name == "Amount" || field.name == "AnnualRevenue" ? "currency"
             : field.name == "Probability"                           ? "percent"
                                                                     : "double";
    case FieldType::integer:
      return "int";
    case FieldType::date:
      return "date";
    case FieldType::datetime:
      return "datetime";
    case FieldType::reference:
      return "reference";
    case FieldType::string:
      break;
  }
  return "string";
}

}  // namespace crmsync::emulators
