#pragma once

#include <map>
#include <optional>
#include <string>

#include "mapping/sync_error.h"
#include "state/state_database.h"

namespace crmsync::state {

// An operator's decision on one dead letter (migration 0009, `crmsync dead-letters`).
struct DeadLetterDecision {
  std::string topic;
  std::string dead_letter_id;  // "<partition>:<offset>" on `topic`
  std::string event_id;        // of the dead-lettered event ("" when it was unreadable)
  std::string decision;        // retried | discarded
  std::string decided_by;      // operator name
  std::string decided_at;      // RFC 3339 (set by the database)
  std::string note;
};

// The decisions on `topic`'s dead letters, by dead-letter id.
mapping::Result<std::map<std::string, DeadLetterDecision>> load_dead_letter_decisions(StateDatabase& db,
                                                                                      const std::string& topic);

// Records `decision` (in the caller's transaction). A second decision on one dead letter is a
// `conflict` error naming the first.
mapping::Status record_dead_letter_decision(const StateDatabase::Executor& execute, const std::string& schema,
                                            const DeadLetterDecision& decision);

// Hands a dead-lettered event back to the apply workers (in the caller's transaction): forgets
// that the event was applied (its applied_events row, so that the retry's own outcome is recorded)
// and parks it as waiting for "retry:<dead letter id>", which the apply workers' parked-events
// sweep treats as resolvable at once. A parked event is re-applied through the normal engine path
// without the "already applied" and "superseded" checks (DESIGN §2 "References").
mapping::Status queue_event_retry(const StateDatabase::Executor& execute, const std::string& schema,
                                  const std::string& event_id, const std::string& object,
                                  const std::string& dead_letter_id, const std::string& event_json,
                                  const std::string& operator_name);

// The waiting_for prefix of a parked operator retry.
inline constexpr const char* kRetryWaitingPrefix = "retry:";

// What the engine last recorded for an event: its outcome and when, or nothing.
struct AppliedEvent {
  std::string outcome;
  std::string applied_at;
};
mapping::Result<std::optional<AppliedEvent>> applied_event(StateDatabase& db, const std::string& event_id);

// Whether the event waits among the parked events, and for what.
mapping::Result<std::optional<std::string>> parked_waiting_for(StateDatabase& db, const std::string& event_id);

}  // namespace crmsync::state
