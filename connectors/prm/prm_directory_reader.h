#pragma once

#include <string>
#include <vector>

#include "connectors/prm/prm_table_binding.h"
#include "mapping/sync_error.h"

namespace crmsync::connectors::prm {

class PrmQuerySession;

// One partner organisation as the PRM records it. `tier` is the PRM's own text
// (registered|silver|gold|platinum in the reference schema, mapping::kPartnerTiers); empty when
// the PRM has none for the org, which matches no tier-gated rule.
struct PartnerOrgInfo {
  std::string id;
  std::string name;
  std::string tier;
  bool active = true;

  bool operator==(const PartnerOrgInfo&) const = default;
};

// One partner user and the org it belongs to.
struct PartnerUserInfo {
  std::string id;
  std::string partner_org_id;
  std::string email;
  bool active = true;

  bool operator==(const PartnerUserInfo&) const = default;
};

// Every partner org and user, inactive ones included (an inactive org or user is known, and has
// no rights): what the engine's authorization judges an actor against. Both lists are sorted by id.
struct PartnerDirectory {
  std::vector<PartnerOrgInfo> orgs;
  std::vector<PartnerUserInfo> users;

  bool operator==(const PartnerDirectory&) const = default;
};

// Reads the partner directory through `session` (opened as the daemon's PRM role, which bypasses
// row-level security and so sees every partner), orgs and users in one read-only repeatable-read
// transaction, so a user never names an org the same read did not see. The tables and columns are
// `binding`'s (PrmBindings::directory; reference_schema_bindings() for deploy/prm/schema.sql).
// The session must not be inside begin_snapshot()/end_snapshot(): this opens and ends its own
// transaction, also after a failure.
//
// Errors: `invalid` when a bound column is missing, an id is null or an active column is not
// boolean (the binding does not fit the tables; checked on the rows read, so an empty table reads
// as an empty list whatever its columns); otherwise the session's classification
// (transient for a lost connection, auth for a missing grant, …). A null name, tier or email reads
// as empty and a null active flag as inactive: unknown never grants anything.
mapping::Result<PartnerDirectory> read_partner_directory(PrmQuerySession& session,
                                                         const PartnerDirectoryBinding& binding);

}  // namespace crmsync::connectors::prm
