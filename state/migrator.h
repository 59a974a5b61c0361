#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "mapping/sync_error.h"
#include "state/migrations.h"
#include "state/state_database.h"

namespace crmsync::state {

enum class DryRun : bool { no = false, yes = true };

struct MigrationReport {
  int version_before = 0;
  int version_after = 0;
  std::vector<int> applied;  // versions applied by this call (or that would be, on a dry run)
};

// Brings the state schema (StateDatabase::schema()) up to the last of `migrations`.
//
// Everything happens in one transaction under a transaction-scoped advisory lock, so replicas
// that start together apply each migration exactly once and a failure leaves the schema as it
// was. Already applied migrations are checked against their recorded checksum; a state schema
// newer than this binary, or an applied migration whose SQL changed, is refused (fatal) rather
// than run against. A dry run does the same checks and rolls back.
mapping::Result<MigrationReport> migrate(StateDatabase& database,
                                         std::span<const Migration> migrations, DryRun dry_run);

// Whether the state schema has `table` yet (a migration creates it). Operator commands ask before
// reading a table that a newer migration adds; an error means the database could not be asked.
mapping::Result<bool> has_table(StateDatabase& database, std::string_view table);

}  // namespace crmsync::state
