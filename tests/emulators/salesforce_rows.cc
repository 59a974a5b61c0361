// Salesforce sObject writes: create, update, delete (with cascades) and upsert by external id;
// field-level validation of request bodies. Reference, uniqueness and share-row rules live in
// salesforce_write_rules.cc.

#include <algorithm>
#include <fmt/format.h>

#include <functional>

#include "tests/emulators/json_util.h"
#include "tests/emulators/salesforce_api.h"
#include "tests/emulators/salesforce_ids.h"
#include "tests/emulators/salesforce_responses.h"
#include "tests/emulators/salesforce_schema.h"

namespace crmsync::emulators {

namespace {

bool is_share(const ObjectDef& def) {
  return def.name == "AccountShare" || def.name == "OpportunityShare";
}

std::string text_of(const FieldValue& v) {
  return std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : "";
}

// Converts one JSON body value for a field; an error message when the type does not fit.
std::optional<FieldValue> convert(const FieldDef& f, const rapidjson::Value& v,
                                  std::string& error) {
  if (v.IsNull()) return FieldValue{};
  switch (f.type) {
    case FieldType::boolean:
      if (v.IsBool()) return FieldValue(v.GetBool());
      break;
    case FieldType::number:
    case FieldType::integer:
      if (v.IsNumber()) return FieldValue(v.GetDouble());
      break;
    case FieldType::date:
      if (v.IsString() && parse_date(v.GetString())) return FieldValue(std::string(v.GetString()));
      if (v.IsString() && parse_iso_datetime(v.GetString()))
        return FieldValue(format_date(*parse_iso_datetime(v.GetString())));
      break;
    case FieldType::datetime:
      if (v.IsString()) {
        if (auto ms = parse_iso_datetime(v.GetString()))
          return FieldValue(format_salesforce_datetime(*ms));
        if (auto day = parse_date(v.GetString()))
          return FieldValue(format_salesforce_datetime(*day));
      }
      break;
    default:
      if (v.IsString()) return FieldValue(std::string(v.GetString(), v.GetStringLength()));
      break;
  }
  const char* type = salesforce_field_type(f);
  error = fmt::format(
      "Cannot deserialize instance of {} from {} value {} or request may be missing a required "
      "field",
      type,
      v.IsString()   ? "VALUE_STRING"
      : v.IsNumber() ? "VALUE_NUMBER"
                     : "VALUE",
      to_json(v));
  return std::nullopt;
}

}  // namespace

std::string SalesforceApi::etag(const Record& record) const {
  std::string basis =
      record.id + text_of(record.get("SystemModstamp")) + std::to_string(record.version);
  std::size_t a = std::hash<std::string>{}(basis);
  std::size_t b = std::hash<std::string>{}(basis + "#");
  std::string bytes(reinterpret_cast<const char*>(&a), sizeof a);
  bytes.append(reinterpret_cast<const char*>(&b), sizeof b);
  return "\"" + base64_encode(bytes) + "-gzip\"";
}

ObjectTable* SalesforceApi::table_for_id(const std::string& id18) {
  for (const ObjectDef* def : store_.objects()) {
    if (id18.compare(0, 3, def->key_prefix) == 0) return store_.table(def->name);
  }
  return nullptr;
}

std::string SalesforceApi::record_json(const ObjectTable& table, const Record& record,
                                       const std::vector<std::string>& fields,
                                       double version) const {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("attributes");
  writer.StartObject();
  writer.Key("type");
  write_string(writer, table.def.name);
  writer.Key("url");
  write_string(writer,
               salesforce_version_path(version) + "/sobjects/" + table.def.name + "/" + record.id);
  writer.EndObject();
  auto write_field = [&](const std::string& name) {
    write_string(writer, name);
    if (name == "Id")
      write_string(writer, record.id);
    else
      write_value(writer, record.get(name));
  };
  if (fields.empty()) {
    for (const auto& f : table.def.fields) write_field(f.name);
  } else {
    for (const auto& name : fields) write_field(name);
  }
  writer.EndObject();
  return buffer.GetString();
}

SalesforceApi::WriteOutcome SalesforceApi::create(ObjectTable& table, const std::string& body_json,
                                                  bool from_seed) {
  WriteOutcome out;
  auto doc = parse_json(body_json);
  if (!doc || !doc->IsObject()) {
    out.errors.push_back({"JSON_PARSER_ERROR", "Unexpected character in the JSON body", {}});
    out.status = 400;
    return out;
  }
  const ObjectDef& def = table.def;
  Record record;
  for (auto& member : doc->GetObject()) {
    std::string name(member.name.GetString(), member.name.GetStringLength());
    if (name == "attributes") continue;
    const FieldDef* f = def.field(name);
    if (f == nullptr) {
      out.errors.push_back({"INVALID_FIELD",
                            "No such column '" + name + "' on sobject of type " + def.name,
                            {name}});
      continue;
    }
    if (f->name == "Id") {
      auto id = member.value.IsString() ? normalize_salesforce_id(member.value.GetString())
                                        : std::nullopt;
      if (from_seed && id && id->compare(0, 3, def.key_prefix) == 0 &&
          table.find(*id, true) == nullptr) {
        record.id = *id;
        continue;
      }
      out.errors.push_back({"INVALID_FIELD_FOR_INSERT_UPDATE",
                            "Unable to create/update fields: Id. Please check the security "
                            "settings of this field and "
                            "verify that it is read/write for your profile or permission set.",
                            {"Id"}});
      continue;
    }
    if (!f->createable && !from_seed) {
      out.errors.push_back({"INVALID_FIELD_FOR_INSERT_UPDATE",
                            "Unable to create/update fields: " + f->name +
                                ". Please check the security settings of this field and verify "
                                "that it is read/write "
                                "for your profile or permission set.",
                            {f->name}});
      continue;
    }
    std::string error;
    auto value = convert(*f, member.value, error);
    if (!value) {
      out.errors.push_back({"JSON_PARSER_ERROR", error, {}});
      continue;
    }
    record.fields[f->name] = *value;
  }
  if (!out.errors.empty()) {
    out.status = 400;
    return out;
  }
  // Defaults the platform fills in.
  if (def.field("OwnerId") != nullptr && is_null(record.get("OwnerId")) &&
      !current_user_id_.empty()) {
    record.fields["OwnerId"] = current_user_id_;
  }
  for (const auto& f : def.fields) {
    if (f.type == FieldType::boolean && is_null(record.get(f.name)))
      record.fields[f.name] = f.name == "IsActive";
  }
  if (def.name == "Group" && is_null(record.get("Type")))
    record.fields["Type"] = std::string("Regular");
  if (def.name == "User") {
    if (is_null(record.get("UserType"))) record.fields["UserType"] = std::string("Standard");
    std::string first = text_of(record.get("FirstName"));
    record.fields["Name"] = (first.empty() ? "" : first + " ") + text_of(record.get("LastName"));
  }
  if (is_share(def)) {
    if (is_null(record.get("RowCause"))) record.fields["RowCause"] = std::string("Manual");
    if (def.name == "AccountShare") {
      for (const char* level : {"CaseAccessLevel", "ContactAccessLevel"}) {
        if (is_null(record.get(level))) record.fields[level] = std::string("None");
      }
    }
  }
  // Required fields.
  std::vector<std::string> missing;
  for (const auto& f : def.fields) {
    if (f.required && is_null(record.get(f.name))) missing.push_back(f.name);
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    out.errors.push_back(
        {"REQUIRED_FIELD_MISSING", "Required fields are missing: [" + list + "]", missing});
    out.status = 400;
    return out;
  }
  if (record.id.empty())
    record.id = make_salesforce_id(def.key_prefix, ++id_sequence_);
  else
    ++id_sequence_;
  record.fields["Id"] = record.id;
  record.sequence = store_.next_sequence();
  record.version = store_.next_version();
  // References, uniqueness and share rules: validate_write does the checks shared with update.
  Record* existing_share = nullptr;
  out.errors = validate_write(table, record, nullptr, &existing_share, from_seed);
  if (!out.errors.empty()) {
    out.status = 400;
    return out;
  }
  if (existing_share != nullptr) {
    // Re-sharing the same record with the same principal updates the Manual row in place.
    for (const auto& [name, value] : record.fields) {
      if (name.find("AccessLevel") != std::string::npos) existing_share->fields[name] = value;
    }
    stamp(def, *existing_share, false);
    out.id = existing_share->id;
    out.created = true;
    out.status = 201;
    return out;
  }
  stamp(def, record, true);
  out.id = record.id;
  out.created = true;
  out.status = 201;
  table.rows[record.id] = std::move(record);
  return out;
}

SalesforceApi::WriteOutcome SalesforceApi::update(ObjectTable& table, const std::string& id,
                                                  const std::string& body_json) {
  WriteOutcome out;
  out.id = id;
  out.status = 400;
  Record* existing = table.find(id, true);
  if (existing == nullptr) {
    out.errors.push_back({"NOT_FOUND", "The requested resource does not exist", {}});
    out.status = 404;
    return out;
  }
  if (existing->deleted) {
    out.errors.push_back({"ENTITY_IS_DELETED", "entity is deleted", {}});
    out.status = 404;
    return out;
  }
  auto doc = parse_json(body_json);
  if (!doc || !doc->IsObject()) {
    out.errors.push_back({"JSON_PARSER_ERROR", "Unexpected character in the JSON body", {}});
    return out;
  }
  const ObjectDef& def = table.def;
  if (is_share(def) && text_of(existing->get("RowCause")) != "Manual") {
    out.errors.push_back(
        {"INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id", {}});
    return out;
  }
  Record updated = *existing;
  for (auto& member : doc->GetObject()) {
    std::string name(member.name.GetString(), member.name.GetStringLength());
    if (name == "attributes") continue;
    const FieldDef* f = def.field(name);
    if (f == nullptr) {
      out.errors.push_back({"INVALID_FIELD",
                            "No such column '" + name + "' on sobject of type " + def.name,
                            {name}});
      continue;
    }
    if (f->name == "Id") {
      auto given = member.value.IsString() ? normalize_salesforce_id(member.value.GetString())
                                           : std::nullopt;
      if (given && *given == id) continue;
    }
    if (!f->updateable) {
      out.errors.push_back({"INVALID_FIELD_FOR_INSERT_UPDATE",
                            "Unable to create/update fields: " + f->name +
                                ". Please check the security settings of this field and verify "
                                "that it is read/write "
                                "for your profile or permission set.",
                            {f->name}});
      continue;
    }
    std::string error;
    auto value = convert(*f, member.value, error);
    if (!value) {
      out.errors.push_back({"JSON_PARSER_ERROR", error, {}});
      continue;
    }
    if (is_null(*value) && !f->nillable) {
      out.errors.push_back(
          {"REQUIRED_FIELD_MISSING", "Required fields are missing: [" + f->name + "]", {f->name}});
      continue;
    }
    updated.fields[f->name] = *value;
  }
  if (!out.errors.empty()) return out;
  if (def.name == "User") {
    std::string first = text_of(updated.get("FirstName"));
    updated.fields["Name"] = (first.empty() ? "" : first + " ") + text_of(updated.get("LastName"));
  }
  out.errors = validate_write(table, updated, existing, nullptr, false);
  if (!out.errors.empty()) return out;
  stamp(def, updated, false);
  *existing = std::move(updated);
  out.status = 204;
  return out;
}

SalesforceApi::WriteOutcome SalesforceApi::remove(const std::string& id) {
  WriteOutcome out;
  out.id = id;
  ObjectTable* table = table_for_id(id);
  Record* existing = table == nullptr ? nullptr : table->find(id, true);
  if (existing == nullptr) {
    out.errors.push_back({"NOT_FOUND", "The requested resource does not exist", {}});
    out.status = 404;
    return out;
  }
  if (existing->deleted) {
    out.errors.push_back({"ENTITY_IS_DELETED", "entity is deleted", {}});
    out.status = 404;
    return out;
  }
  if (table->def.name == "GroupMember") {
    table->rows.erase(id);  // memberships are not kept in the recycle bin
    out.status = 204;
    return out;
  }
  if (is_share(table->def)) {
    if (text_of(existing->get("RowCause")) != "Manual") {
      out.errors.push_back(
          {"INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id", {}});
      out.status = 400;
      return out;
    }
    table->rows.erase(id);  // share rows are not kept in the recycle bin
    out.status = 204;
    return out;
  }
  if (table->def.name == "User" || table->def.name == "Group") {
    out.errors.push_back({"INVALID_TYPE_FOR_OPERATION", "entity type cannot be deleted", {}});
    out.status = 400;
    return out;
  }
  existing->deleted = true;
  existing->deleted_at = clock_.now();
  existing->fields["IsDeleted"] = true;
  stamp(table->def, *existing, false);
  // Cascades: an account takes its opportunities with it; records take their share rows.
  std::string deleted_id = existing->id;
  if (table->def.name == "Account") {
    ObjectTable* opportunities = store_.table("Opportunity");
    for (Record* opp : opportunities->live_rows_in_order()) {
      if (text_of(opp->get("AccountId")) == deleted_id) (void)remove(opp->id);
    }
  }
  remove_shares_of(deleted_id);
  out.status = 204;
  return out;
}

void SalesforceApi::remove_shares_of(const std::string& id) {
  for (const char* share_object : {"AccountShare", "OpportunityShare"}) {
    ObjectTable* shares = store_.table(share_object);
    for (auto it = shares->rows.begin(); it != shares->rows.end();) {
      bool parent_gone = text_of(it->second.get("AccountId")) == id ||
                         text_of(it->second.get("OpportunityId")) == id;
      it = parent_gone ? shares->rows.erase(it) : std::next(it);
    }
  }
}

SalesforceApi::WriteOutcome SalesforceApi::upsert(ObjectTable& table, const std::string& field,
                                                  const std::string& value,
                                                  const std::string& body_json, bool update_only,
                                                  ExternalIdIndex* index) {
  WriteOutcome out;
  const FieldDef* f = table.def.field(field);
  auto doc = parse_json(body_json);
  if (!doc || !doc->IsObject()) {
    out.errors.push_back({"JSON_PARSER_ERROR", "Unexpected character in the JSON body", {}});
    out.status = 400;
    return out;
  }
  for (auto& member : doc->GetObject()) {
    std::string name = member.name.GetString();
    if (iequals(name, "Id")) {
      out.errors.push_back(
          {"INVALID_FIELD",
           "Unable to create/update fields: Id. Please check the security settings of this field "
           "and verify that it is read/write for your profile or permission set.",
           {"Id"}});
    } else if (iequals(name, f->name) &&
               !(member.value.IsString() && value == member.value.GetString())) {
      out.errors.push_back(
          {"INVALID_FIELD",
           "The external id field " + f->name + " in the body does not match the value in the URL",
           {f->name}});
    }
  }
  if (!out.errors.empty()) {
    out.status = 400;
    return out;
  }
  // Scan without sorting the whole table (bulk upserts into large tables stay linear); only the
  // few matches are put in creation order.
  std::vector<Record*> matches;
  auto matching = [&](Record& row) {
    if (row.deleted) return false;
    const auto& current = row.get(f->name);
    return std::holds_alternative<std::string>(current) && iequals(std::get<std::string>(current), value);
  };
  if (index != nullptr) {
    if (auto found = index->find(to_lower(value)); found != index->end()) {
      for (const auto& id : found->second) {
        if (Record* row = table.find(id); row != nullptr && matching(*row)) matches.push_back(row);
      }
    }
  } else {
    for (auto& [id, row] : table.rows) {
      if (matching(row)) matches.push_back(&row);
    }
  }
  std::sort(matches.begin(), matches.end(),
            [](const Record* a, const Record* b) { return a->sequence < b->sequence; });
  if (matches.size() > 1) {
    out.status = 300;
    for (Record* r : matches) out.matches.push_back(r->id);
    out.errors.push_back(
        {"MULTIPLE_CHOICES", "More than one record found for external id field " + f->name, {}});
    return out;
  }
  if (matches.size() == 1) {
    out = update(table, matches.front()->id, body_json);
    out.id = matches.front()->id;
    if (out.errors.empty()) out.status = 200;
    out.created = false;
    return out;
  }
  if (update_only) {
    out.status = 404;
    out.errors.push_back({"NOT_FOUND", "The requested resource does not exist", {}});
    return out;
  }
  (*doc).RemoveMember(f->name.c_str());
  rapidjson::Value key(f->name.c_str(), doc->GetAllocator());
  rapidjson::Value v(value.c_str(), doc->GetAllocator());
  doc->AddMember(key, v, doc->GetAllocator());
  WriteOutcome created = create(table, to_json(*doc));
  if (index != nullptr && created.errors.empty() && !created.id.empty()) (*index)[to_lower(value)].push_back(created.id);
  return created;
}

SalesforceApi::ExternalIdIndex SalesforceApi::index_external_id(ObjectTable& table, const std::string& field) {
  ExternalIdIndex index;
  for (auto& [id, row] : table.rows) {
    if (row.deleted) continue;
    const auto& current = row.get(field);
    if (std::holds_alternative<std::string>(current)) index[to_lower(std::get<std::string>(current))].push_back(id);
  }
  return index;
}

}  // namespace crmsync::emulators
