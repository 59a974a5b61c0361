#pragma once

#include <optional>
#include <string>

#include "mapping/sync_error.h"

namespace crmsync::state {

class StateDatabase;

// What the state database remembers about one PRM replication slot.
struct PrmCaptureCursor {
  std::string slot_name;
  std::string system_id;
  std::string publication;
  std::string creation_reason;   // initial | slot_lost | snapshot_interrupted
  std::string consistent_point;  // LSN text
  bool snapshot_completed = false;
  std::optional<std::string> confirmed_lsn;
};

// Reads and writes `<schema>.prm_capture` (migration 0002). Uses the connection it is given; the
// capture owns both. LSNs travel as PostgreSQL's text form ("16/B374D848").
class CaptureCursorStore {
 public:
  explicit CaptureCursorStore(StateDatabase& database);

  mapping::Result<std::optional<PrmCaptureCursor>> load(const std::string& slot_name);
  // A new slot (first start, or replacing a lost one): snapshot not yet complete.
  mapping::Status record_slot_created(const PrmCaptureCursor& cursor);
  mapping::Status record_snapshot_completed(const std::string& slot_name);
  mapping::Status record_confirmed(const std::string& slot_name, const std::string& lsn);

 private:
  StateDatabase& database_;
};

}  // namespace crmsync::state
