#include "daemon/secret_reloader.h"

#include <spdlog/spdlog.h>

#include "daemon/credential_check.h"
#include "daemon/metrics.h"
#include "state/secret_store.h"
#include "state/store_secret_provider.h"

namespace crmsync::daemon {

SecretReloader::SecretReloader(state::StoreSecretProvider& provider, std::chrono::milliseconds interval,
                               state::SecretAgePolicy max_age, MetricsRegistry& metrics,
                               std::shared_ptr<spdlog::logger> logger, std::string operator_name)
    : provider_(provider),
      interval_(interval),
      max_age_(std::move(max_age)),
      metrics_(metrics),
      logger_(std::move(logger)),
      operator_(std::move(operator_name)),
      reloads_(metrics.series("crmsync_secret_reloads_total", "Secrets whose current version changed while running.",
                              MetricType::counter)),
      failures_(metrics.series("crmsync_secret_reload_failures_total",
                               "Secret store checks that failed (the last known values stay in use).",
                               MetricType::counter)) {}

SecretReloader::~SecretReloader() { stop(); }

void SecretReloader::run_once() {
  auto changed = provider_.refresh();
  if (!changed) {
    failures_.increment();
    logger_->warn("secret store check failed; keeping the values in use error=\"{}\"", changed.error().message);
    return;
  }
  for (const auto& name : changed.value()) {
    reloads_.increment();
    logger_->info("secret rotated; the new current version is used from the next request on secret={} version={}",
                  name, provider_.known_versions()[name]);
  }
  auto expired = provider_.with_store([this](state::SecretStore& store) { return store.destroy_expired(operator_); });
  if (expired && expired.value() > 0) {
    logger_->info("previous secret versions destroyed after their grace window count={}", expired.value());
  }
  auto ages = provider_.with_store([this](state::SecretStore& store) { return store.ages(max_age_); });
  if (!ages) return;
  for (const auto& age : ages.value()) {
    std::map<std::string, std::string> labels{{"name", age.name}};
    metrics_.series("crmsync_secret_current_version", "Current version of each secret.", MetricType::gauge, labels)
        .set(age.version);
    metrics_.series("crmsync_secret_age_seconds", "Age of each secret's current version.", MetricType::gauge, labels)
        .set(static_cast<double>(age.age.count()));
    metrics_.series("crmsync_secret_rotation_due",
                    "1 when a secret's current version is older than secrets.max_age: a person must rotate it.",
                    MetricType::gauge, labels)
        .set(age.rotation_due ? 1 : 0);
    if (age.rotation_due) {
      logger_->warn("secret is older than secrets.max_age; rotate it: {} secret={} version={} age_days={} "
                    "max_age_days={}",
                    rotation_advice(age.name), age.name, age.version, age.age.count() / 86400,
                    age.max_age.count() / 86400);
    }
  }
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
