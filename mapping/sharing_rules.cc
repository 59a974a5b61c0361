#include "mapping/sharing_rules.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace crmsync::mapping {

namespace {

using Access = ShareGrant::Access;

Access stronger(Access a, Access b) { return a == Access::edit || b == Access::edit ? Access::edit : Access::read; }

std::optional<Access> grant_of(const Sharing& sharing, const std::string& principal) {
  for (const auto& grant : sharing.grants) {
    if (grant.principal == principal) return grant.access;
  }
  return std::nullopt;
}

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

SharingChange observed_sharing_change(Side side, const Sharing& base, const std::optional<std::string>& owner,
                                      const std::vector<CrmShare>& shares, const PrincipalMap& map) {
  SharingChange change;
  // What the CRM holds, in canonical principals (principals no partner's are left out).
  std::map<std::string, Access> observed;
  for (const auto& share : shares) {
    auto canonical = map.from_side(side, share.principal_id);
    if (!canonical) continue;
    auto [at, inserted] = observed.emplace(*canonical, share.access);
    if (!inserted) at->second = stronger(at->second, share.access);
  }
  std::optional<std::string> owner_canonical = owner ? map.from_side(side, *owner) : std::nullopt;

  std::optional<std::string> base_org =
      base.owner_partner_org ? std::optional<std::string>(PrincipalMap::org_principal(*base.owner_partner_org))
                             : std::nullopt;
  if (side == Side::salesforce) {
    // Owner user: OwnerId. A partner user who owns it, or (when the base owner could be written
    // here) an internal owner, which takes the record away from the partner user.
    std::optional<std::string> base_user =
        base.owner_user ? std::optional<std::string>(PrincipalMap::user_principal(*base.owner_user)) : std::nullopt;
    if (owner_canonical && owner_canonical->starts_with("partner_user:")) {
      if (owner_canonical != base_user) {
        change.owner_user_changed = true;
        change.owner_user = owner_canonical->substr(13);
      }
    } else if (base_user && map.to_side(side, *base_user)) {
      change.owner_user_changed = true;
      change.owner_user.reset();
    }
    // Owner org: its group's Edit share. Gone (or only Read) when the org was taken off the record.
    if (base_org && map.to_side(side, *base_org)) {
      auto found = observed.find(*base_org);
      if (found == observed.end() || found->second != Access::edit) {
        change.owner_partner_org_changed = true;
        change.owner_partner_org.reset();
      } else {
        observed.erase(found);  // the owner org's own share, not a grant
      }
    }
  } else if (side == Side::dynamics) {
    if (owner_canonical && owner_canonical->starts_with("partner_org:")) {
      if (owner_canonical != base_org) {
        change.owner_partner_org_changed = true;
        change.owner_partner_org = owner_canonical->substr(12);
        if (base.owner_user) {
          const auto* user = map.user(*base.owner_user);
          if (user == nullptr || user->partner_org != *change.owner_partner_org) {
            change.owner_user_changed = true;
            change.owner_user.reset();
          }
        }
      }
      observed.erase(*owner_canonical);
    } else if (base_org && map.to_side(side, *base_org)) {
      change.owner_partner_org_changed = true;
      change.owner_partner_org.reset();
      if (base.owner_user) {
        change.owner_user_changed = true;
        change.owner_user.reset();
      }
    }
  }
  // Grants: only those the side can hold are compared.
  for (const auto& [principal, access] : observed) {
    auto had = grant_of(base, principal);
    if (!had || *had != access) change.granted.push_back({principal, access});
  }
  for (const auto& grant : base.grants) {
    if (observed.count(grant.principal) != 0 || !map.to_side(side, grant.principal)) continue;
    // Dataverse: a grant to the owner team is the ownership itself.
    if (side == Side::dynamics && owner_canonical == grant.principal) continue;
    change.revoked.push_back(grant.principal);
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

}  // namespace crmsync::mapping
