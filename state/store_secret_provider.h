#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "mapping/secret_provider.h"
#include "state/secret_crypto.h"
#include "state/state_database.h"

namespace crmsync::state {

class SecretStore;

// The encrypted store as a SecretProvider for the running daemon. Keeps decrypted current values
// in memory; refresh() (called every secrets.reload_interval) compares current versions with the
// database and drops the ones that changed, so a promoted secret is used from the next request on.
// Owns its own state-database connection, reconnecting when it is lost. Thread-safe.
class StoreSecretProvider final : public mapping::SecretProvider {
 public:
  // `on_loaded` sees every value the provider decrypts (the daemon registers them with the log
  // redactor); `operator_name` is recorded for rotated values it stores.
  StoreSecretProvider(StateDatabaseSettings database, MasterKey master, std::chrono::seconds previous_grace,
                      std::function<void(const mapping::SecretString&)> on_loaded, std::string operator_name);
  ~StoreSecretProvider() override;

  mapping::Result<mapping::SecretString> current(const std::string& name) override;
  mapping::Status store_rotated(const std::string& name, const mapping::SecretString& value) override;

  // Journals every change the provider makes (a rotated refresh token, expired versions destroyed
  // through with_store) with this key from now on; see SecretStore::journal_with.
  void journal_with(mapping::SecretString key);

  // Names whose current version changed since the last refresh (empty on the first call).
  mapping::Result<std::set<std::string>> refresh();
  // Current version per name as of the last refresh.
  std::map<std::string, int> known_versions() const;

  // The store itself, on the provider's connection, for maintenance (destroy_expired, list).
  template <typename Body>
  auto with_store(Body&& body) {
    std::lock_guard lock(mutex_);
    auto connected = ensure_connected();
    using ResultType = decltype(body(std::declval<SecretStore&>()));
    if (!connected) return ResultType(connected.error());
    return body(*store_);
  }

 private:
  mapping::Status ensure_connected();
  StateDatabaseSettings settings_;
  MasterKey master_;
  std::chrono::seconds previous_grace_;
  std::function<void(const mapping::SecretString&)> on_loaded_;
  std::string operator_;
  std::optional<mapping::SecretString> journal_key_;
  mutable std::mutex mutex_;
  std::unique_ptr<StateDatabase> database_;
  std::unique_ptr<SecretStore> store_;
  std::map<std::string, std::pair<int, mapping::SecretString>> cache_;
  std::map<std::string, int> versions_;
  bool refreshed_once_ = false;
};

}  // namespace crmsync::state
