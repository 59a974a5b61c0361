#pragma once

// How a record's canonical sharing is held on each CRM, how a CRM's sharing read back is turned
// into a canonical change, and who may change what (DESIGN §3). Pure functions of the sharing,
// the principal map and the mapping: the engine and the sharing sweep call them.
//
// On Salesforce, a record's owner org is a Manual Edit share to the org's group and its owner user
// is OwnerId; on Dataverse, the owner org is ownerid (the org's team) and the owner user is a member
// of that team (not expressed separately). Grants are Manual shares (Read/Edit) and
// GrantAccess rights (Read, or Read+Write) to the group/team or user.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mapping/canonical_event.h"
#include "mapping/crm_writes.h"
#include "mapping/mapping_definition.h"
#include "mapping/principal_map.h"
#include "mapping/sync_error.h"

namespace crmsync::mapping {

// A record's sharing as one CRM should hold it, in that CRM's principals.
struct SideSharing {
  // Salesforce OwnerId / Dataverse ownerid; nothing: the CRM's internal owner (no partner owns it).
  std::optional<std::string> owner;
  std::map<std::string, ShareGrant::Access> shares;  // side principal -> access
  // Canonical principals with no counterpart on the side (unmapped, inactive): granted nothing
  // there (deny by default); the engine journals them.
  std::vector<std::string> unresolved;
  friend bool operator==(const SideSharing&, const SideSharing&) = default;
};

SideSharing sharing_on_side(const Sharing& sharing, Side side, const PrincipalMap& map);

// Per-CRM side sharing as stored with a synced record ({"salesforce":{"owner":…,"shares":{…}}}),
// and back. Unresolved principals are not stored.
std::string side_sharing_to_json(const std::map<Side, SideSharing>& sharing);
Result<std::map<Side, SideSharing>> parse_side_sharing_json(std::string_view json);

// The share writes that turn `before` into `after` on one CRM record: revocations first, then
// grants (so that a record is never more visible during the change than after it).
std::vector<CrmShareWrite> share_writes(ObjectKind object, const std::string& crm_record_id,
                                        const SideSharing& before, const SideSharing& after);

// A CRM's sharing of one record as read back now (`current`, in that CRM's principals), compared
// with what crmsync last wrote or saw there (`last_known`), as a canonical change of `base`. Only
// differences count, so a grant the CRM never held is never read as revoked there, and principals
// that are no partner's (internal users, teams) are ignored. On Salesforce the owner org's group
// losing its Edit share takes the record away from the org.
SharingChange observed_sharing_change(Side side, const Sharing& base, const SideSharing& last_known,
                                      const SideSharing& current, const PrincipalMap& map);

// Whether a PRM change by a partner user may be propagated (DESIGN §3 inbound authorization).
struct PartnerChange {
  const Actor* actor = nullptr;
  bool new_record = false;
  const Sharing* sharing_before = nullptr;  // the record's sharing before the change (base)
  const Sharing* sharing_after = nullptr;   // with the change applied
  std::vector<std::string> changed_fields;  // canonical names whose value the change sets
  bool sharing_changed = false;
};
struct AuthorizationDecision {
  bool record_denied = false;               // the whole change is denied
  std::vector<std::string> denied_fields;   // these fields are not propagated
  bool sharing_denied = false;              // the sharing change is not propagated
  std::string reason;                       // one line for the journal and operators (ids, no values)
  bool allowed() const { return !record_denied && denied_fields.empty() && !sharing_denied; }
};
// Internal users and the integration are not partners: always allowed. A partner user must be an
// active user of an active org, able to edit the record under `sharing_before` (owner org, owner
// user, or an edit grant to the org or the user; for a new record, its org must own it), and each
// changed field must be partner_editable for the org's tier. Only the owner org may change the
// sharing, and no partner may change the owner org.
AuthorizationDecision authorize_partner_change(const PartnerChange& change, const ObjectMapping& mapping,
                                               const PrincipalMap& map);

// Whether `principal` (canonical) can read / edit a record with `sharing`, directly or through its
// org: for the permission tests and `crmsync status`.
bool can_read(const Sharing& sharing, const std::string& partner_org, const std::string& partner_user);
bool can_edit(const Sharing& sharing, const std::string& partner_org, const std::string& partner_user);

}  // namespace crmsync::mapping
