#include "mapping/principal_map.h"

#include <algorithm>
#include <array>
#include <set>

#include <fmt/format.h>

#include "mapping/toml_wording.h"

namespace crmsync::mapping {

const std::optional<std::string> PrincipalMap::kNone;

namespace {

constexpr std::string_view kTeamPrefix = "team:";
constexpr std::string_view kUserPrefix = "systemuser:";

std::string dynamics_team(const std::string& guid) { return std::string(kTeamPrefix) + guid; }
std::string dynamics_user(const std::string& guid) { return std::string(kUserPrefix) + guid; }

}  // namespace

void PrincipalMap::add_org(PartnerOrgPrincipal org) {
  std::string canonical = org_principal(org.prm_id);
  if (org.salesforce_group) from_salesforce_[*org.salesforce_group] = canonical;
  if (org.dynamics_team) from_dynamics_[dynamics_team(*org.dynamics_team)] = canonical;
  std::string id = org.prm_id;
  orgs_[id] = std::move(org);
}

void PrincipalMap::add_user(PartnerUserPrincipal user) {
  std::string canonical = user_principal(user.prm_id);
  if (user.salesforce_user) from_salesforce_[*user.salesforce_user] = canonical;
  if (user.dynamics_user) from_dynamics_[dynamics_user(*user.dynamics_user)] = canonical;
  std::string id = user.prm_id;
  users_[id] = std::move(user);
}

void PrincipalMap::set_internal_owner(Side side, std::string owner) {
  if (side == Side::salesforce) salesforce_internal_owner_ = std::move(owner);
  if (side == Side::dynamics) dynamics_internal_owner_ = std::move(owner);
}

const PartnerOrgPrincipal* PrincipalMap::org(std::string_view prm_id) const {
  auto found = orgs_.find(prm_id);
  return found == orgs_.end() ? nullptr : &found->second;
}

const PartnerUserPrincipal* PrincipalMap::user(std::string_view prm_id) const {
  auto found = users_.find(prm_id);
  return found == users_.end() ? nullptr : &found->second;
}

const PartnerOrgPrincipal* PrincipalMap::active_org_of_user(std::string_view user_prm_id) const {
  const PartnerUserPrincipal* found = user(user_prm_id);
  if (found == nullptr || !found->active) return nullptr;
  const PartnerOrgPrincipal* owner = org(found->partner_org);
  return owner != nullptr && owner->active ? owner : nullptr;
}

std::optional<std::string> PrincipalMap::to_side(Side side, std::string_view canonical) const {
  if (canonical.starts_with("partner_org:")) {
    const PartnerOrgPrincipal* found = org(canonical.substr(12));
    if (found == nullptr || !found->active) return std::nullopt;
    if (side == Side::salesforce) return found->salesforce_group;
    if (side == Side::dynamics && found->dynamics_team) return dynamics_team(*found->dynamics_team);
    if (side == Side::prm) return std::string(canonical);
    return std::nullopt;
  }
  if (canonical.starts_with("partner_user:")) {
    std::string_view id = canonical.substr(13);
    const PartnerUserPrincipal* found = user(id);
    if (found == nullptr || active_org_of_user(id) == nullptr) return std::nullopt;
    if (side == Side::salesforce) return found->salesforce_user;
    if (side == Side::dynamics && found->dynamics_user) return dynamics_user(*found->dynamics_user);
    if (side == Side::prm) return std::string(canonical);
  }
  return std::nullopt;
}

std::optional<std::string> PrincipalMap::from_side(Side side, std::string_view side_principal) const {
  if (side == Side::prm) {
    if (to_side(Side::prm, side_principal)) return std::string(side_principal);
    return std::nullopt;
  }
  const auto& index = side == Side::salesforce ? from_salesforce_ : from_dynamics_;
  std::string key(side_principal);
  // A bare Dataverse GUID names a team (the applier's convention).
  if (side == Side::dynamics && !key.starts_with(kTeamPrefix) && !key.starts_with(kUserPrefix)) key = dynamics_team(key);
  auto found = index.find(key);
  if (found == index.end()) return std::nullopt;
  // Only an active principal has a canonical counterpart.
  if (!to_side(side, found->second)) return std::nullopt;
  return found->second;
}

bool PrincipalMap::is_partner_principal(Side side, std::string_view side_principal) const {
  if (side == Side::prm) return org(side_principal) != nullptr || user(side_principal) != nullptr;
  const auto& index = side == Side::salesforce ? from_salesforce_ : from_dynamics_;
  std::string key(side_principal);
  if (side == Side::dynamics && !key.starts_with(kTeamPrefix) && !key.starts_with(kUserPrefix)) key = dynamics_team(key);
  return index.find(key) != index.end();
}

const std::optional<std::string>& PrincipalMap::internal_owner(Side side) const {
  if (side == Side::salesforce) return salesforce_internal_owner_;
  if (side == Side::dynamics) return dynamics_internal_owner_;
  return kNone;
}

namespace {

using toml_wording::describe;
using toml_wording::line_of;

class PrincipalFileReader {
 public:
  explicit PrincipalFileReader(std::string source) : source_(std::move(source)) {}

