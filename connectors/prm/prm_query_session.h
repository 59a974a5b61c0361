#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/prm/prm_event_builder.h"
#include "connectors/prm/replication_connection.h"
#include "mapping/sync_error.h"

namespace crmsync::connectors::prm {

// A plain (non-replication) session on the PRM database, for what the stream cannot do: reading
// tables inside a slot's exported snapshot, checking row-level security, measuring the WAL a
// slot retains. One thread at a time; owned by the capture.
class PrmQuerySession {
 public:
  static mapping::Result<std::unique_ptr<PrmQuerySession>> open(const PrmConnectionSettings& settings);
  ~PrmQuerySession();
  PrmQuerySession(const PrmQuerySession&) = delete;
  PrmQuerySession& operator=(const PrmQuerySession&) = delete;

  // Starts a read-only repeatable-read transaction, inside `snapshot_name` (exported by
  // CREATE_REPLICATION_SLOT) when it is not empty, else on a fresh snapshot.
  mapping::Status begin_snapshot(const std::string& snapshot_name);
  // Streams every row of schema.table (in batches of `batch_rows`) to `on_row`; stops at the first
  // error `on_row` returns. Returns the number of rows read.
  mapping::Result<std::size_t> read_table(const std::string& schema, const std::string& table,
                                          std::size_t batch_rows,
                                          const std::function<mapping::Status(const SnapshotRow&)>& on_row);
  mapping::Status end_snapshot();
  // The number of rows of schema.table (inside the snapshot when one is begun), for progress reports.
  mapping::Result<long long> count_rows(const std::string& schema, const std::string& table);

  // The tables among `qualified_tables` ("schema.table") that are missing, or lack row-level
  // security enabled and forced, each with the reason.
  mapping::Result<std::vector<std::string>> tables_without_forced_rls(
      const std::vector<std::string>& qualified_tables);

  // The tables among `qualified_tables` that are not in `publication`.
  mapping::Result<std::vector<std::string>> tables_missing_from_publication(
      const std::string& publication, const std::vector<std::string>& qualified_tables);

  // Bytes of WAL the slot keeps on the server (current WAL position − restart_lsn).
  mapping::Result<std::optional<long long>> slot_retained_wal_bytes(const std::string& slot);

  // Where a replication slot stands against the server's WAL (for `crmsync status`).
  struct SlotPosition {
    bool active = false;            // a replication connection streams from it now
    std::string confirmed_lsn;      // confirmed_flush_lsn ("" when never confirmed)
    std::string current_lsn;        // pg_current_wal_lsn()
    long long lag_bytes = 0;        // current − confirmed (0 when never confirmed)
    long long retained_bytes = 0;   // current − restart_lsn: WAL the server keeps for the slot
  };
  // Nothing when the slot does not exist.
  mapping::Result<std::optional<SlotPosition>> slot_position(const std::string& slot);

 private:
  struct Impl;
  explicit PrmQuerySession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crmsync::connectors::prm
