// Dataverse rows: create, retrieve, upsert by GUID or alternate key, delete, single properties,
// with ETag concurrency (If-Match / If-None-Match). Request bodies: dataverse_payload.cc.

#include <fmt/format.h>

#include <algorithm>

#include "tests/emulators/dataverse_api.h"
#include "tests/emulators/dataverse_responses.h"
#include "tests/emulators/dataverse_schema.h"
#include "tests/emulators/json_util.h"
#include "tests/emulators/odata_filter.h"

namespace crmsync::emulators {

namespace {

std::string text_of(const FieldValue& v) {
  return std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : "";
}

}  // namespace

std::string DataverseApi::entity_url(const DataverseCall& call, const ObjectTable& table,
                                     const std::string& id) const {
  return call.api_base + table.def.entity_set + "(" + id + ")";
}

void DataverseApi::touch(const ObjectDef& def, Record& record, bool creating) {
  std::string now = format_iso_seconds(clock_.now());
  if (creating && def.field("createdon")) record.fields["createdon"] = now;
  if (def.field("modifiedon")) record.fields["modifiedon"] = now;
  record.version = store_.next_version();
  record.fields["versionnumber"] = static_cast<double>(record.version);
}

void DataverseApi::forget_access(const ObjectDef& def, const std::string& id) {
  shares_.erase(def.entity_set + "(" + id + ")");
  if (def.entity_set == "teams") team_members_.erase(id);
  if (def.entity_set == "systemusers") {
    for (auto& [team, members] : team_members_) members.erase(id);
  }
}

std::string DataverseApi::owner_logical_name(const std::string& id) const {
  if (store_.table("team")->find(id) != nullptr) return "team";
  return "systemuser";
}

std::optional<HttpResponse> DataverseApi::parse_target(const DataverseCall& call,
                                                       const std::string& segment, Target& target) {
  (void)call;
  auto open = segment.find('(');
  if (segment.empty() || segment.back() != ')' || open == std::string::npos) {
    return dataverse_error(400, "0x0", "Bad Request - Error in query syntax.");
  }
  std::string key = segment.substr(open + 1, segment.size() - open - 2);
  if (!key.empty() && key.front() == '{' && key.back() == '}') key = key.substr(1, key.size() - 2);
  if (is_dataverse_guid(key)) {
    target.id = to_lower(key);
    return std::nullopt;
  }
  // Alternate key: name='value'[,name2=value2]
  std::size_t pos = 0;
  while (pos < key.size()) {
    auto eq = key.find('=', pos);
    if (eq == std::string::npos)
      return dataverse_error(400, "0x0", "Bad Request - Error in query syntax.");
    std::string name = key.substr(pos, eq - pos);
    std::string value;
    pos = eq + 1;
    if (pos < key.size() && key[pos] == '\'') {
      ++pos;
      while (true) {
        if (pos >= key.size())
          return dataverse_error(400, "0x0", "Bad Request - Error in query syntax.");
        if (key[pos] == '\'') {
          if (pos + 1 < key.size() && key[pos + 1] == '\'') {
            value.push_back('\'');
            pos += 2;
            continue;
          }
          ++pos;
          break;
        }
        value.push_back(key[pos++]);
      }
    } else {
      auto comma = key.find(',', pos);
      value = key.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      pos = comma == std::string::npos ? key.size() : comma;
    }
    const FieldDef* f = target.table->def.field(name);
    if (f == nullptr || !f->external_id || f->name != name) {
      return dataverse_error(400, "0x80060888",
                             "The key attribute(s) '" + name +
                                 "' do not form a defined alternate key of entity '" +
                                 target.table->def.name + "'.");
    }
    target.alternate_key.emplace_back(f->name, value);
    if (pos < key.size()) {
      if (key[pos] != ',')
        return dataverse_error(400, "0x0", "Bad Request - Error in query syntax.");
      ++pos;
    }
  }
  return std::nullopt;
}

Record* DataverseApi::find(Target& target) {
  if (!target.id.empty()) return target.table->find(target.id);
  // Alternate keys are unique: the first live match is the one (no need to sort the table).
  for (auto& [id, row] : target.table->rows) {
    if (row.deleted) continue;
    bool all = true;
    for (const auto& [field, value] : target.alternate_key) {
      const FieldValue& v = row.get(field);
      all =
          all && std::holds_alternative<std::string>(v) && iequals(std::get<std::string>(v), value);
    }
    if (all) return &row;
  }
  return nullptr;
}

std::string DataverseApi::entity_json(const DataverseCall& call, const ObjectTable& table,
                                      const Record& record, const std::vector<std::string>& select,
                                      bool with_context) const {
  bool annotations = prefers(call, "odata.include-annotations");
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  const ObjectDef& def = table.def;
  if (with_context) {
    std::string list;
    for (const auto& s : select) list += (list.empty() ? "" : ",") + s;
    writer.Key("@odata.context");
    write_string(writer, call.api_base + "$metadata#" + def.entity_set +
                             (list.empty() ? "" : "(" + list + ")") + "/$entity");
  }
  writer.Key("@odata.etag");
  write_string(writer, etag_of(record));
  auto write_field = [&](const FieldDef& f) {
    const FieldValue& v = f.name == def.primary_key ? FieldValue(record.id) : record.get(f.name);
    if (annotations && f.type == FieldType::reference && !is_null(v)) {
      std::string logical = f.navigation == "ownerid" ? owner_logical_name(text_of(v))
                            : !f.reference_to.empty()
                                ? store_.table_by_entity_set(f.reference_to.front())->def.name
                                : std::string();
      write_string(writer, f.name + "@Microsoft.Dynamics.CRM.lookuplogicalname");
      write_string(writer, logical);
      if (!f.navigation.empty()) {
        write_string(writer, f.name + "@Microsoft.Dynamics.CRM.associatednavigationproperty");
        write_string(writer, f.navigation);
      }
    }
    write_string(writer, f.name);
    write_value(writer, v);
  };
  for (const auto& f : def.fields) {
    bool selected = select.empty() || f.name == def.primary_key ||
                    std::find(select.begin(), select.end(), f.name) != select.end();
    if (selected) write_field(f);
  }
  writer.EndObject();
  return buffer.GetString();
}

HttpResponse DataverseApi::create(const DataverseCall& call, ObjectTable& table) {
  std::vector<std::string> select;
  if (auto error = parse_select(call, table.def, select)) return *error;
  Record record;
  record.id = new_guid();
  std::string generated = record.id;
  if (auto error = apply_body(call, table, record, call.body, true)) return *error;
  Record* existing = table.find(record.id, true);
  if (existing != nullptr && !existing->deleted) {
    return dataverse_error(412, "0x80040237", "Cannot insert duplicate key.");
  }
  record.fields[table.def.primary_key] = record.id;
  record.sequence = store_.next_sequence();
  touch(table.def, record, true);
  std::string id = record.id;
  table.rows[id] = std::move(record);
  count_write(1);
  Record& stored = table.rows[id];
  if (prefers(call, "return=representation")) {
    HttpResponse response = dataverse_json(201, entity_json(call, table, stored, select, true));
    response.set_header("ETag", etag_of(stored));
    response.set_header("OData-EntityId", entity_url(call, table, id));
    response.set_header("Location", entity_url(call, table, id));
    response.set_header("Preference-Applied", "return=representation");
    return response;
  }
  HttpResponse response = dataverse_empty(204);
  response.set_header("OData-EntityId", entity_url(call, table, id));
  return response;
}

HttpResponse DataverseApi::entity(const DataverseCall& call, Target target) {
  ObjectTable& table = *target.table;
  const ObjectDef& def = table.def;
  Record* record = find(target);
  std::string if_match = call.header("If-Match");
  std::string if_none_match = call.header("If-None-Match");
  std::string key_text = target.id;
  if (key_text.empty()) {
    for (const auto& [field, value] : target.alternate_key)
      key_text += (key_text.empty() ? "" : ",") + field + "='" + value + "'";
  }
  auto missing = [&]() {
    return dataverse_error(404, "0x80040217", dataverse_not_found_message(def, key_text));
  };

  if (!target.property.empty()) {
    const FieldDef* f = def.field(target.property);
    if (f == nullptr || f->name != target.property) {
      return dataverse_error(404, "0x0",
                             "Resource not found for the segment '" + target.property + "'.");
    }
    if (record == nullptr) return missing();
    if (call.method == "GET") {
      rapidjson::StringBuffer buffer;
      JsonWriter writer(buffer);
      writer.StartObject();
      writer.Key("@odata.context");
      write_string(writer, call.api_base + "$metadata#" + def.entity_set + "(" + record->id + ")/" +
                               f->name);
      writer.Key("value");
      write_value(writer, record->get(f->name));
      writer.EndObject();
      return dataverse_json(200, buffer.GetString());
    }
    if (call.method != "PUT" && call.method != "DELETE")
      return dataverse_error(405, "0x80060888", "Method not allowed on a property.");
    std::string body = "{}";
    if (call.method == "PUT") {
      auto doc = parse_json(call.body);
      if (!doc || !doc->IsObject() || !doc->HasMember("value"))
        return dataverse_payload_error(def, "Expected {\"value\":…}.");
      rapidjson::Document patch;
      patch.SetObject();
      rapidjson::Value key(f->name.c_str(), patch.GetAllocator());
      rapidjson::Value value((*doc)["value"], patch.GetAllocator());
      patch.AddMember(key, value, patch.GetAllocator());
      body = to_json(patch);
    } else {
      body = "{\"" + f->name + "\":null}";
    }
    Record updated = *record;
    if (auto error = apply_body(call, table, updated, body, false)) return *error;
    touch(def, updated, false);
    *record = std::move(updated);
    count_write(1);
    return dataverse_empty(204);
  }

  if (call.method == "GET") {
    if (record == nullptr) return missing();
    if (!if_none_match.empty() && if_none_match == etag_of(*record) &&
        !prefers(call, "odata.include-annotations")) {
      HttpResponse response = dataverse_empty(304);
      response.set_header("ETag", etag_of(*record));
      return response;
    }
    std::vector<std::string> select;
    if (auto error = parse_select(call, def, select)) return *error;
    HttpResponse response = dataverse_json(200, entity_json(call, table, *record, select, true));
    response.set_header("ETag", etag_of(*record));
    return response;
  }
  if (call.method == "DELETE") {
    if (record == nullptr) return missing();
    if (!if_match.empty() && if_match != "*" && if_match != etag_of(*record)) {
      return dataverse_error(
          412, "0x80060882",
          "The version of the existing record doesn't match the RowVersion property provided.");
    }
    record->deleted = true;
    record->deleted_at = clock_.now();
    record->version = store_.next_version();
    forget_access(def, record->id);
    count_write(1);
    return dataverse_empty(204);
  }
  if (call.method != "PATCH")
    return dataverse_error(405, "0x80060888",
                           "The HTTP method '" + call.method + "' is not allowed on an entity.");

  bool wants_body = prefers(call, "return=representation");
  if (record != nullptr) {
    if (if_none_match == "*") {
      return dataverse_error(412, "0x80060892",
                             "A record with matching key values already exists.");
    }
    if (!if_match.empty() && if_match != "*" && if_match != etag_of(*record)) {
      return dataverse_error(
          412, "0x80060882",
          "The version of the existing record doesn't match the RowVersion property provided.");
    }
    Record updated = *record;
    if (auto error = apply_body(call, table, updated, call.body, false)) return *error;
    for (const auto& [field, value] : target.alternate_key)
      updated.fields[field] = value;  // keys in the URL win
    touch(def, updated, false);
    *record = std::move(updated);
    count_write(1);
    if (wants_body) {
      HttpResponse response = dataverse_json(200, entity_json(call, table, *record, {}, true));
      response.set_header("ETag", etag_of(*record));
      response.set_header("OData-EntityId", entity_url(call, table, record->id));
      response.set_header("Preference-Applied", "return=representation");
      return response;
    }
    HttpResponse response = dataverse_empty(204);
    response.set_header("OData-EntityId", entity_url(call, table, record->id));
    return response;
  }
  if (if_match == "*" || (!if_match.empty())) return missing();
  // Upsert: create the row with the addressed key.
  Record created;
  created.id = target.id.empty() ? new_guid() : target.id;
  if (auto error = apply_body(call, table, created, call.body, true)) return *error;
  if (!target.id.empty()) created.id = target.id;
  for (const auto& [field, value] : target.alternate_key) created.fields[field] = value;
  for (const auto& f : def.fields) {
    if (!f.unique || !std::holds_alternative<std::string>(created.get(f.name))) continue;
    for (auto& [other_id, other] : table.rows) {
      if (other.deleted) continue;
      if (std::holds_alternative<std::string>(other.get(f.name)) &&
          iequals(std::get<std::string>(other.get(f.name)),
                  std::get<std::string>(created.get(f.name)))) {
        return dataverse_duplicate_key();
      }
    }
  }
  created.fields[def.primary_key] = created.id;
  created.sequence = store_.next_sequence();
  touch(def, created, true);
  std::string id = created.id;
  table.rows[id] = std::move(created);
  count_write(1);
  std::string entity_id = target.id.empty() ? call.api_base + def.entity_set + "(" + key_text + ")"
                                            : entity_url(call, table, id);
  if (wants_body) {
    HttpResponse response = dataverse_json(201, entity_json(call, table, table.rows[id], {}, true));
    response.set_header("ETag", etag_of(table.rows[id]));
    response.set_header("OData-EntityId", entity_id);
    response.set_header("Preference-Applied", "return=representation");
    return response;
  }
  HttpResponse response = dataverse_empty(204);
  response.set_header("OData-EntityId", entity_id);
  return response;
}

}  // namespace crmsync::emulators
