#include "connectors/dynamics/dataverse_shared_access.h"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include "connectors/dynamics/dataverse_odata.h"

namespace crmsync::connectors::dynamics {

using mapping::ErrorClass;
using mapping::SyncError;

SyncError malformed_answer(std::string_view what, std::string_view problem) {
  return SyncError{ErrorClass::invalid,
                   fmt::format("dataverse: {}: malformed answer: {}", what, problem)};
}

std::string string_member(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsString() ? it->value.GetString() : std::string();
}

std::string shared_principals_target(mapping::ObjectKind object, std::string_view crm_record_id) {
  const EntitySet& set = entity_set_for(object);
  return "RetrieveSharedPrincipalsAndAccess(Target=@t)?@t=" +
         url_encode(fmt::format("{{'@odata.id':'{}({})'}}", set.set_name, crm_record_id));
}

mapping::Result<std::vector<SharedPrincipal>> parse_shared_principals(std::string_view body,
                                                                      std::string_view what) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return malformed_answer(what, "the body is not JSON");
  auto accesses = doc.FindMember("PrincipalAccesses");
  if (accesses == doc.MemberEnd() || !accesses->value.IsArray())
    return malformed_answer(what, "no PrincipalAccesses array");
  std::vector<SharedPrincipal> out;
  std::size_t index = 0;
  for (const auto& entry : accesses->value.GetArray()) {
    if (!entry.IsObject())
      return malformed_answer(what, fmt::format("PrincipalAccesses[{}] is not an object", index));
    auto principal = entry.FindMember("Principal");
    if (principal == entry.MemberEnd() || !principal->value.IsObject())
      return malformed_answer(what,
                              fmt::format("PrincipalAccesses[{}] has no Principal object", index));
    std::string type = string_member(principal->value, "@odata.type");
    auto dot = type.rfind('.');
    SharedPrincipal shared;
    shared.principal.logical_name = dot == std::string::npos ? type : type.substr(dot + 1);
    shared.principal.id = string_member(principal->value, "ownerid");
    shared.access_mask = string_member(entry, "AccessMask");
    if (shared.principal.logical_name.empty() || shared.principal.id.empty()) {
      return malformed_answer(
          what, fmt::format("PrincipalAccesses[{}] has no principal type or ownerid", index));
    }
    out.push_back(std::move(shared));
    ++index;
  }
  return out;
}

std::string principal_string(const PrincipalRef& principal) {
  return principal.logical_name + ":" + principal.id;
}

std::optional<mapping::ShareGrant::Access> share_access_of(std::string_view access_mask) {
  bool read = false;
  bool write = false;
  while (!access_mask.empty()) {
    auto comma = access_mask.find(',');
    std::string_view right = access_mask.substr(0, comma);
    while (!right.empty() && right.front() == ' ') right.remove_prefix(1);
    while (!right.empty() && right.back() == ' ') right.remove_suffix(1);
    read = read || right == "ReadAccess";
    write = write || right == "WriteAccess";
    if (comma == std::string_view::npos) break;
    access_mask.remove_prefix(comma + 1);
  }
  if (write) return mapping::ShareGrant::Access::edit;
  if (read) return mapping::ShareGrant::Access::read;
  return std::nullopt;
}

}  // namespace crmsync::connectors::dynamics
