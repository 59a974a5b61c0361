#include "mapping/sharing_rules.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <rapidjson/document.h>

namespace crmsync::mapping {

namespace {

using Access = ShareGrant::Access;

Access stronger(Access a, Access b) { return a == Access::edit || b == Access::edit ? Access::edit : Access::read; }

}  // namespace

SideSharing sharing_on_side(const Sharing& sharing, Side side, const PrincipalMap& map) {
  SideSharing out;
  auto add_share = [&](const std::string& canonical, Access access) {
    auto principal = map.to_side(side, canonical);
    if (!principal) {
      out.unresolved.push_back(canonical);
      return;
    }
    auto [at, inserted] = out.shares.emplace(*principal, access);
    if (!inserted) at->second = stronger(at->second, access);
  };
  std::optional<std::string> owner_org =
      sharing.owner_partner_org ? std::optional<std::string>(PrincipalMap::org_principal(*sharing.owner_partner_org))
                                : std::nullopt;
  std::optional<std::string> owner_user =
      sharing.owner_user ? std::optional<std::string>(PrincipalMap::user_principal(*sharing.owner_user)) : std::nullopt;
  if (side == Side::salesforce) {
    if (owner_user) {
      out.owner = map.to_side(side, *owner_user);
      if (!out.owner) out.unresolved.push_back(*owner_user);
    }
    if (owner_org) add_share(*owner_org, Access::edit);
  } else if (side == Side::dynamics) {
    if (owner_org) {
      out.owner = map.to_side(side, *owner_org);
      if (!out.owner) out.unresolved.push_back(*owner_org);
    }
  }
  for (const auto& grant : sharing.grants) {
    if (side == Side::dynamics && out.owner && map.to_side(side, grant.principal) == out.owner) continue;
    add_share(grant.principal, grant.access);
  }
  std::sort(out.unresolved.begin(), out.unresolved.end());
  out.unresolved.erase(std::unique(out.unresolved.begin(), out.unresolved.end()), out.unresolved.end());
  return out;
}

std::vector<CrmShareWrite> share_writes(ObjectKind object, const std::string& crm_record_id,
                                        const SideSharing& before, const SideSharing& after) {
  std::vector<CrmShareWrite> revocations, grants;
  for (const auto& [principal, access] : before.shares) {
    if (after.shares.count(principal) == 0) revocations.push_back({object, crm_record_id, principal, false, access});
  }
  for (const auto& [principal, access] : after.shares) {
    auto found = before.shares.find(principal);
    if (found == before.shares.end() || found->second != access) {
      grants.push_back({object, crm_record_id, principal, true, access});
    }
  }
  revocations.insert(revocations.end(), grants.begin(), grants.end());
  return revocations;
}

SharingChange observed_sharing_change(Side side, const Sharing& base, const SideSharing& last_known,
                                      const SideSharing& current, const PrincipalMap& map) {
  SharingChange change;
  auto canonical = [&](const std::optional<std::string>& principal) -> std::optional<std::string> {
    return principal ? map.from_side(side, *principal) : std::nullopt;
  };
  std::optional<std::string> base_org =
      base.owner_partner_org ? std::optional<std::string>(PrincipalMap::org_principal(*base.owner_partner_org))
                             : std::nullopt;
  auto clear_owner_org = [&] {
    if (!base.owner_partner_org) return;
    change.owner_partner_org_changed = true;
    change.owner_partner_org.reset();
  };

  // The owner: Salesforce OwnerId is the owner user; Dataverse ownerid the owner org's team.
  std::optional<std::string> owner_before = canonical(last_known.owner);
  std::optional<std::string> owner_now = canonical(current.owner);
  if (owner_before != owner_now) {
    if (side == Side::salesforce) {
      change.owner_user_changed = true;
      if (owner_now && owner_now->starts_with("partner_user:")) {
        change.owner_user = owner_now->substr(13);
        // A record a partner user owns belongs to the user's org (as in a Salesforce partner
        // community, where the partner account's roles see it) when no org owns it yet.
        const auto* org = map.active_org_of_user(*change.owner_user);
        if (!base.owner_partner_org && org != nullptr) {
          change.owner_partner_org_changed = true;
          change.owner_partner_org = org->prm_id;
          base_org = PrincipalMap::org_principal(org->prm_id);
        }
      }
    } else if (side == Side::dynamics) {
      if (owner_now && owner_now->starts_with("partner_org:")) {
        change.owner_partner_org_changed = true;
        change.owner_partner_org = owner_now->substr(12);
      } else {
        clear_owner_org();
      }
      if (base.owner_user) {
        const auto* user = map.user(*base.owner_user);
        if (!change.owner_partner_org || user == nullptr || user->partner_org != *change.owner_partner_org) {
          change.owner_user_changed = true;
          change.owner_user.reset();
        }
      }
    }
  }

  // Shares added or changed.
  for (const auto& [principal, access] : current.shares) {
    auto before = last_known.shares.find(principal);
    if (before != last_known.shares.end() && before->second == access) continue;
    auto name = map.from_side(side, principal);
    if (!name) continue;  // no partner's
    if (side == Side::salesforce && name == base_org) {
      if (access == Access::edit) continue;  // the owner org's own share, back as it was
      clear_owner_org();                     // demoted to Read: the org no longer owns it
    }
    if (side == Side::dynamics && name == owner_now) continue;  // the owner team itself
    change.granted.push_back({*name, access});
  }
  // Shares removed.
  for (const auto& [principal, access] : last_known.shares) {
    if (current.shares.count(principal) != 0) continue;
    auto name = map.from_side(side, principal);
    if (!name) continue;
    if (side == Side::salesforce && name == base_org) {
      clear_owner_org();  // the owner org's group lost the record
      continue;
    }
    change.revoked.push_back(*name);
  }
  return change;
}

bool can_edit(const Sharing& sharing, const std::string& partner_org, const std::string& partner_user) {
  if (sharing.owner_partner_org && *sharing.owner_partner_org == partner_org) return true;
  if (sharing.owner_user && *sharing.owner_user == partner_user) return true;
  for (const auto& grant : sharing.grants) {
    if (grant.access != Access::edit) continue;
    if (grant.principal == PrincipalMap::org_principal(partner_org) ||
        grant.principal == PrincipalMap::user_principal(partner_user)) {
      return true;
    }
  }
  return false;
}

bool can_read(const Sharing& sharing, const std::string& partner_org, const std::string& partner_user) {
  if (can_edit(sharing, partner_org, partner_user)) return true;
  for (const auto& grant : sharing.grants) {
    if (grant.principal == PrincipalMap::org_principal(partner_org) ||
        grant.principal == PrincipalMap::user_principal(partner_user)) {
      return true;
    }
  }
  return false;
}

AuthorizationDecision authorize_partner_change(const PartnerChange& change, const ObjectMapping& mapping,
                                               const PrincipalMap& map) {
  AuthorizationDecision decision;
  const Actor& actor = *change.actor;
  if (actor.kind != Actor::Kind::partner_user) return decision;
  const PartnerOrgPrincipal* org = map.active_org_of_user(actor.id);
  if (org == nullptr) {
    decision.record_denied = true;
    decision.reason = fmt::format("partner user {} is not an active user of an active partner org", actor.id);
    return decision;
  }
  if (change.new_record) {
    if (!change.sharing_after->owner_partner_org || *change.sharing_after->owner_partner_org != org->prm_id) {
      decision.record_denied = true;
      decision.reason = fmt::format("partner user {} (org {}) created a record owned by {}", actor.id, org->prm_id,
                                    change.sharing_after->owner_partner_org.value_or("no partner org"));
      return decision;
    }
  } else if (!can_edit(*change.sharing_before, org->prm_id, actor.id)) {
    decision.record_denied = true;
    decision.reason = fmt::format("partner user {} (org {}) may not edit this record: owner org {}, no edit grant",
                                  actor.id, org->prm_id,
                                  change.sharing_before->owner_partner_org.value_or("none"));
    return decision;
  }
  std::vector<std::string> why;
  for (const auto& name : change.changed_fields) {
    const FieldMapping* field = mapping.field(name);
    if (field == nullptr) continue;
    if (field->partner_may_edit(org->tier)) continue;
    decision.denied_fields.push_back(name);
    if (field->field_class == FieldClass::partner_editable) {
      why.push_back(fmt::format("{} is editable by {} partners only (org {} is {})", name,
                                fmt::join(field->editable_tiers, "/"), org->prm_id, org->tier));
    } else {
      why.push_back(fmt::format("{} is {}", name, to_string(field->field_class)));
    }
  }
  if (change.sharing_changed && !change.new_record) {
    bool owner = change.sharing_before->owner_partner_org && *change.sharing_before->owner_partner_org == org->prm_id;
    bool org_kept = change.sharing_before->owner_partner_org == change.sharing_after->owner_partner_org;
    if (!owner || !org_kept) {
      decision.sharing_denied = true;
      why.push_back(owner ? "a partner cannot change a record's owner org"
                          : fmt::format("only the owner org may change the sharing (org {} is not)", org->prm_id));
    }
  }
  if (!why.empty()) decision.reason = fmt::format("partner user {}: {}", actor.id, fmt::join(why, "; "));
  return decision;
}

std::string side_sharing_to_json(const std::map<Side, SideSharing>& sharing) {
  auto text = [](const std::string& value) { return to_json_value(FieldValue::string_value(value)); };
  std::string out = "{";
  for (const auto& [side, held] : sharing) {
    if (out.size() > 1) out += ',';
    out += text(std::string(to_string(side))) + ":{\"owner\":" + (held.owner ? text(*held.owner) : "null") +
           ",\"shares\":{";
    bool first = true;
    for (const auto& [principal, access] : held.shares) {
      if (!first) out += ',';
      first = false;
      out += text(principal) + ":\"" + std::string(to_string(access)) + "\"";
    }
    out += "}}";
  }
  return out + "}";
}

Result<std::map<Side, SideSharing>> parse_side_sharing_json(std::string_view json) {
  auto malformed = [](std::string what) {
    return SyncError{ErrorClass::invalid, "stored side sharing: " + what + " (the state database was edited?)"};
  };
  rapidjson::Document document;
  document.Parse(json.data(), json.size());
  if (document.HasParseError() || !document.IsObject()) return malformed("not a JSON object");
  std::map<Side, SideSharing> out;
  for (const auto& member : document.GetObject()) {
    auto side = parse_side(member.name.GetString());
    if (!side || !member.value.IsObject()) return malformed("unknown side or not an object");
    SideSharing& held = out[*side];
    auto owner = member.value.FindMember("owner");
    if (owner != member.value.MemberEnd() && owner->value.IsString()) held.owner = owner->value.GetString();
    auto shares = member.value.FindMember("shares");
    if (shares == member.value.MemberEnd() || !shares->value.IsObject()) return malformed("shares missing");
    for (const auto& share : shares->value.GetObject()) {
      if (!share.value.IsString()) return malformed("a share's access is not a string");
      std::string_view access = share.value.GetString();
      if (access != "read" && access != "edit") return malformed("a share's access is neither read nor edit");
      held.shares[share.name.GetString()] = access == "edit" ? Access::edit : Access::read;
    }
  }
  return out;
}

}  // namespace crmsync::mapping
