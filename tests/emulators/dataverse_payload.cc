// Dataverse request bodies: typed columns, read-only checks, @odata.bind lookups (relative,
// absolute, alternate-key and $n forms), owner and business-unit defaults, alternate-key
// uniqueness.

#include <algorithm>

#include "tests/emulators/dataverse_api.h"
#include "tests/emulators/dataverse_responses.h"
#include "tests/emulators/dataverse_schema.h"
#include "tests/emulators/json_util.h"

namespace crmsync::emulators {

namespace {

std::string text_of(const FieldValue& v) {
  return std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : "";
}

}  // namespace

std::optional<HttpResponse> DataverseApi::resolve_bind(const DataverseCall& call,
                                                       const FieldDef& lookup,
                                                       const std::string& value, std::string& id) {
  std::string ref = value;
  if (!ref.empty() && ref.front() == '$' && call.content_ids != nullptr) {
    auto it = call.content_ids->find(ref);
    if (it == call.content_ids->end()) {
      return dataverse_error(
          400, "0x0", "Content-ID Reference: '" + ref + "' does not exist in the batch context.");
    }
    ref = it->second;
  }
  auto api = ref.find("/api/data/v9.");
  if (api != std::string::npos) ref = ref.substr(ref.find('/', api + 11) + 1);
  while (!ref.empty() && ref.front() == '/') ref.erase(ref.begin());
  auto open = ref.find('(');
  std::string set = ref.substr(0, open);
  ObjectTable* table = store_.table_by_entity_set(set);
  if (table == nullptr || open == std::string::npos ||
      std::find(lookup.reference_to.begin(), lookup.reference_to.end(), set) ==
          lookup.reference_to.end()) {
    return dataverse_error(
        400, "0x80048d19",
        "Error identified in Payload provided by the user: the navigation property '" +
            lookup.navigation + "' cannot bind to '" + value + "'.");
  }
  Target target;
  target.table = table;
  if (auto error = parse_target(call, ref, target)) return error;
  Record* r = find(target);
  if (r == nullptr)
    return dataverse_error(
        404, "0x80040217",
        dataverse_not_found_message(table->def, target.id.empty() ? ref : target.id));
  id = r->id;
  return std::nullopt;
}

std::optional<HttpResponse> DataverseApi::apply_body(const DataverseCall& call, ObjectTable& table,
                                                     Record& record, const std::string& body,
                                                     bool creating) {
  const ObjectDef& def = table.def;
  auto doc = parse_json(body.empty() ? "{}" : body);
  if (!doc || !doc->IsObject())
    return dataverse_payload_error(def, "The request body is not a JSON object.");
  for (auto& member : doc->GetObject()) {
    std::string name(member.name.GetString(), member.name.GetStringLength());
    auto at = name.find('@');
    if (at != std::string::npos) {
      std::string annotation = name.substr(at);
      if (annotation != "@odata.bind") continue;  // other instance annotations carry no data
      std::string navigation = name.substr(0, at);
      const FieldDef* f = dataverse_navigation(def, navigation);
      if (f == nullptr) {
        return dataverse_error(
            400, "0x0",
            "An undeclared property '" + navigation +
                "' which only has property annotations in the payload but no property value was "
                "found in the payload. In OData, only declared navigation properties and declared "
                "named streams can be represented as properties without values.");
      }
      if (member.value.IsNull()) {
        if (f->navigation == "ownerid")
          return dataverse_payload_error(def, "ownerid cannot be cleared.");
        record.fields[f->name] = std::monostate{};
        continue;
      }
      if (!member.value.IsString())
        return dataverse_payload_error(def, "An @odata.bind value must be a string.");
      std::string id;
      if (auto error = resolve_bind(call, *f, member.value.GetString(), id)) return error;
      record.fields[f->name] = id;
      continue;
    }
    const FieldDef* f = def.field(name);
    if (f == nullptr || f->name != name) {
      if (dataverse_navigation(def, name) != nullptr && member.value.IsNull()) {
        record.fields[dataverse_navigation(def, name)->name] = std::monostate{};
        continue;
      }
      return dataverse_error(
          400, "0x0",
          "The property '" + name + "' does not exist on type 'Microsoft.Dynamics.CRM." + def.name +
              "'. Make sure to only use property names that are defined by the type or mark the "
              "type as open type.");
    }
    if (f->name == def.primary_key) {
      std::string given = member.value.IsString() ? to_lower(member.value.GetString()) : "";
      if (!is_dataverse_guid(given))
        return dataverse_payload_error(
            def, "Cannot convert the literal to the expected type 'Edm.Guid'.");
      if (creating)
        record.id = given;
      else if (given != record.id)
        return dataverse_payload_error(def, "The primary key cannot be changed.");
      continue;
    }
    if (!(creating ? f->createable : f->updateable)) {
      return dataverse_payload_error(def, "The property '" + f->name + "' is read-only.");
    }
    const rapidjson::Value& v = member.value;
    FieldValue value;
    bool ok = true;
    if (!v.IsNull()) {
      switch (f->type) {
        case FieldType::boolean:
          ok = v.IsBool();
          if (ok) value = v.GetBool();
          break;
        case FieldType::number:
        case FieldType::integer:
          ok = v.IsNumber();
          if (ok) value = v.GetDouble();
          break;
        case FieldType::date:
          ok = v.IsString() && parse_date(v.GetString()).has_value();
          if (ok) value = std::string(v.GetString());
          break;
        case FieldType::datetime: {
          auto ms = v.IsString() ? parse_iso_datetime(v.GetString()) : std::nullopt;
          ok = ms.has_value();
          if (ok) value = format_iso_seconds(*ms);
          break;
        }
        default:
          ok = v.IsString();
          if (ok) value = std::string(v.GetString(), v.GetStringLength());
          break;
      }
    }
    if (!ok) {
      return dataverse_payload_error(def, "Cannot convert the literal '" + to_json(v) +
                                              "' to the expected type of property '" + f->name +
                                              "'.");
    }
    record.fields[f->name] = value;
  }
  // Owner defaults to the caller; the owning business unit follows the owner.
  if (def.field("_ownerid_value") != nullptr) {
    if (is_null(record.get("_ownerid_value"))) record.fields["_ownerid_value"] = current_user_id_;
    std::string owner = text_of(record.get("_ownerid_value"));
    ObjectTable* owners = store_.table(owner_logical_name(owner));
    Record* o = owners->find(owner);
    if (o != nullptr) record.fields["_owningbusinessunit_value"] = o->get("_businessunitid_value");
    if (creating && is_null(record.get("statecode"))) record.fields["statecode"] = 0.0;
  }
  if (def.name == "systemuser" && creating) {
    if (is_null(record.get("_businessunitid_value")))
      record.fields["_businessunitid_value"] = root_business_unit_id_;
    if (is_null(record.get("isdisabled"))) record.fields["isdisabled"] = false;
    if (is_null(record.get("fullname"))) {
      std::string first = text_of(record.get("firstname"));
      record.fields["fullname"] =
          (first.empty() ? "" : first + " ") + text_of(record.get("lastname"));
    }
  }
  if (def.name == "team" && creating) {
    if (is_null(record.get("_businessunitid_value")))
      record.fields["_businessunitid_value"] = root_business_unit_id_;
    if (is_null(record.get("teamtype"))) record.fields["teamtype"] = 0.0;
  }
  for (const auto& f : def.fields) {
    if (!f.unique) continue;
    const FieldValue& v = record.get(f.name);
    if (!std::holds_alternative<std::string>(v)) continue;
    for (auto& [other_id, other] : table.rows) {
      if (other.deleted) continue;
      if (other.id != record.id && std::holds_alternative<std::string>(other.get(f.name)) &&
          iequals(std::get<std::string>(other.get(f.name)), std::get<std::string>(v))) {
        return dataverse_duplicate_key();
      }
    }
  }
  return std::nullopt;
}

}  // namespace crmsync::emulators
