// Dataverse sharing: GrantAccess, ModifyAccess, RevokeAccess and
// RetrieveSharedPrincipalsAndAccess over an in-memory share table.

#include <fmt/format.h>

#include <regex>

#include "tests/emulators/dataverse_api.h"
#include "tests/emulators/dataverse_responses.h"
#include "tests/emulators/json_util.h"

namespace crmsync::emulators {

namespace {

// "Microsoft.Dynamics.CRM.account" or "#Microsoft.Dynamics.CRM.account" -> "account"
std::string logical_from_type(std::string type) {
  if (!type.empty() && type.front() == '#') type.erase(type.begin());
  const std::string prefix = "Microsoft.Dynamics.CRM.";
  return type.rfind(prefix, 0) == 0 ? type.substr(prefix.size()) : std::string();
}

}  // namespace

HttpResponse DataverseApi::sharing_action(const DataverseCall& call, const std::string& action) {
  auto doc = parse_json(call.body);
  if (!doc || !doc->IsObject() || !doc->HasMember("Target") || !(*doc)["Target"].IsObject()) {
    return dataverse_error(400, "0x80040203", action + ": Target is required.");
  }
  // The record: {"accountid": "...", "@odata.type": "Microsoft.Dynamics.CRM.account"}
  const rapidjson::Value& target_json = (*doc)["Target"];
  std::string logical = logical_from_type(string_member(target_json, "@odata.type"));
  ObjectTable* table = logical.empty() ? nullptr : store_.table(logical);
  if (table == nullptr || (logical != "account" && logical != "opportunity")) {
    return dataverse_error(400, "0x80040203",
                           action + ": Target must be an account or opportunity with @odata.type.");
  }
  std::string record_id = to_lower(string_member(target_json, table->def.primary_key.c_str()));
  if (table->find(record_id) == nullptr) {
    return dataverse_error(404, "0x80040217",
                           table->def.name + " With Id = " + record_id + " Does Not Exist");
  }
  const char* principal_key = action == "RevokeAccess" ? "Revokee" : "PrincipalAccess";
  if (!doc->HasMember(principal_key) || !(*doc)[principal_key].IsObject()) {
    return dataverse_error(400, "0x80040203", action + ": " + principal_key + " is required.");
  }
  const rapidjson::Value& principal_json =
      action == "RevokeAccess" ? (*doc)["Revokee"] : (*doc)["PrincipalAccess"]["Principal"];
  if (!principal_json.IsObject())
    return dataverse_error(400, "0x80040203", action + ": Principal is required.");
  std::string principal_type = logical_from_type(string_member(principal_json, "@odata.type"));
  if (principal_type != "systemuser" && principal_type != "team") {
    return dataverse_error(400, "0x80040203",
                           action + ": the principal must be a systemuser or team.");
  }
  std::string principal_id = to_lower(string_member(principal_json, (principal_type + "id").c_str(),
                                                    string_member(principal_json, "ownerid")));
  if (store_.table(principal_type)->find(principal_id) == nullptr) {
    return dataverse_error(404, "0x80040217",
                           principal_type + " With Id = " + principal_id + " Does Not Exist");
  }
  auto& shares = shares_[table->def.entity_set + "(" + record_id + ")"];
  if (action == "RevokeAccess") {
    shares.erase(principal_id);
    count_write(1);
    return dataverse_empty(204);
  }
  int mask = parse_access_mask(string_member((*doc)["PrincipalAccess"], "AccessMask"));
  if (mask < 0)
    return dataverse_error(400, "0x80040203",
                           action + ": AccessMask holds an unknown access right.");
  DataverseShare& share = shares[principal_id];
  share.principal_id = principal_id;
  share.principal_type = principal_type;
  share.mask = action == "GrantAccess" ? share.mask | mask : mask;
  if (share.mask == 0) shares.erase(principal_id);
  count_write(1);
  return dataverse_empty(204);
}

HttpResponse DataverseApi::retrieve_shared(const DataverseCall& call) {
  // RetrieveSharedPrincipalsAndAccess(Target=@t)?@t={'@odata.id':'accounts(<id>)'}
  auto it = call.query.find("@t");
  std::string alias = it == call.query.end() ? std::string() : it->second;
  static const std::regex kTarget(
      R"(['"]@odata\.id['"]\s*:\s*['"](?:[^'"]*/)?([a-z]+)\(([0-9a-fA-F-]{36})\)['"])");
  std::smatch m;
  if (!std::regex_search(alias, m, kTarget)) {
    return dataverse_error(400, "0x80040203",
                           "RetrieveSharedPrincipalsAndAccess: Target=@t with "
                           "@t={'@odata.id':'accounts(<id>)'} is required.");
  }
  ObjectTable* table = store_.table_by_entity_set(m[1].str());
  std::string id = to_lower(m[2].str());
  if (table == nullptr || table->find(id) == nullptr) {
    return dataverse_error(
        404, "0x80040217",
        (table ? table->def.name : m[1].str()) + " With Id = " + id + " Does Not Exist");
  }
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("@odata.context");
  write_string(
      writer,
      call.api_base + "$metadata#Microsoft.Dynamics.CRM.RetrieveSharedPrincipalsAndAccessResponse");
  writer.Key("PrincipalAccesses");
  writer.StartArray();
  auto shares = shares_.find(table->def.entity_set + "(" + id + ")");
  if (shares != shares_.end()) {
    for (const auto& [principal, share] : shares->second) {
      writer.StartObject();
      writer.Key("AccessMask");
      write_string(writer, access_mask_names(share.mask, ", "));
      writer.Key("Principal");
      writer.StartObject();
      writer.Key("@odata.type");
      write_string(writer, "#Microsoft.Dynamics.CRM." + share.principal_type);
      writer.Key("ownerid");
      write_string(writer, share.principal_id);
      writer.EndObject();
      writer.EndObject();
    }
  }
  writer.EndArray();
  writer.EndObject();
  return dataverse_json(200, buffer.GetString());
}

}  // namespace crmsync::emulators
