#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mapping/canonical_event.h"
#include "mapping/sharing_rules.h"
#include "mapping/sync_error.h"
#include "state/state_database.h"

namespace crmsync::state {

// One synced record as the engine remembers it: the id map, the base snapshot, and the last
// version seen from each side.
struct SyncRecord {
  mapping::ObjectKind object = mapping::ObjectKind::account;
  std::string record_id;  // canonical id: the PRM id
  bool on_prm = false;
  std::optional<std::string> salesforce_id;
  std::optional<std::string> dynamics_id;
  std::map<std::string, mapping::FieldValue> base;
  std::map<std::string, std::string> versions;  // side name -> version last seen
  bool deleted = false;
  mapping::Sharing sharing;        // owner and grants as every side last agreed on them
  long long sharing_version = 0;   // moves whenever `sharing` changes
  // Per CRM: the owner and shares crmsync last wrote or saw there, in that CRM's principals.
  std::map<mapping::Side, mapping::SideSharing> side_sharing;
};

// A manual conflict to queue.
struct ConflictRecord {
  mapping::ObjectKind object = mapping::ObjectKind::account;
  std::string record_id;
  std::string field;
  std::string policy;
  std::optional<mapping::FieldValue> base;
  std::map<std::string, mapping::FieldValue> side_values;  // side name -> value
  std::string event_id;
};

// The engine's tables (migration 0006), used inside one state transaction: every call goes through
// the transaction's executor, so id map, base, applied events, conflicts and parked events commit
// together with the journal. Owned by the apply worker for the duration of one transaction.
class SyncRecordStore {
 public:
  SyncRecordStore(const StateDatabase::Executor& execute, std::string schema);

  // Transaction-scoped advisory locks on record keys, taken in sorted order (no deadlock between
  // workers or replicas), held until commit: one record is merged by one worker at a time.
  mapping::Status lock(std::vector<std::string> keys);

  mapping::Result<std::map<std::string, SyncRecord>> load(mapping::ObjectKind object,
                                                          const std::vector<std::string>& record_ids);
  // Records synced to a CRM `side` and not deleted, ordered by record id, after `after`, at most
  // `limit` (the sharing sweep pages through them).
  mapping::Result<std::vector<SyncRecord>> synced_on(mapping::ObjectKind object, mapping::Side side,
                                                     const std::string& after, std::size_t limit);
  // side id -> record id, for the ids that are mapped.
  mapping::Result<std::map<std::string, std::string>> find_by_side_ids(mapping::ObjectKind object, mapping::Side side,
                                                                       const std::vector<std::string>& side_ids);
  mapping::Status save(const SyncRecord& record);

  mapping::Result<std::set<std::string>> already_applied(const std::vector<std::string>& event_ids);
  mapping::Status mark_applied(const std::string& event_id, std::string_view outcome);

  // record id -> fields with an open manual conflict, for the records that have any.
  mapping::Result<std::map<std::string, std::set<std::string>>> open_conflicts(mapping::ObjectKind object,
                                                                               const std::vector<std::string>& record_ids);
  mapping::Status queue_conflict(const ConflictRecord& conflict);
  // Marks conflict `id` resolved with `resolution` (JSON text: who decided what). False when it was
  // not open (resolved already, or no such conflict).
  mapping::Result<bool> resolve_conflict(std::int64_t id, const std::string& resolution);

  // Parks an event until `waiting_for` resolves. An event parked already (re-applied from the
  // parked events and still waiting) gets the new waiting_for and reason. True when the event was
  // not parked before or now waits for something else (worth a journal entry); false when it was
  // parked again for what it already waited for.
  mapping::Result<bool> park(const std::string& event_id, mapping::ObjectKind object, const std::string& waiting_for,
                       const std::string& reason, const std::string& event_json);
  mapping::Status unpark(const std::string& event_id);
  // Parked events (event JSON) waiting for any of `keys`, oldest first.
  mapping::Result<std::vector<std::string>> parked_for(const std::vector<std::string>& keys);

  // Deletes applied from `source` within `window` (the delete guard's count).
  mapping::Result<long long> recent_deletes(mapping::Side source, std::chrono::milliseconds window);
  mapping::Status record_delete(mapping::Side source);
  // A PRM change denied by the inbound authorization (the journal holds the details too).
  mapping::Status record_denial(const std::string& event_id, mapping::ObjectKind object, const std::string& record_id,
                                const std::string& actor, const std::optional<std::string>& partner_org,
                                std::string_view scope, const std::string& reason);
  mapping::Status hold_delete(const std::string& event_id, mapping::Side source, mapping::ObjectKind object,
                              const std::string& record_id, const std::string& event_json);

 private:
  const StateDatabase::Executor& execute_;
  std::string schema_;
};

// Parked events (JSON) that can go now, oldest first, for the periodic sweep: an operator's retry
// ("retry:…"); a deal whose awaited account is mapped now ("account:<side>:<id>"; it arrived while
// the un-parking was missed, e.g. across a restart); an account delete that deals referred to
// ("deals-of:<account id>") once no synced deal still on the PRM refers to it. Events still waiting
// are not returned. (A deals-of event can come back parked when a deal crmsync has not synced yet
// still refers to the account; SyncRecordStore::park does not journal that again.)
mapping::Result<std::vector<std::string>> resolvable_parked_events(StateDatabase& db, std::size_t limit);

// A JSON array of strings (for `jsonb_array_elements_text($n::jsonb)` parameters).
std::string json_string_array(const std::vector<std::string>& values);

}  // namespace crmsync::state