  PrincipalFileLoad read(std::string_view text) {
    PrincipalFileLoad load;
    toml::table root;
    try {
      root = toml::parse(text, source_);
    } catch (const toml::parse_error& error) {
      problems_.push_back(fmt::format("principals: {} ({}:{})", error.description(), source_,
                                      error.source().begin.line));
      load.problems = std::move(problems_);
      return load;
    }
    PrincipalFile file;
    for (const auto& [key, node] : root) {
      std::string_view name = key.str();
      if (name != "schema" && name != "internal" && name != "partner_org" && name != "partner_user") {
        add(std::string(name), &node,
            "unknown key; the file takes schema, [internal], [[partner_org]] and [[partner_user]]");
      }
    }
    if (const toml::node* schema = root.get("schema"); schema == nullptr || schema->value<std::int64_t>() != 1) {
      add("schema", schema, "write schema = 1 (the version of this file's format)");
    }
    if (const toml::node* internal = root.get("internal")) {
      if (const toml::table* table = internal->as_table()) {
        file.salesforce_internal_owner = text_of(*table, "internal", "salesforce_owner", false);
        file.dynamics_internal_owner = text_of(*table, "internal", "dynamics_owner", false);
        if (file.dynamics_internal_owner && !file.dynamics_internal_owner->starts_with(kTeamPrefix) &&
            !file.dynamics_internal_owner->starts_with(kUserPrefix)) {
          add("internal.dynamics_owner", table->get("dynamics_owner"),
              "write \"team:<guid>\" or \"systemuser:<guid>\"");
        }
        check_keys(*table, "internal", {"salesforce_owner", "dynamics_owner"});
      } else {
        add("internal", internal, "expected a table [internal]");
      }
    }
    std::set<std::string> seen;
    for_each_entry(root, "partner_org", [&](const toml::table& table, const std::string& path) {
      PartnerOrgPrincipal org;
      org.prm_id = text_of(table, path, "prm", true).value_or("");
      org.salesforce_group = text_of(table, path, "salesforce_group", false);
      org.dynamics_team = text_of(table, path, "dynamics_team", false);
      check_keys(table, path, {"prm", "salesforce_group", "dynamics_team"});
      if (!org.prm_id.empty() && !seen.insert("org:" + org.prm_id).second)
        add(path + ".prm", table.get("prm"), fmt::format("partner org {} is listed twice", org.prm_id));
      file.orgs.push_back(std::move(org));
    });
    for_each_entry(root, "partner_user", [&](const toml::table& table, const std::string& path) {
      PartnerUserPrincipal user;
      user.prm_id = text_of(table, path, "prm", true).value_or("");
      user.salesforce_user = text_of(table, path, "salesforce_user", false);
      user.dynamics_user = text_of(table, path, "dynamics_user", false);
      check_keys(table, path, {"prm", "salesforce_user", "dynamics_user"});
      if (!user.prm_id.empty() && !seen.insert("user:" + user.prm_id).second)
        add(path + ".prm", table.get("prm"), fmt::format("partner user {} is listed twice", user.prm_id));
      file.users.push_back(std::move(user));
    });
    if (problems_.empty()) load.file = std::move(file);
    load.problems = std::move(problems_);
    return load;
  }

