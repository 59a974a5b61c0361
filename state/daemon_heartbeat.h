#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mapping/sync_error.h"
#include "state/state_database.h"

namespace crmsync::state {

// What one `crmsync run` says about itself (migration 0009, table daemon_heartbeats): written
// every few seconds by daemon/heartbeat.h, read by `crmsync status`.
struct DaemonHeartbeat {
  std::string instance_id;
  std::string host;
  long long pid = 0;
  std::string version;
  std::string started_at;  // RFC 3339
  bool ready = false;
  std::map<std::string, std::string> pipelines;  // pipeline -> running | failed
  std::optional<std::string> last_error;
  // Read back only:
  std::string beat_at;                   // RFC 3339
  double seconds_since_beat = 0;         // by the database's clock
  std::optional<std::string> stopped_at;
  std::optional<std::string> last_error_at;
};

// Inserts or refreshes the instance's row (beat_at = now(); last_error_at moves when the error
// text changes; stopped_at cleared).
mapping::Status write_heartbeat(StateDatabase& db, const DaemonHeartbeat& beat);

// Marks the instance stopped (a clean shutdown), keeping its last error.
mapping::Status mark_heartbeat_stopped(StateDatabase& db, const std::string& instance_id);

// Every instance's last heartbeat, newest first.
mapping::Result<std::vector<DaemonHeartbeat>> load_heartbeats(StateDatabase& db);

}  // namespace crmsync::state
