// Dataverse team membership through the N:N relationship teammembership_association, from
// either side: POST …/teammembership_association/$ref {"@odata.id": …}, DELETE
// …/teammembership_association(<id>)/$ref (or /$ref?$id=…), GET …/teammembership_association.

#include <fmt/format.h>

#include "tests/emulators/dataverse_api.h"
#include "tests/emulators/dataverse_responses.h"
#include "tests/emulators/json_util.h"

namespace crmsync::emulators {

namespace {

constexpr std::string_view kRelationship = "teammembership_association";

// "…/systemusers(<guid>)" -> {"systemusers", "<guid>"}; empty on anything else.
std::pair<std::string, std::string> entity_reference(std::string uri) {
  auto open = uri.rfind('(');
  auto close = uri.rfind(')');
  if (open == std::string::npos || close != uri.size() - 1) return {};
  std::string key = to_lower(uri.substr(open + 1, close - open - 1));
  std::string before = uri.substr(0, open);
  auto slash = before.rfind('/');
  std::string set = slash == std::string::npos ? before : before.substr(slash + 1);
  if (!is_dataverse_guid(key)) return {};
  return {set, key};
}

}  // namespace

HttpResponse DataverseApi::association(const DataverseCall& call, Target target,
                                       const std::string& rest) {
  const std::string set = target.table->def.entity_set;
  if (set != "teams" && set != "systemusers") {
    return dataverse_error(
        404, "0x0", "Resource not found for the segment '" + std::string(kRelationship) + "'.");
  }
  Record* self = find(target);
  if (self == nullptr) {
    return dataverse_error(404, "0x80040217",
                           dataverse_not_found_message(target.table->def, target.id));
  }
  const bool from_team = set == "teams";
  const std::string other_set = from_team ? "systemusers" : "teams";
  ObjectTable* other_table = store_.table_by_entity_set(other_set);
  auto link = [&](const std::string& other, bool add) {
    const std::string& team = from_team ? self->id : other;
    const std::string& user = from_team ? other : self->id;
    if (add)
      team_members_[team].insert(user);
    else
      team_members_[team].erase(user);
  };
  auto check_other = [&](const std::string& uri, std::string& id) -> std::optional<HttpResponse> {
    std::string resolved = uri;
    if (!resolved.empty() && resolved.front() == '$' && call.content_ids != nullptr) {
      auto it = call.content_ids->find(resolved);
      if (it == call.content_ids->end()) {
        return dataverse_error(
            400, "0x0",
            "Content-ID Reference: '" + resolved + "' does not exist in the batch context.");
      }
      resolved = it->second;
    }
    auto [ref_set, key] = entity_reference(resolved);
    if (ref_set != other_set) {
      return dataverse_error(400, "0x0",
                             "The @odata.id '" + uri + "' does not address " + other_set + ".");
    }
    if (other_table->find(key) == nullptr) {
      return dataverse_error(404, "0x80040217", dataverse_not_found_message(other_table->def, key));
    }
    id = key;
    return std::nullopt;
  };

  const std::string tail = rest.substr(kRelationship.size());
  if (tail == "/$ref" && call.method == "POST") {
    auto doc = parse_json(call.body);
    std::string uri = doc && doc->IsObject() ? string_member(*doc, "@odata.id") : "";
    std::string other;
    if (auto error = check_other(uri, other)) return *error;
    link(other, true);
    count_write(1);
    return dataverse_empty(204);
  }
  if (call.method == "DELETE" &&
      (tail == "/$ref" || (tail.size() > 5 && tail.substr(tail.size() - 5) == "/$ref"))) {
    std::string other;
    if (tail == "/$ref") {
      auto it = call.query.find("$id");
      if (auto error = check_other(it == call.query.end() ? "" : it->second, other)) return *error;
    } else {
      std::string key = tail.substr(0, tail.size() - 5);  // "(<guid>)"
      if (auto error = check_other(other_set + key, other)) return *error;
    }
    link(other, false);
    count_write(1);
    return dataverse_empty(204);
  }
  if (tail.empty() && call.method == "GET") {
    std::vector<std::string> select;
    if (auto error = parse_select(call, other_table->def, select)) return *error;
    std::string body =
        "{\"@odata.context\":\"" + call.api_base + "$metadata#" + other_set + "\",\"value\":[";
    bool first = true;
    for (Record* r : other_table->live_rows_in_order()) {
      const std::string& team = from_team ? self->id : r->id;
      const std::string& user = from_team ? r->id : self->id;
      auto members = team_members_.find(team);
      if (members == team_members_.end() || members->second.count(user) == 0) continue;
      body += (first ? "" : ",") + entity_json(call, *other_table, *r, select, false);
      first = false;
    }
    return dataverse_json(200, body + "]}");
  }
  return dataverse_error(405, "0x80060888",
                         "The HTTP method '" + call.method + "' is not allowed on " +
                             std::string(kRelationship) + rest.substr(kRelationship.size()) + ".");
}

}  // namespace crmsync::emulators
