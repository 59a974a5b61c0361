// Salesforce write rules shared by create and update: audit stamps, reference and uniqueness
// checks, and the rules for Manual share rows.

#include <algorithm>

#include "tests/emulators/salesforce_api.h"
#include "tests/emulators/salesforce_ids.h"

namespace crmsync::emulators {

namespace {

bool is_share(const ObjectDef& def) {
  return def.name == "AccountShare" || def.name == "OpportunityShare";
}

std::string text_of(const FieldValue& v) {
  return std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : "";
}

}  // namespace

void SalesforceApi::stamp(const ObjectDef& def, Record& record, bool creating) {
  std::string now = format_salesforce_datetime(clock_.now());
  std::string user = current_user_id_.empty() ? integration_user_id_ : current_user_id_;
  if (creating) {
    if (def.field("CreatedDate") && is_null(record.get("CreatedDate")))
      record.fields["CreatedDate"] = now;
    if (def.field("CreatedById") && is_null(record.get("CreatedById")) && !user.empty())
      record.fields["CreatedById"] = user;
    if (user.empty() && def.field("CreatedById"))
      record.fields["CreatedById"] = record.id;  // the first user
  }
  if (def.field("LastModifiedDate")) record.fields["LastModifiedDate"] = now;
  if (def.field("LastModifiedById"))
    record.fields["LastModifiedById"] = user.empty() ? record.id : user;
  if (def.field("SystemModstamp")) record.fields["SystemModstamp"] = now;
  record.version = store_.next_version();
}

std::vector<SalesforceError> SalesforceApi::validate_write(ObjectTable& table, Record& record,
                                                           const Record* before,
                                                           Record** existing_share,
                                                           bool from_seed) {
  std::vector<SalesforceError> errors;
  const ObjectDef& def = table.def;
  for (const auto& f : def.fields) {
    const FieldValue& value = record.get(f.name);
    if (f.type == FieldType::reference && std::holds_alternative<std::string>(value) &&
        (before == nullptr || before->get(f.name) != value)) {
      const std::string& raw = std::get<std::string>(value);
      auto id = normalize_salesforce_id(raw);
      if (!id) {
        errors.push_back({"MALFORMED_ID",
                          def.label + " " + f.name + ": id value of incorrect type: " + raw,
                          {f.name}});
        continue;
      }
      ObjectTable* target = table_for_id(*id);
      bool allowed = target != nullptr && std::find(f.reference_to.begin(), f.reference_to.end(),
                                                    target->def.name) != f.reference_to.end();
      if (!allowed || target->find(*id) == nullptr) {
        if (f.name == "CreatedById" || f.name == "LastModifiedById") continue;
        errors.push_back({"INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", {f.name}});
        continue;
      }
      record.fields[f.name] = *id;
    }
    if (f.unique && std::holds_alternative<std::string>(value)) {
      for (Record* other : table.live_rows_in_order()) {
        if (other->id != record.id && std::holds_alternative<std::string>(other->get(f.name)) &&
            iequals(std::get<std::string>(other->get(f.name)), std::get<std::string>(value))) {
          errors.push_back({"DUPLICATE_VALUE",
                            "duplicate value found: " + f.name +
                                " duplicates value on record with id: " + other->id,
                            {}});
        }
      }
    }
  }
  if (errors.empty() && def.name == "GroupMember" && before == nullptr) {
    for (Record* other : table.live_rows_in_order()) {
      if (other->id != record.id &&
          text_of(other->get("GroupId")) == text_of(record.get("GroupId")) &&
          text_of(other->get("UserOrGroupId")) == text_of(record.get("UserOrGroupId"))) {
        errors.push_back(
            {"DUPLICATE_VALUE",
             "duplicate value found: <unknown> duplicates value on record with id: " + other->id,
             {}});
      }
    }
  }
  if (!errors.empty() || !is_share(def)) return errors;

  // Share rows: only Manual rows through the API, levels Read/Edit (All is system-only), never
  // with the record's owner. A seed stands for the org's state, so it may also hold the rows the
  // platform maintains (RowCause Owner, Rule, Team, ...; level All allowed): the API reads them
  // but cannot write, update or delete them.
  bool system_row = text_of(record.get("RowCause")) != "Manual";
  if (system_row && !from_seed) {
    errors.push_back({"INVALID_FIELD_FOR_INSERT_UPDATE",
                      "RowCause: only Manual sharing rows can be written",
                      {"RowCause"}});
    return errors;
  }
  for (const auto& f : def.fields) {
    if (f.name.find("AccessLevel") == std::string::npos) continue;
    std::string level = text_of(record.get(f.name));
    bool primary =
        f.name == (def.name == "AccountShare" ? "AccountAccessLevel" : "OpportunityAccessLevel");
    bool ok = level == "Read" || level == "Edit" || (!primary && level == "None") ||
              (primary && system_row && level == "All");
    if (!ok) {
      errors.push_back(
          {"INVALID_ACCESS_LEVEL", "invalid access level: " + f.name + " = " + level, {f.name}});
    }
  }
  if (!errors.empty() || system_row) return errors;
  std::string parent_field = def.name == "AccountShare" ? "AccountId" : "OpportunityId";
  std::string parent_id = text_of(record.get(parent_field));
  ObjectTable* parent_table = store_.table(def.name == "AccountShare" ? "Account" : "Opportunity");
  Record* parent = parent_table->find(parent_id);
  std::string principal = text_of(record.get("UserOrGroupId"));
  if (parent != nullptr && text_of(parent->get("OwnerId")) == principal) {
    errors.push_back({"INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
                      "insufficient access rights on cross-reference id",
                      {}});
    return errors;
  }
  if (before == nullptr && existing_share != nullptr) {
    for (Record* other : table.live_rows_in_order()) {
      if (text_of(other->get(parent_field)) == parent_id &&
          text_of(other->get("UserOrGroupId")) == principal &&
          text_of(other->get("RowCause")) == "Manual") {
        *existing_share = other;
      }
    }
  }
  return errors;
}

}  // namespace crmsync::emulators