 private:
  template <typename Visit>
  void for_each_entry(const toml::table& root, const char* key, Visit visit) {
    const toml::node* node = root.get(key);
    if (node == nullptr) return;
    const toml::array* entries = node->as_array();
    if (entries == nullptr) {
      add(key, node, fmt::format("expected [[{}]] entries", key));
      return;
    }
    std::size_t index = 0;
    for (const toml::node& entry : *entries) {
      std::string path = fmt::format("{}[{}]", key, index++);
      if (const toml::table* table = entry.as_table()) {
        visit(*table, path);
      } else {
        add(path, &entry, fmt::format("expected a table, got {}", describe(entry)));
      }
    }
  }

  std::optional<std::string> text_of(const toml::table& table, const std::string& path, const char* key,
                                     bool required) {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      if (required) add(path + "." + key, &table, fmt::format("required key is missing; add {} = \"...\"", key));
      return std::nullopt;
    }
    const auto* text = node->as_string();
    if (text == nullptr || text->get().empty()) {
      add(path + "." + key, node, fmt::format("expected a non-empty string, got {}", describe(*node)));
      return std::nullopt;
    }
    return text->get();
  }

  void check_keys(const toml::table& table, const std::string& path, std::initializer_list<std::string_view> known) {
    for (const auto& [key, node] : table) {
      if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
        add(path + "." + std::string(key.str()), &node,
            fmt::format("unknown key; this table takes {}", fmt::join(known, ", ")));
      }
    }
  }

  void add(const std::string& key, const toml::node* at, const std::string& message) {
    problems_.push_back(fmt::format("principals: {}: {} ({}:{})", key, message, source_, line_of(at)));
  }

  std::string source_;
  std::vector<std::string> problems_;
};

}  // namespace

PrincipalFileLoad parse_principal_file(std::string_view toml_text, std::string_view source_name) {
  return PrincipalFileReader(std::string(source_name)).read(toml_text);
}

PrincipalMap build_principal_map(const PrincipalFile& file, const std::vector<DirectoryOrg>& orgs,
                                 const std::vector<DirectoryUser>& users) {
  std::map<std::string, PartnerOrgPrincipal> org_entries;
  for (const auto& org : orgs) {
    PartnerOrgPrincipal& entry = org_entries[org.id];
    entry.prm_id = org.id;
    entry.tier = org.tier;
    entry.active = org.active;
  }
  for (const auto& from_file : file.orgs) {
    // An org the PRM does not know (any more) stays in the map inactive: it is granted nothing,
    // and its CRM principals are still recognised so that their access is taken away.
    PartnerOrgPrincipal& entry = org_entries[from_file.prm_id];
    entry.prm_id = from_file.prm_id;
    entry.salesforce_group = from_file.salesforce_group;
    entry.dynamics_team = from_file.dynamics_team;
  }
  std::map<std::string, PartnerUserPrincipal> user_entries;
  for (const auto& user : users) {
    PartnerUserPrincipal& entry = user_entries[user.id];
    entry.prm_id = user.id;
    entry.partner_org = user.partner_org;
    entry.active = user.active;
  }
  for (const auto& from_file : file.users) {
    PartnerUserPrincipal& entry = user_entries[from_file.prm_id];
    entry.prm_id = from_file.prm_id;
    entry.salesforce_user = from_file.salesforce_user;
    entry.dynamics_user = from_file.dynamics_user;
  }
  PrincipalMap map;
  for (auto& [id, org] : org_entries) map.add_org(std::move(org));
  for (auto& [id, user] : user_entries) map.add_user(std::move(user));
  if (file.salesforce_internal_owner) map.set_internal_owner(Side::salesforce, *file.salesforce_internal_owner);
  if (file.dynamics_internal_owner) map.set_internal_owner(Side::dynamics, *file.dynamics_internal_owner);
  return map;
}

}  // namespace crmsync::mapping
