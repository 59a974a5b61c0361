#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mapping/secret.h"
#include "mapping/sync_error.h"
#include "state/state_database.h"

namespace crmsync::state {

// One sync decision as the journal records it (DESIGN §4). Record payloads do not belong here
// beyond the before/after of the fields the decision concerns.
struct JournalEntry {
  // applied | echo_skipped | superseded | conflict | conflict_resolved | parked | unparked |
  // dead_lettered | denied | delete_held | operator | secret | rebaseline
  std::string kind;
  // "partner_user:<id>", "internal_user:<id>", "integration:<id>", "operator:<name>",
  // "daemon:<instance>"
  std::string actor;
  std::string object;     // account | deal | "" for non-record entries
  std::string record_id;  // canonical record id ("" when none)
  std::string source;     // prm | salesforce | dynamics | operator | daemon
  std::string event_id;   // "" when none
  std::string policy;     // conflict policy when relevant, else ""
  // A JSON object, e.g. {"fields":{"amount":{"before":"100.00","after":"120.00"}},"reason":"..."}
  std::string detail_json;
};

// An entry as stored: its place in the chain, when it was recorded (RFC 3339 UTC with
// microseconds, "2024-05-01T12:00:00.123456Z", exactly the text that was hashed) and its hashes.
struct StoredJournalEntry {
  long long seq = 0;
  std::string recorded_at;
  JournalEntry entry;
  std::string prev_hash_hex, hash_hex;
};

// The journal key (HMAC-SHA-256) must have at least this many bytes.
inline constexpr std::size_t kJournalKeyMinBytes = 32;

// Appends `entries` inside the caller's transaction (the engine's state transaction, so that the
// id map, the base and the journal commit together). Serialised across workers and replicas: locks
// the journal_head row FOR UPDATE, so the transaction holds that lock until it ends; keep it short
// after appending. Every entry gets the next seq, the same recorded_at (the database clock once
// the lock is held) and hash = HMAC-SHA-256(key, prev_hash || canonical encoding of seq,
// recorded_at and every field, each length-prefixed). An unknown kind or source, or a detail that
// is not a JSON object, is `invalid` and nothing is written.
mapping::Status append_journal(const StateDatabase::Executor& execute, const std::string& schema,
                               const mapping::SecretString& key,
                               const std::vector<JournalEntry>& entries);
// The same in its own transaction.
mapping::Status append_journal(StateDatabase& db, const mapping::SecretString& key,
                               const std::vector<JournalEntry>& entries);

struct JournalVerification {
  bool intact = true;
  long long entries_checked = 0;  // entries read (up to and including the first bad one)
  std::optional<long long>
      first_bad_seq;   // the first entry that is missing, changed, moved or extra
  std::string reason;  // one line, naming the seq and what is wrong
};

// Walks the whole chain in seq order, a page at a time, in one read-only snapshot: a changed row,
// a deleted row (gap in seq or prev_hash mismatch), a reordered row, a head that does not match
// the last row, or the wrong key (fails at seq 1) is reported with the first bad seq. A broken
// chain is a successful result with intact = false; an error means the check could not run.
mapping::Result<JournalVerification> verify_journal(StateDatabase& db,
                                                    const mapping::SecretString& key);

// The newest `limit` entries of one record, returned oldest first.
mapping::Result<std::vector<StoredJournalEntry>> journal_for_record(StateDatabase& db,
                                                                    const std::string& object,
                                                                    const std::string& record_id,
                                                                    std::size_t limit);

// The newest entry of kind applied | conflict_resolved | operator for the record whose detail has
// "fields"."<field>": the entry that gave the field its current value. Nothing if none.
mapping::Result<std::optional<StoredJournalEntry>> explain_field(StateDatabase& db,
                                                                 const std::string& object,
                                                                 const std::string& record_id,
                                                                 const std::string& field);

// The JSON text of detail.fields.<field> (e.g. {"before":"100.00","after":"120.00"}), or nothing
// when the detail is not JSON or has no such field.
std::optional<std::string> journal_field_change(std::string_view detail_json,
                                                std::string_view field);

// True when `text` is one JSON object (what detail_json must be).
bool is_json_object(std::string_view text);

// A journal key from its text form (a key file, or the secret store's value): base64 of at least
// kJournalKeyMinBytes bytes, surrounding whitespace ignored. The error never contains the text.
mapping::Result<mapping::SecretString> decode_journal_key(const mapping::SecretString& base64_text);

// The kinds and sources append_journal accepts.
bool is_journal_kind(std::string_view kind);
bool is_journal_source(std::string_view source);

}  // namespace crmsync::state
