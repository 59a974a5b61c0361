#include "state/dead_letter_decisions.h"

#include <fmt/format.h>

namespace crmsync::state {

namespace {

mapping::Status as_status(const mapping::Result<QueryRows>& result) {
  if (!result) return result.error();
  return mapping::ok_status();
}

constexpr const char* kRfc3339 = "YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"";

}  // namespace

mapping::Result<std::map<std::string, DeadLetterDecision>> load_dead_letter_decisions(StateDatabase& db,
                                                                                      const std::string& topic) {
  auto rows = db.execute(fmt::format("SELECT dead_letter_id, event_id, decision, decided_by, "
                                     "to_char(decided_at AT TIME ZONE 'UTC', '{1}'), note "
                                     "FROM {0}.dead_letter_decisions WHERE topic = $1",
                                     db.schema(), kRfc3339),
                         {topic});
  if (!rows) return rows.error();
  std::map<std::string, DeadLetterDecision> out;
  for (const QueryRow& row : rows.value()) {
    DeadLetterDecision decision{topic,
                                row[0].value_or(""),
                                row[1].value_or(""),
                                row[2].value_or(""),
                                row[3].value_or(""),
                                row[4].value_or(""),
                                row[5].value_or("")};
    out[decision.dead_letter_id] = std::move(decision);
  }
  return out;
}

mapping::Status record_dead_letter_decision(const StateDatabase::Executor& execute, const std::string& schema,
                                            const DeadLetterDecision& decision) {
  auto rows = execute(fmt::format("INSERT INTO {}.dead_letter_decisions (topic, dead_letter_id, event_id, decision, "
                                  "decided_by, note) VALUES ($1, $2, $3, $4, $5, $6) "
                                  "ON CONFLICT (topic, dead_letter_id) DO NOTHING RETURNING 1",
                                  schema),
                      {decision.topic, decision.dead_letter_id, decision.event_id, decision.decision,
                       decision.decided_by, decision.note});
  if (!rows) return rows.error();
  if (rows.value().empty()) {
    return mapping::SyncError{mapping::ErrorClass::conflict,
                              fmt::format("dead letter {} already has a decision (another operator was quicker); "
                                          "see `crmsync dead-letters show {}`",
                                          decision.dead_letter_id, decision.dead_letter_id)};
  }
  return mapping::ok_status();
}

mapping::Status queue_event_retry(const StateDatabase::Executor& execute, const std::string& schema,
                                  const std::string& event_id, const std::string& object,
                                  const std::string& dead_letter_id, const std::string& event_json,
                                  const std::string& operator_name) {
  if (auto forgot = execute(fmt::format("DELETE FROM {}.applied_events WHERE event_id = $1", schema), {event_id});
      !forgot) {
    return forgot.error();
  }
  return as_status(execute(
      fmt::format("INSERT INTO {}.parked_events (event_id, object, waiting_for, reason, event) "
                  "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO UPDATE SET waiting_for = EXCLUDED.waiting_for, "
                  "reason = EXCLUDED.reason, event = EXCLUDED.event, parked_at = now()",
                  schema),
      {event_id, object, std::string(kRetryWaitingPrefix) + dead_letter_id,
       "retry of dead letter " + dead_letter_id + " by operator " + operator_name, event_json}));
}

mapping::Result<std::optional<AppliedEvent>> applied_event(StateDatabase& db, const std::string& event_id) {
  auto rows = db.execute(fmt::format("SELECT outcome, to_char(applied_at AT TIME ZONE 'UTC', '{1}') "
                                     "FROM {0}.applied_events WHERE event_id = $1",
                                     db.schema(), kRfc3339),
                         {event_id});
  if (!rows) return rows.error();
  if (rows.value().empty()) return std::optional<AppliedEvent>();
  return std::optional<AppliedEvent>(AppliedEvent{rows.value()[0][0].value_or(""), rows.value()[0][1].value_or("")});
}

mapping::Result<std::optional<std::string>> parked_waiting_for(StateDatabase& db, const std::string& event_id) {
  auto rows =
      db.execute(fmt::format("SELECT waiting_for FROM {}.parked_events WHERE event_id = $1", db.schema()), {event_id});
  if (!rows) return rows.error();
  if (rows.value().empty()) return std::optional<std::string>();
  return std::optional<std::string>(rows.value()[0][0].value_or(""));
}

}  // namespace crmsync::state
