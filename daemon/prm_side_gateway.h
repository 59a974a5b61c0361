#pragma once

#include <memory>

#include "connectors/prm/prm_table_binding.h"
#include "connectors/prm/replication_connection.h"
#include "daemon/side_gateway.h"

namespace crmsync::daemon {

// The engine's view of the PRM database (SideGateway). Reads select the asked columns plus the
// id, row_version and updated_at of the bound tables on a plain session of the daemon's role
// (BYPASSRLS: every partner's rows); values convert exactly as the PRM capture converts them.
// Writes go through PrmApplier, one transaction per call that starts with the `crmsync.origin`
// marker (echo suppression), as actor integration/"crmsync"; owner and shares are left alone.
// When a record of the batch violates a constraint the transaction changes nothing, so the
// records are applied again one by one, each in its own transaction: only the bad one fails.
//
// Both connections (reads, writes) open on first use. A call that sees a transient failure (a
// broken connection) fails with it and closes both; the next call opens fresh ones. Owned by the
// composition root; one apply worker thread at a time.
class PrmSideGateway : public SideGateway {
 public:
  PrmSideGateway(connectors::prm::PrmConnectionSettings settings,
                 connectors::prm::PrmBindings bindings);
  ~PrmSideGateway() override;
  PrmSideGateway(const PrmSideGateway&) = delete;
  PrmSideGateway& operator=(const PrmSideGateway&) = delete;

  mapping::Side side() const override { return mapping::Side::prm; }

  mapping::Result<std::vector<SideRecordState>> find_unmapped(mapping::ObjectKind object, const std::string& key_field,
                                                              const std::vector<std::string>& values,
                                                              const std::vector<std::string>& native_fields) override;

  mapping::Result<std::vector<SideRecordState>> read(
      mapping::ObjectKind object, const std::vector<std::string>& prm_ids,
      const std::vector<std::string>& native_fields) override;

  // CrmWriteResult::crm_id is the PRM id; `created` says whether the record was absent just before
  // the write. `owner_id` and `etag` of a write are not used (yet).
  mapping::Result<std::vector<mapping::CrmWriteResult>> write(
      const std::vector<mapping::CrmRecordWrite>& writes, const std::string& origin) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crmsync::daemon
