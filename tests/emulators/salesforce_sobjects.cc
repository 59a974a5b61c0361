// Salesforce /sobjects resources: global describe, describe, rows and external-id addressing,
// with ETag / If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since.

#include <fmt/format.h>

#include "tests/emulators/json_util.h"
#include "tests/emulators/salesforce_api.h"
#include "tests/emulators/salesforce_ids.h"
#include "tests/emulators/salesforce_responses.h"
#include "tests/emulators/salesforce_schema.h"

namespace crmsync::emulators {

namespace {

HttpResponse method_not_allowed(const std::string& method, const char* allowed) {
  return salesforce_error(405, "METHOD_NOT_ALLOWED",
                          "HTTP Method '" + method + "' not allowed. Allowed are " + allowed);
}

HttpResponse not_found() {
  return salesforce_error(404, "NOT_FOUND", "The requested resource does not exist");
}

HttpResponse precondition_failed() {
  return salesforce_error(412, "PRECONDITION_FAILED",
                          "The requested operation could not be performed, because it failed one "
                          "or more preconditions");
}

void write_object_summary(JsonWriter& writer, const ObjectDef& def, double version) {
  std::string base = salesforce_version_path(version) + "/sobjects/" + def.name;
  bool share = def.name.find("Share") != std::string::npos;
  writer.StartObject();
  auto flag = [&](const char* key, bool value) {
    writer.Key(key);
    writer.Bool(value);
  };
  writer.Key("name");
  write_string(writer, def.name);
  writer.Key("label");
  write_string(writer, def.label);
  writer.Key("keyPrefix");
  write_string(writer, def.key_prefix);
  flag("createable", true);
  flag("updateable", true);
  flag("deletable", def.name != "User" && def.name != "Group");
  flag("queryable", true);
  flag("retrieveable", true);
  flag("replicateable", !share);
  flag("custom", false);
  writer.Key("urls");
  writer.StartObject();
  writer.Key("sobject");
  write_string(writer, base);
  writer.Key("describe");
  write_string(writer, base + "/describe");
  writer.Key("rowTemplate");
  write_string(writer, base + "/{ID}");
  writer.EndObject();
  writer.EndObject();
}

}  // namespace

HttpResponse SalesforceApi::global_describe(const SalesforceCall& call) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("encoding");
  write_string(writer, "UTF-8");
  writer.Key("maxBatchSize");
  writer.Int(200);
  writer.Key("sobjects");
  writer.StartArray();
  for (const ObjectDef* def : store_.objects()) write_object_summary(writer, *def, call.version);
  writer.EndArray();
  writer.EndObject();
  return salesforce_json(200, buffer.GetString());
}

HttpResponse SalesforceApi::describe(const SalesforceCall& call, ObjectTable& table) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  const ObjectDef& def = table.def;
  writer.StartObject();
  writer.Key("name");
  write_string(writer, def.name);
  writer.Key("label");
  write_string(writer, def.label);
  writer.Key("keyPrefix");
  write_string(writer, def.key_prefix);
  writer.Key("fields");
  writer.StartArray();
  for (const auto& f : def.fields) {
    writer.StartObject();
    writer.Key("name");
    write_string(writer, f.name);
    writer.Key("label");
    write_string(writer, f.name);
    writer.Key("type");
    write_string(writer, salesforce_field_type(f));
    auto flag = [&](const char* key, bool value) {
      writer.Key(key);
      writer.Bool(value);
    };
    flag("externalId", f.external_id);
    flag("idLookup", f.external_id || f.name == "Id");
    flag("unique", f.unique);
    flag("createable", f.createable);
    flag("updateable", f.updateable);
    flag("nillable", f.nillable);
    flag("custom", f.name.size() > 3 && f.name.compare(f.name.size() - 3, 3, "__c") == 0);
    flag("caseSensitive", false);
    writer.Key("length");
    writer.Int(f.type == FieldType::string || f.type == FieldType::picklist ? 255
               : f.type == FieldType::textarea                              ? 32000
               : f.type == FieldType::id || f.type == FieldType::reference  ? 18
                                                                            : 0);
    writer.Key("referenceTo");
    writer.StartArray();
    for (const auto& r : f.reference_to) write_string(writer, r);
    writer.EndArray();
    writer.Key("relationshipName");
    if (f.type == FieldType::reference && f.name.size() > 2 &&
        f.name.compare(f.name.size() - 2, 2, "Id") == 0) {
      write_string(writer, f.name.substr(0, f.name.size() - 2));
    } else {
      writer.Null();
    }
    writer.EndObject();
  }
  writer.EndArray();
  writer.Key("urls");
  writer.StartObject();
  writer.Key("sobject");
  write_string(writer, salesforce_version_path(call.version) + "/sobjects/" + def.name);
  writer.EndObject();
  writer.EndObject();
  return salesforce_json(200, buffer.GetString());
}

