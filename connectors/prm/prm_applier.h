#pragma once

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "connectors/prm/prm_table_binding.h"
#include "connectors/prm/replication_connection.h"
#include "mapping/canonical_event.h"
#include "mapping/sync_error.h"

namespace crmsync::connectors::prm {

// An insert-or-update of one PRM record. Only the given fields are written; columns not named
// keep their values. `grants`, when present, replaces the record's share rows.
struct PrmUpsert {
  mapping::ObjectKind object = mapping::ObjectKind::account;
  std::string prm_id;
  std::vector<mapping::Field> fields;  // PRM column names
  std::optional<std::optional<std::string>> owner_partner_org;  // outer: set it; inner: value/NULL
  std::optional<std::optional<std::string>> owner_user;
  std::optional<std::vector<mapping::ShareGrant>> grants;
  mapping::Actor actor;  // recorded as the row's last modifier
};

struct PrmDelete {
  mapping::ObjectKind object = mapping::ObjectKind::account;
  std::string prm_id;
};

using PrmWrite = std::variant<PrmUpsert, PrmDelete>;

// Writes to the PRM database as the daemon's role (DESIGN §2 apply). A batch is one transaction
// whose first statement emits the transactional logical message `crmsync.origin`, so the capture
// recognises the whole transaction as crmsync's own and does not send it back (echo suppression).
// A failed batch changes nothing; a constraint violation is an `invalid` error naming the
// constraint and the table. One thread at a time; owned by an apply worker.
class PrmApplier {
 public:
  static mapping::Result<std::unique_ptr<PrmApplier>> connect(const PrmConnectionSettings& settings,
                                                              PrmBindings bindings);
  ~PrmApplier();
  PrmApplier(const PrmApplier&) = delete;
  PrmApplier& operator=(const PrmApplier&) = delete;

  // `origin` is carried in the marker (instance and event ids) for operators reading the WAL.
  mapping::Status apply(const std::vector<PrmWrite>& writes, const std::string& origin);

 private:
  struct Impl;
  explicit PrmApplier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crmsync::connectors::prm
