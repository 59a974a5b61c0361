#include "daemon/secret_reloader.h"

#include <spdlog/spdlog.h>

#include "daemon/credential_check.h"
#include "daemon/journal_key.h"
#include "daemon/metrics.h"
#include "state/secret_store.h"
#include "state/store_secret_provider.h"

namespace crmsync::daemon {

namespace {

// 1st, 2nd, 4th, 8th, … failure in a row: worth a warning; the others go to debug.
bool worth_a_warning(int streak) { return streak > 0 && (streak & (streak - 1)) == 0; }

}  // namespace

mapping::Result<std::optional<mapping::SecretString>> journal_key_for_secret_changes(const Config& config,
                                                                                    mapping::SecretProvider& secrets) {
  auto key = load_journal_key(config, &secrets);
  if (key) return std::optional<mapping::SecretString>(std::move(key).value());
  JournalSection journal = config.journal.value_or(JournalSection{});
  if (!journal.key_file) {
    // The provider's contract: `invalid` means the secret does not exist (yet).
    auto stored = secrets.current(journal.key_secret);
    if (!stored && stored.error().error_class == mapping::ErrorClass::invalid) {
      return std::optional<mapping::SecretString>();
    }
  }
  return key.error();
}

SecretReloader::SecretReloader(state::StoreSecretProvider& provider, std::chrono::milliseconds interval,
                               state::SecretAgePolicy max_age, MetricsRegistry& metrics,
                               std::shared_ptr<spdlog::logger> logger, std::string operator_name, Now now)
    : provider_(provider),
      interval_(interval),
      max_age_(std::move(max_age)),
      metrics_(metrics),
      logger_(std::move(logger)),
      operator_(std::move(operator_name)),
      now_(std::move(now)),
      reloads_(metrics.series("crmsync_secret_reloads_total", "Secrets whose current version changed while running.",
                              MetricType::counter)),
      failures_(metrics.series("crmsync_secret_reload_failures_total",
                               "Secret store checks that failed (the last known values stay in use).",
                               MetricType::counter)) {}

SecretReloader::~SecretReloader() { stop(); }

void SecretReloader::journal_key_from(JournalKeyLoad load) { journal_key_load_ = std::move(load); }

void SecretReloader::failed(std::string_view what, const mapping::SyncError& error, int& streak) {
  failures_.increment();
  ++streak;
  auto level = worth_a_warning(streak) ? spdlog::level::warn : spdlog::level::debug;
  logger_->log(level, "{} failed; trying again in secrets.reload_interval failures_in_a_row={} error=\"{}\"", what,
               streak, error.message);
}

void SecretReloader::load_journal_key() {
  if (!journal_key_load_) return;
  auto key = journal_key_load_();
  if (!key) {
    ++journal_key_failures_;
    auto level = worth_a_warning(journal_key_failures_) ? spdlog::level::warn : spdlog::level::debug;
    logger_->log(level,
                 "the journal key cannot be loaded; secret changes made by the daemon are recorded in the secret "
                 "store's audit table only until it can failures_in_a_row={} error=\"{}\"",
                 journal_key_failures_, key.error().message);
    return;
  }
  if (!key.value()) return;  // none exists yet: nothing to journal with
  provider_.journal_with(std::move(*key.value()));
  journal_key_load_ = nullptr;
  logger_->info("journal key loaded; secret changes made by the daemon are journaled from now on");
}

void SecretReloader::run_once() {
  auto changed = provider_.refresh();
  if (!changed) {
    failed("secret store check (keeping the values in use)", changed.error(), refresh_failures_);
    return;
  }
  refresh_failures_ = 0;
  for (const auto& name : changed.value()) {
    reloads_.increment();
    logger_->info("secret rotated; the new current version is used from the next request on secret={} version={}",
                  name, provider_.known_versions()[name]);
  }
  load_journal_key();
  auto expired = provider_.with_store([this](state::SecretStore& store) { return store.destroy_expired(operator_); });
  if (!expired) {
    failed("destroying previous secret versions past their grace window", expired.error(), destroy_failures_);
  } else {
    destroy_failures_ = 0;
    if (expired.value() > 0) {
      logger_->info("previous secret versions destroyed after their grace window count={}", expired.value());
    }
  }
  publish_ages();
}

void SecretReloader::publish_ages() {
  auto ages = provider_.with_store([this](state::SecretStore& store) { return store.ages(max_age_); });
  if (!ages) {
    failed("reading secret ages", ages.error(), ages_failures_);
    return;
  }
  ages_failures_ = 0;
  auto now = now_();
  std::map<std::string, std::pair<int, std::chrono::steady_clock::time_point>> overdue;
  for (const auto& age : ages.value()) {
    std::map<std::string, std::string> labels{{"name", age.name}};
    metrics_.series("crmsync_secret_current_version", "Current version of each secret.", MetricType::gauge, labels)
        .set(age.version);
    metrics_.series("crmsync_secret_age_seconds", "Age of each secret's current version.", MetricType::gauge, labels)
        .set(static_cast<double>(age.age.count()));
    metrics_.series("crmsync_secret_rotation_due",
                    "1 when a secret's current version is older than its maximum age: a person must rotate it.",
                    MetricType::gauge, labels)
        .set(age.rotation_due ? 1 : 0);
    if (!age.rotation_due) continue;
    // Once when a version is first seen overdue, then daily: /metrics says it every scrape.
    auto warned = overdue_warned_.find(age.name);
    if (warned != overdue_warned_.end() && warned->second.first == age.version &&
        now - warned->second.second < kOverdueWarningInterval) {
      overdue[age.name] = warned->second;
      continue;
    }
    overdue[age.name] = {age.version, now};
    logger_->warn("secret is older than its maximum age (secrets.max_age); rotate it: {} secret={} version={} "
                  "age_days={} max_age_days={}",
                  rotation_advice(age.name), age.name, age.version, age.age.count() / 86400,
                  age.max_age.count() / 86400);
  }
  overdue_warned_ = std::move(overdue);
}

void SecretReloader::start() {
  thread_ = std::thread([this] {
    while (true) {
      run_once();
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, interval_, [this] { return stopping_; })) return;
    }
  });
}

void SecretReloader::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace crmsync::daemon
