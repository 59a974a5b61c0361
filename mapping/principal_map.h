#pragma once

// The principal map (DESIGN §3): who a partner org and a partner user are on each side. A partner
// org is a Salesforce group (its partner role group) and a Dataverse owner team; a partner user is
// a Salesforce user and a Dataverse systemuser. The CRM ids come from the principals file
// (docs/security.md); tiers, active flags and user memberships from the PRM's partner directory.
// A principal that is not in the map, or whose org is inactive, has no counterpart: nothing is
// ever guessed, and the engine grants it nothing (deny by default).
//
// Immutable once built; the engine swaps in a new map when the directory is refreshed.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mapping/record_ids.h"

namespace crmsync::mapping {

struct PartnerOrgPrincipal {
  std::string prm_id;
  std::optional<std::string> salesforce_group;  // Group Id (00G…)
  std::optional<std::string> dynamics_team;     // team GUID
  std::string tier;                             // from the PRM; empty when the PRM does not know the org
  bool active = false;                          // from the PRM; an org the PRM does not know is inactive
};

struct PartnerUserPrincipal {
  std::string prm_id;
  std::string partner_org;                     // from the PRM
  std::optional<std::string> salesforce_user;  // User Id (005…)
  std::optional<std::string> dynamics_user;    // systemuser GUID
  bool active = false;
};

class PrincipalMap {
 public:
  // Canonical principals are "partner_org:<prm id>" and "partner_user:<prm id>".
  static std::string org_principal(std::string_view prm_id) { return "partner_org:" + std::string(prm_id); }
  static std::string user_principal(std::string_view prm_id) { return "partner_user:" + std::string(prm_id); }

  void add_org(PartnerOrgPrincipal org);
  void add_user(PartnerUserPrincipal user);
  // Records who owns records that no partner owns, per CRM (Salesforce user Id; Dataverse
  // "team:<guid>" or "systemuser:<guid>"): a record taken away from a partner is given to it.
  void set_internal_owner(Side side, std::string owner);

  const PartnerOrgPrincipal* org(std::string_view prm_id) const;
  const PartnerUserPrincipal* user(std::string_view prm_id) const;
  // The org of an active user of an active org; nothing otherwise.
  const PartnerOrgPrincipal* active_org_of_user(std::string_view user_prm_id) const;

  // A canonical principal's id on a CRM: the Salesforce group/user Id; for Dataverse "team:<guid>"
  // or "systemuser:<guid>". Nothing when unmapped or inactive (deny by default).
  std::optional<std::string> to_side(Side side, std::string_view canonical) const;
  // A CRM principal's canonical name; nothing for principals that are no (active) partner's.
  std::optional<std::string> from_side(Side side, std::string_view side_principal) const;
  const std::optional<std::string>& internal_owner(Side side) const;
  // Whether a CRM principal belongs to a partner at all, active or not: a deactivated partner's
  // principals are still recognised, so that their access can be taken away (deprovisioning).
  bool is_partner_principal(Side side, std::string_view side_principal) const;

  std::size_t org_count() const { return orgs_.size(); }
  std::size_t user_count() const { return users_.size(); }

 private:
  std::map<std::string, PartnerOrgPrincipal, std::less<>> orgs_;
  std::map<std::string, PartnerUserPrincipal, std::less<>> users_;
  std::map<std::string, std::string, std::less<>> from_salesforce_;
  std::map<std::string, std::string, std::less<>> from_dynamics_;
  std::optional<std::string> salesforce_internal_owner_, dynamics_internal_owner_;
  static const std::optional<std::string> kNone;
};

// The principals file (TOML, docs/security.md):
//   schema = 1
//   [internal]            salesforce_owner = "005…", dynamics_owner = "team:<guid>"
//   [[partner_org]]       prm = "<uuid>", salesforce_group = "00G…", dynamics_team = "<guid>"
//   [[partner_user]]      prm = "<uuid>", salesforce_user = "005…", dynamics_user = "<guid>"
// Tiers, active flags and the org of each user come from the PRM (merge_partner_directory).
struct PrincipalFile {
  std::vector<PartnerOrgPrincipal> orgs;
  std::vector<PartnerUserPrincipal> users;
  std::optional<std::string> salesforce_internal_owner;
  std::optional<std::string> dynamics_internal_owner;
};
struct PrincipalFileLoad {
  std::optional<PrincipalFile> file;
  std::vector<std::string> problems;  // each one line: key, what is wrong, file:line
};
PrincipalFileLoad parse_principal_file(std::string_view toml_text, std::string_view source_name);

// What the PRM says about its partners (prm.partner_orgs, prm.partner_users).
struct DirectoryOrg {
  std::string id;
  std::string tier;
  bool active = true;
};
struct DirectoryUser {
  std::string id;
  std::string partner_org;
  bool active = true;
};

// The map from the file's CRM ids and the PRM's directory. Orgs and users the PRM has but the
// file does not are in the map with no CRM ids (their tier still counts for authorization);
// entries of the file the PRM does not know stay inactive (granted nothing; recognised, so that
// the access they still hold on a CRM is taken away).
PrincipalMap build_principal_map(const PrincipalFile& file, const std::vector<DirectoryOrg>& orgs,
                                 const std::vector<DirectoryUser>& users);

}  // namespace crmsync::mapping
