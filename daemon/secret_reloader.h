#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "daemon/config.h"
#include "mapping/secret.h"
#include "mapping/secret_provider.h"
#include "state/secret_store.h"

namespace spdlog {
class logger;
}

namespace crmsync::state {
class StoreSecretProvider;
}

namespace crmsync::daemon {

class MetricsRegistry;
class MetricSeries;

// The journal key that journals the secret changes the daemon makes itself (a refresh token the
// CRM rotated, versions destroyed after their grace window): the key; nothing when no key exists
// yet (no journal.key_file and no journal.key_secret in the store: such changes are recorded in
// the store's audit table only); or why a key that exists cannot be loaded.
mapping::Result<std::optional<mapping::SecretString>> journal_key_for_secret_changes(const Config& config,
                                                                                    mapping::SecretProvider& secrets);

// Keeps the running daemon's secrets fresh: every secrets.reload_interval it asks the store which
// current versions changed (a `crmsync secrets promote` on any host), so that the provider serves
// the new value from the next request on; it destroys previous versions whose grace window ended,
// and publishes per secret its current version, age and whether it is older than its maximum age
// (secrets.max_age or its secrets.max_age_overrides entry: a rotation a person must do, the CRM
// APIs crmsync uses cannot issue client secrets or keys). A secret past its maximum age is logged
// as a warning when first seen, then at most once a day. Until the journal key could be loaded
// (journal_key_from), each round tries again. Failed store operations count in
// crmsync_secret_reload_failures_total and are logged rate-limited (1st, 2nd, 4th, 8th, … in a
// row as warnings, the rest at debug). Owned by DaemonProcess; one thread between start() and
// stop(); configure before start().
class SecretReloader {
 public:
  using Now = std::function<std::chrono::steady_clock::time_point()>;
  using JournalKeyLoad = std::function<mapping::Result<std::optional<mapping::SecretString>>()>;

  SecretReloader(state::StoreSecretProvider& provider, std::chrono::milliseconds interval,
                 state::SecretAgePolicy max_age, MetricsRegistry& metrics, std::shared_ptr<spdlog::logger> logger,
                 std::string operator_name, Now now = &std::chrono::steady_clock::now);
  ~SecretReloader();

  // The journal key could not be loaded at start: each round calls `load` until it gives a key,
  // then the provider journals with it (see journal_key_for_secret_changes()).
  void journal_key_from(JournalKeyLoad load);

  // One round (also used by tests).
  void run_once();
  void start();
  void stop();

  // How often a secret past its maximum age is warned about again.
  static constexpr std::chrono::hours kOverdueWarningInterval{24};

 private:
  // Counts a failed store operation and logs it rate-limited (`streak` failures in a row).
  void failed(std::string_view what, const mapping::SyncError& error, int& streak);
  void load_journal_key();
  void publish_ages();

  state::StoreSecretProvider& provider_;
  std::chrono::milliseconds interval_;
  state::SecretAgePolicy max_age_;
  MetricsRegistry& metrics_;
  std::shared_ptr<spdlog::logger> logger_;
  std::string operator_;
  Now now_;
  MetricSeries& reloads_;
  MetricSeries& failures_;
  JournalKeyLoad journal_key_load_;
  int journal_key_failures_ = 0;
  int refresh_failures_ = 0;
  int destroy_failures_ = 0;
  int ages_failures_ = 0;
  // Per overdue secret: its version and when it was last warned about.
  std::map<std::string, std::pair<int, std::chrono::steady_clock::time_point>> overdue_warned_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace crmsync::daemon
