#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "connectors/prm/lsn.h"
#include "mapping/secret.h"
#include "mapping/sync_error.h"

namespace crmsync::connectors::prm {

// How to reach the PRM database for logical replication (the daemon's PRM role needs the
// REPLICATION attribute).
struct PrmConnectionSettings {
  std::string url;  // postgresql:// URL without a password
  std::optional<mapping::SecretString> password;
  std::chrono::seconds connect_timeout{5};
  std::string application_name{"crmsync-capture"};
};

struct SystemIdentity {
  std::string system_id;  // the cluster's unique id: events are identified relative to it
  int timeline = 0;
  Lsn wal_position;
  std::string database;
};

struct CreatedSlot {
  std::string name;
  Lsn consistent_point;       // changes after this point come through the stream
  std::string snapshot_name;  // rows as of consistent_point, importable until the next command
};

struct SlotState {
  bool exists = false;
  bool active = false;  // another connection streams from it
  std::string plugin;
  std::optional<Lsn> confirmed_flush;
  std::optional<Lsn> restart_lsn;
};

// One logical-replication connection to the PRM database over libpq (`replication=database`):
// slot management and the CopyBoth stream. One thread at a time; owned by the capture pipeline.
// Errors are classified by SQLSTATE (a missing slot is `invalid`, connection loss `transient`).
class ReplicationConnection {
 public:
  static mapping::Result<std::unique_ptr<ReplicationConnection>> connect(
      const PrmConnectionSettings& settings);
  ~ReplicationConnection();
  ReplicationConnection(const ReplicationConnection&) = delete;
  ReplicationConnection& operator=(const ReplicationConnection&) = delete;

  mapping::Result<SystemIdentity> identify_system();

  // CREATE_REPLICATION_SLOT … LOGICAL pgoutput, exporting a snapshot when asked.
  mapping::Result<CreatedSlot> create_slot(const std::string& slot, bool export_snapshot);

  // The slot as pg_replication_slots shows it (a plain query, allowed on a walsender connection
  // before streaming starts).
  mapping::Result<SlotState> query_slot(const std::string& slot);

  // DROP_REPLICATION_SLOT … WAIT.
  mapping::Status drop_slot(const std::string& slot);

  // START_REPLICATION SLOT … LOGICAL start (proto_version 1, publication_names, messages on).
  mapping::Status start_replication(const std::string& slot, Lsn start,
                                    const std::string& publication);

  // The next CopyData frame, or nothing when none arrived within `timeout`. The end of the
  // stream (server shutdown, slot dropped underneath) is an error.
  mapping::Result<std::optional<std::string>> read_frame(std::chrono::milliseconds timeout);

  mapping::Status send_status(Lsn written, Lsn flushed, bool reply_requested);

 private:
  struct Impl;
  explicit ReplicationConnection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True when `slot` is a syntactically safe replication slot or publication name.
bool is_valid_slot_name(const std::string& slot);

}  // namespace crmsync::connectors::prm
