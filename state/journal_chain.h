#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "mapping/secret.h"
#include "state/journal.h"

namespace crmsync::state {

// The journal's hash chain without the database (DESIGN §4): how an entry is hashed, and the
// check that verify_journal runs over the stored rows. Split out of journal.cc so that the check
// itself can be tested and fuzzed with any row contents.

// HMAC-SHA-256(key, prev_hash || canonical encoding of seq, recorded_at and every field of the
// entry, each length-prefixed), raw bytes (32). `prev_hash` is raw bytes too (32 zero bytes
// before the first entry).
std::string journal_entry_hash(const mapping::SecretString& key, std::string_view prev_hash, long long seq,
                               std::string_view recorded_at, const JournalEntry& entry);

// Lower-case hex of raw bytes, and back (either case); nothing when `hex` is not an even number
// of hex digits.
std::string journal_hex(std::string_view bytes);
std::optional<std::string> journal_unhex(std::string_view hex);

// The journal head as stored: the last seq and hash (hex) the appenders recorded.
struct JournalHead {
  long long last_seq = 0;
  std::string last_hash_hex;
};

// Walks the chain entry by entry, in seq order: a gap, an entry out of place, a prev_hash that is
// not the previous entry's hash, a hash that does not match the entry (changed, or another key),
// and at the end a head that does not match the last entry. Stops at the first break; `result()`
// then names the first bad seq and why. Owned by one verification; not thread-safe.
class JournalChainCheck {
 public:
  // `head_name` names the head row's table in messages ("crmsync.journal_head").
  JournalChainCheck(const mapping::SecretString& key, std::string head_name);

  // The next stored entry; false (and result() is final) when the chain breaks at it.
  bool next(const StoredJournalEntry& stored);
  // After the last entry: the head row as read in the same snapshot (nothing when it is missing).
  void finish(const std::optional<JournalHead>& head);

  long long last_seq() const { return last_seq_; }
  bool broken() const { return !result_.intact; }
  const JournalVerification& result() const { return result_; }

 private:
  bool broke(long long seq, std::string reason);

  const mapping::SecretString& key_;
  std::string head_name_;
  long long last_seq_ = 0;
  std::string last_hash_;
  JournalVerification result_;
};

}  // namespace crmsync::state