HttpResponse SalesforceApi::sobjects(const SalesforceCall& call) {
  const auto& s = call.segments;
  if (s.size() == 1) {
    if (call.method != "GET" && call.method != "HEAD")
      return method_not_allowed(call.method, "HEAD,GET");
    return global_describe(call);
  }
  ObjectTable* table = store_.table(s[1]);
  if (table == nullptr) return not_found();
  if (s.size() == 2) {
    if (call.method == "POST") {
      auto outcome = create(*table, call.body);
      if (!outcome.errors.empty()) return salesforce_errors(outcome.status, outcome.errors);
      count_write(1);
      HttpResponse response =
          salesforce_json(201, salesforce_save_result(outcome.id, {}, false, false));
      response.set_header("Location", salesforce_version_path(call.version) + "/sobjects/" +
                                          table->def.name + "/" + outcome.id);
      return response;
    }
    if (call.method != "GET" && call.method != "HEAD")
      return method_not_allowed(call.method, "HEAD,GET,POST");
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    writer.Key("objectDescribe");
    write_object_summary(writer, table->def, call.version);
    writer.Key("recentItems");
    writer.StartArray();
    writer.EndArray();
    writer.EndObject();
    return salesforce_json(200, buffer.GetString());
  }
  if (s.size() == 3) {
    if (s[2] == "describe") {
      if (call.method != "GET" && call.method != "HEAD")
        return method_not_allowed(call.method, "HEAD,GET");
      return describe(call, *table);
    }
    if (s[2] == "updated" || s[2] == "deleted") {
      if (call.method != "GET") return method_not_allowed(call.method, "HEAD,GET");
      return s[2] == "updated" ? updated(call, *table) : deleted(call, *table);
    }
    return row(call, *table, s[2]);
  }
  if (s.size() == 4) return by_external_id(call, *table, s[2], s[3]);
  return not_found();
}

