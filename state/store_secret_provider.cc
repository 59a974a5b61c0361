#include "state/store_secret_provider.h"

#include "state/secret_store.h"

namespace crmsync::state {

StoreSecretProvider::StoreSecretProvider(StateDatabaseSettings database, MasterKey master,
                                         std::chrono::seconds previous_grace,
                                         std::function<void(const mapping::SecretString&)> on_loaded,
                                         std::string operator_name)
    : settings_(std::move(database)),
      master_(std::move(master)),
      previous_grace_(previous_grace),
      on_loaded_(std::move(on_loaded)),
      operator_(std::move(operator_name)) {}

StoreSecretProvider::~StoreSecretProvider() = default;

mapping::Status StoreSecretProvider::ensure_connected() {
  if (database_) return mapping::ok_status();
  auto connected = StateDatabase::connect(settings_);
  if (!connected) return connected.error();
  database_ = std::move(connected).value();
  store_ = std::make_unique<SecretStore>(*database_, master_, previous_grace_);
  if (journal_key_) store_->journal_with(*journal_key_);
  return mapping::ok_status();
}

void StoreSecretProvider::journal_with(mapping::SecretString key) {
  std::lock_guard lock(mutex_);
  journal_key_ = key;
  if (store_) store_->journal_with(std::move(key));
}

mapping::Result<mapping::SecretString> StoreSecretProvider::current(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (auto it = cache_.find(name); it != cache_.end()) return it->second.second;
  if (auto connected = ensure_connected(); !connected) return connected.error();
  auto loaded = store_->current_with_version(name);
  if (!loaded) {
    if (loaded.error().error_class == mapping::ErrorClass::transient) {
      store_.reset();
      database_.reset();
    }
    return loaded.error();
  }
  if (on_loaded_) on_loaded_(loaded.value().second);
  cache_[name] = loaded.value();
  return loaded.value().second;
}

mapping::Status StoreSecretProvider::store_rotated(const std::string& name, const mapping::SecretString& value) {
  std::lock_guard lock(mutex_);
  if (auto connected = ensure_connected(); !connected) return connected;
  if (on_loaded_) on_loaded_(value);
  auto version = store_->put(name, value, SecretStage::current, operator_);
  if (!version) {
    if (version.error().error_class == mapping::ErrorClass::transient) {
      store_.reset();
      database_.reset();
    }
    return version.error();
  }
  cache_[name] = {version.value(), value};
  versions_[name] = version.value();
  return mapping::ok_status();
}

mapping::Result<std::set<std::string>> StoreSecretProvider::refresh() {
  std::lock_guard lock(mutex_);
  if (auto connected = ensure_connected(); !connected) return connected.error();
  auto versions = store_->current_versions();
  if (!versions) {
    store_.reset();
    database_.reset();
    return versions.error();
  }
  std::set<std::string> changed;
  for (const auto& [name, version] : versions.value()) {
    auto known = versions_.find(name);
    if (refreshed_once_ && (known == versions_.end() || known->second != version)) changed.insert(name);
    auto cached = cache_.find(name);
    if (cached != cache_.end() && cached->second.first != version) cache_.erase(cached);
  }
  for (auto it = cache_.begin(); it != cache_.end();) {
    it = versions.value().contains(it->first) ? std::next(it) : cache_.erase(it);
  }
  versions_ = versions.value();
  refreshed_once_ = true;
  return changed;
}

std::map<std::string, int> StoreSecretProvider::known_versions() const {
  std::lock_guard lock(mutex_);
  return versions_;
}

}  // namespace crmsync::state
