#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mapping/record_ids.h"

namespace crmsync::connectors::prm {

// How one PRM table is read by the capture: which object it holds, which columns carry the id,
// the owner and the actor, and which columns are bookkeeping rather than record fields. The
// reference schema's bindings are below; the mapping configuration (later) can supply others for
// a customer's own tables.
struct RecordTableBinding {
  std::string schema;
  std::string table;
  mapping::ObjectKind object;
  std::string id_column;
  std::string owner_org_column;
  std::string owner_user_column;
  std::string actor_kind_column;
  std::string actor_id_column;
  std::set<std::string> bookkeeping_columns;  // not sent as fields (timestamps, row_version, …)
};

// The shares table: one row per (record, principal) grant.
struct ShareTableBinding {
  std::string schema;
  std::string table;
  std::string object_type_column;
  std::string record_id_column;
  std::string principal_type_column;
  std::string principal_id_column;
  std::string access_column;
};

// The partner directory: the partner orgs (with their tier and active flag) and their users, which
// the engine's authorization reads (connectors/prm/prm_directory_reader.h).
struct PartnerDirectoryBinding {
  std::string schema;
  std::string orgs_table;
  std::string org_id_column;
  std::string org_name_column;
  std::string org_tier_column;
  std::string org_active_column;
  std::string users_table;
  std::string user_id_column;
  std::string user_org_column;
  std::string user_email_column;
  std::string user_active_column;
};

struct PrmBindings {
  std::vector<RecordTableBinding> records;
  ShareTableBinding shares;
  PartnerDirectoryBinding directory;
  // Tables in the publication that the capture deliberately does not turn into record events
  // (partner directory, internal fields): counted, never silently mistaken for records.
  std::set<std::string> ignored_tables;  // "schema.table"

  const RecordTableBinding* record_table(const std::string& schema, const std::string& table) const;
  bool is_share_table(const std::string& schema, const std::string& table) const;
  bool is_ignored(const std::string& schema, const std::string& table) const;
};

// Bindings for deploy/prm/schema.sql (docs/prm-schema.md).
PrmBindings reference_schema_bindings();

}  // namespace crmsync::connectors::prm
