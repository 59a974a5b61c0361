#include "daemon/dependency_checks.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connectors/kafka/kafka_probe.h"
#include "state/migrator.h"

namespace crmsync::daemon {

namespace {

class StateDatabaseCheck final : public DependencyCheck {
 public:
  StateDatabaseCheck(state::StateDatabaseSettings settings, std::shared_ptr<spdlog::logger> logger)
      : settings_(std::move(settings)), logger_(std::move(logger)) {}

  const std::string& name() const override { return name_; }

  mapping::Result<std::string> check() override {
    if (database_) {
      auto ping = database_->ping();
      if (ping) return std::string("connected");
      database_.reset();
      return ping.error();
    }
    auto connected = state::StateDatabase::connect(settings_);
    if (!connected) return connected.error();
    auto migrated = state::migrate(*connected.value(), state::embedded_migrations(),
                                   state::DryRun::no);
    if (!migrated) return migrated.error();
    const auto& report = migrated.value();
    if (!report.applied.empty()) {
      logger_->info("state schema migrated schema={} from_version={} to_version={} applied={}",
                    settings_.schema, report.version_before, report.version_after,
                    report.applied.size());
    }
    database_ = std::move(connected).value();
    return fmt::format("connected, schema {} at version {}", settings_.schema,
                       report.version_after);
  }

 private:
  std::string name_{"state_db"};
  state::StateDatabaseSettings settings_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<state::StateDatabase> database_;
};

class KafkaCheck final : public DependencyCheck {
 public:
  KafkaCheck(connectors::kafka::KafkaSettings settings, std::chrono::milliseconds timeout,
             std::shared_ptr<spdlog::logger> logger)
      : settings_(std::move(settings)), timeout_(timeout), logger_(std::move(logger)) {}

  const std::string& name() const override { return name_; }

  mapping::Result<std::string> check() override {
    if (!probe_) {
      auto created = connectors::kafka::KafkaProbe::create(settings_, logger_);
      if (!created) return created.error();
      probe_ = std::move(created).value();
    }
    auto brokers = probe_->check(timeout_);
    if (!brokers) return brokers.error();
    return fmt::format("{} broker(s)", brokers.value());
  }

 private:
  std::string name_{"kafka"};
  connectors::kafka::KafkaSettings settings_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<connectors::kafka::KafkaProbe> probe_;
};

}  // namespace

std::unique_ptr<DependencyCheck> make_state_database_check(state::StateDatabaseSettings settings,
                                                           std::shared_ptr<spdlog::logger> logger) {
  return std::make_unique<StateDatabaseCheck>(std::move(settings), std::move(logger));
}

std::unique_ptr<DependencyCheck> make_kafka_check(connectors::kafka::KafkaSettings settings,
                                                  std::chrono::milliseconds timeout,
                                                  std::shared_ptr<spdlog::logger> logger) {
  return std::make_unique<KafkaCheck>(std::move(settings), timeout, std::move(logger));
}

}  // namespace crmsync::daemon