HttpResponse SalesforceApi::row(const SalesforceCall& call, ObjectTable& table,
                                const std::string& id_text) {
  auto id = normalize_salesforce_id(id_text);
  if (!id) {
    if (table.def.field(id_text) == nullptr || !table.def.field(id_text)->external_id) {
      return salesforce_error(
          404, "NOT_FOUND",
          "Provided external ID field does not exist or is not accessible: " + id_text);
    }
    return method_not_allowed(call.method, "HEAD,GET,PATCH,DELETE");
  }
  if (id->compare(0, 3, table.def.key_prefix) != 0) return not_found();
  Record* record = table.find(*id, true);
  if (record == nullptr) return not_found();
  const HttpRequest& outer = *call.outer;
  bool has_etag = table.def.name == "Account";
  std::string current_etag = etag(*record);
  auto etag_listed = [&](const std::string& header) {
    if (header == "*") return true;
    std::size_t start = 0;
    while (start < header.size()) {
      auto comma = header.find(',', start);
      std::string item =
          header.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      while (!item.empty() && item.front() == ' ') item.erase(item.begin());
      while (!item.empty() && item.back() == ' ') item.pop_back();
      if (item == current_etag) return true;
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return false;
  };
  const FieldValue& last_modified = record->get("LastModifiedDate");
  EpochMs modified = std::holds_alternative<std::string>(last_modified)
                         ? parse_iso_datetime(std::get<std::string>(last_modified)).value_or(0)
                         : 0;

  if (call.method == "GET" || call.method == "HEAD") {
    if (record->deleted) return salesforce_error(404, "ENTITY_IS_DELETED", "entity is deleted");
    if (has_etag && outer.has_header("If-Match") && !etag_listed(outer.header("If-Match")))
      return precondition_failed();
    if (has_etag && outer.has_header("If-None-Match") &&
        etag_listed(outer.header("If-None-Match"))) {
      HttpResponse response;
      response.status = 304;
      response.set_header("ETag", current_etag);
      return response;
    }
    if (outer.has_header("If-Modified-Since")) {
      auto since = parse_http_date(outer.header("If-Modified-Since"));
      if (since && modified / 1000 <= *since / 1000) {
        HttpResponse response;
        response.status = 304;
        return response;
      }
    }
    std::vector<std::string> fields;
    auto it = call.query.find("fields");
    if (it != call.query.end()) {
      std::string list = it->second;
      std::size_t start = 0;
      fields.push_back("Id");
      while (start <= list.size()) {
        auto comma = list.find(',', start);
        std::string name =
            list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        while (!name.empty() && name.front() == ' ') name.erase(name.begin());
        while (!name.empty() && name.back() == ' ') name.pop_back();
        const FieldDef* f = table.def.field(name);
        if (f == nullptr) {
          return salesforce_error(
              400, "INVALID_FIELD",
              "No such column '" + name + "' on entity '" + table.def.name + "'.");
        }
        if (f->name != "Id") fields.push_back(f->name);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
    HttpResponse response = salesforce_json(200, record_json(table, *record, fields, call.version));
    if (has_etag) response.set_header("ETag", current_etag);
    response.set_header("Last-Modified", format_http_date(modified));
    return response;
  }
  if (call.method == "PATCH") {
    if (has_etag && outer.has_header("If-Match") && !etag_listed(outer.header("If-Match")))
      return precondition_failed();
    if (has_etag && outer.has_header("If-None-Match") && etag_listed(outer.header("If-None-Match")))
      return precondition_failed();
    if (outer.has_header("If-Unmodified-Since")) {
      auto since = parse_http_date(outer.header("If-Unmodified-Since"));
      if (!since)
        return salesforce_error(400, "INVALID_HEADER_TYPE", "Invalid If-Unmodified-Since header");
      if (modified / 1000 > *since / 1000) return precondition_failed();
    }
    auto outcome = update(table, *id, call.body);
    if (!outcome.errors.empty()) return salesforce_errors(outcome.status, outcome.errors);
    count_write(1);
    HttpResponse response;
    response.status = 204;
    return response;
  }
  if (call.method == "DELETE") {
    auto outcome = remove(*id);
    if (!outcome.errors.empty()) return salesforce_errors(outcome.status, outcome.errors);
    count_write(1);
    HttpResponse response;
    response.status = 204;
    return response;
  }
  return method_not_allowed(call.method, "HEAD,GET,PATCH,DELETE");
}

HttpResponse SalesforceApi::by_external_id(const SalesforceCall& call, ObjectTable& table,
                                           const std::string& field, const std::string& value) {
  const FieldDef* f = table.def.field(field);
  if (f == nullptr || !f->external_id) {
    return salesforce_error(
        404, "NOT_FOUND",
        "Provided external ID field does not exist or is not accessible: " + field);
  }
  if (call.method == "PATCH") {
    bool update_only = call.query.count("updateOnly") > 0 && call.query.at("updateOnly") == "true";
    auto outcome = upsert(table, f->name, value, call.body, update_only);
    if (outcome.status == 300) {
      std::string body = "[";
      for (std::size_t i = 0; i < outcome.matches.size(); ++i) {
        body += (i ? ",\"" : "\"") + salesforce_version_path(call.version) + "/sobjects/" +
                table.def.name + "/" + outcome.matches[i] + "\"";
      }
      return salesforce_json(300, body + "]");
    }
    if (!outcome.errors.empty()) return salesforce_errors(outcome.status, outcome.errors);
    count_write(1);
    if (!outcome.created && call.version < 46.0) {
      HttpResponse response;
      response.status = 204;
      return response;
    }
    HttpResponse response = salesforce_json(
        outcome.created ? 201 : 200,
        salesforce_save_result(outcome.id, {}, call.version >= 46.0, outcome.created));
    if (outcome.created) {
      response.set_header("Location", salesforce_version_path(call.version) + "/sobjects/" +
                                          table.def.name + "/" + outcome.id);
    }
    return response;
  }
  if (call.method != "GET" && call.method != "HEAD" && call.method != "DELETE") {
    return method_not_allowed(call.method, "HEAD,GET,PATCH,DELETE");
  }
  std::vector<Record*> matches;
  for (Record* r : table.live_rows_in_order()) {
    if (std::holds_alternative<std::string>(r->get(f->name)) &&
        iequals(std::get<std::string>(r->get(f->name)), value)) {
      matches.push_back(r);
    }
  }
  if (matches.empty()) return not_found();
  if (matches.size() > 1) {
    std::string body = "[";
    for (std::size_t i = 0; i < matches.size(); ++i) {
      body += (i ? ",\"" : "\"") + salesforce_version_path(call.version) + "/sobjects/" +
              table.def.name + "/" + matches[i]->id + "\"";
    }
    return salesforce_json(300, body + "]");
  }
  if (call.method == "DELETE") {
    auto outcome = remove(matches.front()->id);
    if (!outcome.errors.empty()) return salesforce_errors(outcome.status, outcome.errors);
    count_write(1);
    HttpResponse response;
    response.status = 204;
    return response;
  }
  return salesforce_json(200, record_json(table, *matches.front(), {}, call.version));
}

}  // namespace crmsync::emulators
