#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mapping/secret.h"
#include "mapping/sync_error.h"
#include "state/secret_crypto.h"

namespace crmsync::state {

class StateDatabase;

enum class SecretStage { pending, current, previous, destroyed };
std::string_view to_string(SecretStage stage);

// What `crmsync secrets list` shows of a version: never its value.
struct SecretVersionInfo {
  std::string name;
  int version = 0;
  SecretStage stage = SecretStage::current;
  std::string created_at;  // RFC 3339
  std::string created_by;
  std::string stage_changed_at;
  std::optional<std::string> usable_until;
  double age_seconds = 0;
  std::string master_key_id;
};

// How old a secret's current version may get before a person must rotate it: secrets.max_age,
// with per-name overrides (secrets.max_age_overrides).
struct SecretAgePolicy {
  std::chrono::seconds max_age{std::chrono::hours(24 * 90)};
  std::map<std::string, std::chrono::seconds> overrides;
};

// The age of one secret's current version (since it was put) against its maximum age.
struct SecretAge {
  std::string name;
  int version = 0;
  std::chrono::seconds age{0};
  std::chrono::seconds max_age{0};
  bool rotation_due = false;  // age > max_age
};

// The one age computation (/metrics, the daemon's warning, `crmsync status`): one entry per
// secret that has a current version, from list()'s rows.
std::vector<SecretAge> secret_ages(const std::vector<SecretVersionInfo>& versions, const SecretAgePolicy& policy);

// The encrypted secret store in the state database (DESIGN §5). Versions move
// pending → current → previous (accepted until the grace window ends) → destroyed. Every change is
// one transaction with its audit row. Uses the connection it is given (one thread at a time).
class SecretStore {
 public:
  SecretStore(StateDatabase& database, const MasterKey& master, std::chrono::seconds previous_grace);

  // From now on every stage change is also appended to the tamper-evident journal (kind "secret",
  // in the same transaction as the change), signed with `key`. Without it, changes are recorded
  // in the store's own audit table only. The actor is "daemon:<instance>" for an operator name
  // that starts with "daemon:", else "operator:<name>".
  void journal_with(mapping::SecretString key);
  bool journaling() const { return journal_key_.has_value(); }

  // A new version. As `current` it replaces the current one at once (which becomes previous); as
  // `pending` it waits for promote() or discard_pending(). Returns the new version number.
  mapping::Result<int> put(const std::string& name, const mapping::SecretString& value, SecretStage stage,
                           const std::string& operator_name);

  mapping::Result<mapping::SecretString> current(const std::string& name);
  // The current value and its version.
  mapping::Result<std::pair<int, mapping::SecretString>> current_with_version(const std::string& name);
  mapping::Result<std::optional<std::pair<int, mapping::SecretString>>> pending(const std::string& name);
  // Previous versions still inside their grace window (newest first).
  mapping::Result<std::vector<mapping::SecretString>> previous_usable(const std::string& name);

  // pending → current, current → previous (usable for the grace window).
  mapping::Status promote(const std::string& name, const std::string& operator_name);
  // pending → destroyed, recording why (a failed test); current stays as it is.
  mapping::Status discard_pending(const std::string& name, const std::string& operator_name,
                                  const std::string& reason);
  mapping::Status destroy(const std::string& name, int version, const std::string& operator_name);
  // previous versions past their grace window → destroyed. Returns how many.
  mapping::Result<int> destroy_expired(const std::string& operator_name);

  mapping::Result<std::vector<SecretVersionInfo>> list();
  // secret_ages() of list().
  mapping::Result<std::vector<SecretAge>> ages(const SecretAgePolicy& policy);
  // name → current version, for live reload (cheap: no decryption).
  mapping::Result<std::map<std::string, int>> current_versions();

  // Re-wraps every stored data key under `next` in one transaction; afterwards only `next` opens
  // them. Returns how many versions were re-wrapped.
  mapping::Result<int> rotate_master(const MasterKey& next, const std::string& operator_name);

  static bool is_valid_name(const std::string& name);

 private:
  mapping::Result<mapping::SecretString> open_row(const std::string& name, int version, const std::vector<std::optional<std::string>>& row);
  StateDatabase& database_;
  const MasterKey& master_;
  std::chrono::seconds previous_grace_;
  std::optional<mapping::SecretString> journal_key_;
};

}  // namespace crmsync::state
