#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "mapping/sync_error.h"

namespace crmsync::state {
class StateDatabase;
}

namespace crmsync::daemon {

// What the apply workers recorded for events an operator command sent (`replay`, `reconcile
// --fix`): the state table applied_events (migration 0006), read by event id in chunks of 1,000.

// event id -> the outcome recorded, for those of `event_ids` that are recorded.
mapping::Result<std::map<std::string, std::string>> recorded_outcomes(state::StateDatabase& db,
                                                                      const std::vector<std::string>& event_ids);

// Reads every 500 ms until each of `waiting` is recorded or `timeout` passed; adds one to
// `outcomes[outcome]` per recorded event; calls `progress(recorded so far, total)` after each read
// that leaves some waiting. Returns how many were not recorded.
mapping::Result<std::size_t> wait_for_outcomes(state::StateDatabase& db, std::vector<std::string> waiting,
                                               std::chrono::seconds timeout,
                                               std::map<std::string, std::size_t>& outcomes,
                                               const std::function<void(std::size_t, std::size_t)>& progress);

}  // namespace crmsync::daemon
