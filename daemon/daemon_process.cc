#include "daemon/daemon_process.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "daemon/admin_routes.h"
#include "daemon/admin_server.h"
#include "daemon/capture_leadership.h"
#include "daemon/dependency_checks.h"
#include "daemon/dependency_supervisor.h"
#include "daemon/heartbeat.h"
#include "daemon/logging.h"
#include "daemon/metrics.h"
#include "daemon/prm_capture_service.h"
#include "daemon/readiness.h"
#include "daemon/supervisor_pulse.h"
#include "daemon/dynamics_service.h"
#include "daemon/salesforce_service.h"
#include "daemon/secret_reloader.h"
#include "state/store_secret_provider.h"
#include "connectors/dynamics/dataverse_applier.h"
#include "connectors/prm/prm_table_binding.h"
#include "daemon/apply_service.h"
#include "daemon/dynamics_side_gateway.h"
#include "daemon/engine_mapping.h"
#include "daemon/journal_key.h"
#include "daemon/principal_directory.h"
#include "daemon/sharing_sweep.h"
#include "daemon/prm_side_gateway.h"
#include "daemon/salesforce_side_gateway.h"
#include "daemon/settings_from_config.h"
#include "daemon/signal_waiter.h"
#include "daemon/systemd_notifier.h"

namespace crmsync::daemon {

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Ends the process with exit code 1 if shutdown has not finished within the grace period: a
// stuck drain must not keep a replica (or systemd's stop job) waiting forever. What was not
// committed is re-delivered on the next start, so cutting the drain short loses nothing.
class ShutdownDeadline {
 public:
  ShutdownDeadline(milliseconds grace, std::shared_ptr<spdlog::logger> logger)
      : thread_([this, grace, logger] {
          std::unique_lock lock(mutex_);
          if (!done_cv_.wait_for(lock, grace, [this] { return done_; })) {
            logger->error("shutdown exceeded daemon.shutdown_grace grace={}ms; exiting now; "
                          "uncommitted work will be re-delivered",
                          grace.count());
            std::_Exit(1);
          }
        }) {}
  ~ShutdownDeadline() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

DaemonProcess::DaemonProcess(Config config, Logging& logging, SignalWaiter& signals)
    : config_(std::move(config)), logging_(logging), signals_(signals) {}

int DaemonProcess::run() {
  auto log = logging_.logger("daemon");
  log->info("crmsync starting version={} instance={} config={}", CRMSYNC_VERSION,
            config_.daemon.instance_id, config_.source_file.string());

  // The mapping decides what the captures read and what the engine writes: a bad mapping file
  // stops the start, with every problem listed.
  std::optional<mapping::MappingDefinition> engine_mapping;
  try {
    engine_mapping = load_engine_mapping(config_);
    check_principal_file(config_);
  } catch (const ConfigError& error) {
    for (const auto& problem : error.problems()) log->critical("cannot start: {}", problem);
    return 2;
  }

  state::StateDatabaseSettings state_settings;
  std::optional<connectors::prm::PrmCaptureSettings> capture_settings;
  std::unique_ptr<state::StoreSecretProvider> secrets;
  try {
    state_settings = state_settings_from(config_, logging_.redactor());
    if (config_.prm) capture_settings = prm_capture_settings_from(config_, logging_.redactor());
    if (config_.secrets) {
      LogRedactor& redactor = logging_.redactor();
      secrets = std::make_unique<state::StoreSecretProvider>(
          state_settings, state::MasterKey::from_file(config_.secrets->master_key_file),
          std::chrono::duration_cast<std::chrono::seconds>(config_.secrets->previous_grace),
          [&redactor](const mapping::SecretString& value) { redactor.add_secret(value.reveal()); },
          "daemon:" + config_.daemon.instance_id);
    }
  } catch (const std::exception& error) {
    log->critical("cannot start: {}", error.what());
    return 2;
  }

  MetricsRegistry metrics;
  metrics.series("crmsync_build_info", "Version of the running crmsync.", MetricType::gauge,
                 {{"version", CRMSYNC_VERSION}})
      .set(1);
  MetricSeries& ready_gauge = metrics.series(
      "crmsync_ready", "Whether this process is ready for work (1) or not (0).", MetricType::gauge);
  MetricSeries& reloads_ok = metrics.series("crmsync_config_reloads_total",
                                            "Configuration reloads on SIGHUP.", MetricType::counter,
                                            {{"outcome", "applied"}});
  MetricSeries& reloads_failed = metrics.series("crmsync_config_reloads_total",
                                                "Configuration reloads on SIGHUP.",
                                                MetricType::counter, {{"outcome", "rejected"}});

  Readiness readiness;
  SystemdNotifier systemd;
  // Liveness and systemd's watchdog share one test: the supervisor completed a round within this
  // long (a round may take its dependency checks' timeouts and a retry backoff).
  const milliseconds supervisor_stall_limit =
      std::chrono::duration_cast<milliseconds>(systemd.watchdog_interval().value_or(std::chrono::seconds(30))) +
      config_.daemon.health_check_interval + 2 * config_.daemon.dependency_timeout + config_.daemon.retry_max_backoff;
  SupervisorPulse pulse(supervisor_stall_limit);
  AdminRoutes routes(readiness, metrics, &pulse);
  AdminServer admin(routes, logging_.logger("admin"));
  try {
    admin.start(config_.admin.host, config_.admin.port);
  } catch (const std::exception& error) {
    log->critical("cannot start: {}", error.what());
    return 1;
  }

  std::vector<std::unique_ptr<DependencyCheck>> checks;
  checks.push_back(make_state_database_check(state_settings, logging_.logger("state")));
  checks.push_back(make_kafka_check(kafka_settings_from(config_), config_.daemon.dependency_timeout,
                                    logging_.logger("kafka")));
  mapping::RetryPolicy retry;
  retry.initial = config_.daemon.retry_initial_backoff;
  retry.max = config_.daemon.retry_max_backoff;
  DependencySupervisor supervisor(std::move(checks), readiness, metrics,
                                  logging_.logger("supervisor"),
                                  config_.daemon.health_check_interval, retry,
                                  mapping::make_uniform_random());
  supervisor.start();

  // The journal key, loaded once here: it journals the daemon's own secret changes and the apply
  // workers' writes.
  std::optional<mapping::SecretString> journal_key;
  std::unique_ptr<SecretReloader> secret_reloader;
  if (secrets) {
    // Secret changes the daemon makes itself (a refresh token the CRM rotated, versions past their
    // grace window destroyed) go to the journal too when a journal key exists; until one can be
    // loaded they are recorded in the store's audit table only, and the reloader keeps trying.
    auto key = journal_key_for_secret_changes(config_, *secrets);
    if (key && key.value()) {
      journal_key = *key.value();
      secrets->journal_with(*journal_key);
    } else if (key) {
      log->info("no journal key yet: secret changes made by the daemon are recorded in the secret store's audit "
                "table only until one is put (checked every secrets.reload_interval)");
    } else {
      log->warn("the journal key cannot be loaded: secret changes made by the daemon are recorded in the secret "
                "store's audit table only; trying again every secrets.reload_interval error=\"{}\"",
                key.error().message);
    }
    secret_reloader = std::make_unique<SecretReloader>(*secrets, config_.secrets->reload_interval,
                                                       secret_age_policy_from(*config_.secrets), metrics,
                                                       logging_.logger("secrets"), "daemon:" + config_.daemon.instance_id);
    if (!journal_key) {
      secret_reloader->journal_key_from(
          [this, provider = secrets.get()] { return journal_key_for_secret_changes(config_, *provider); });
    }
    secret_reloader->start();
  }

  std::unique_ptr<mapping::SecretProvider> credential_files;
  std::unique_ptr<SalesforceService> salesforce;
  if (config_.salesforce) {
    mapping::SecretProvider* provider = secrets.get();
    if (provider == nullptr) {
      credential_files = salesforce_credential_files(*config_.salesforce);
      provider = credential_files.get();
    }
    salesforce = std::make_unique<SalesforceService>(config_, *provider, state_settings, metrics,
                                                     logging_.logger("salesforce"));
    try {
      salesforce->start();
    } catch (const std::exception& error) {
      log->critical("cannot start: {}", error.what());
      return 1;
    }
  }

  std::unique_ptr<mapping::SecretProvider> dynamics_files;
  std::unique_ptr<DynamicsService> dynamics;
  if (config_.dynamics) {
    mapping::SecretProvider* provider = secrets.get();
    if (provider == nullptr) {
      dynamics_files = dynamics_credential_files(*config_.dynamics);
      provider = dynamics_files.get();
    }
    dynamics = std::make_unique<DynamicsService>(config_, *provider, state_settings, metrics, logging_.logger("dynamics"));
    try {
      dynamics->start();
    } catch (const std::exception& error) {
      log->critical("cannot start: {}", error.what());
      return 1;
    }
  }

  // Built here, started only while this process is the capture leader (below).
  std::unique_ptr<PrmCaptureService> capture;
  if (capture_settings) {
    capture = std::make_unique<PrmCaptureService>(*capture_settings, state_settings,
                                                  kafka_settings_from(config_), retry, metrics,
                                                  logging_.logger("prm_capture"));
    try {
      capture->prepare();
    } catch (const std::exception& error) {
      log->critical("cannot start: {}", error.what());
      if (secret_reloader) secret_reloader->stop();
      supervisor.stop();
      admin.stop();
      return 1;
    }
  } else {
    log->info("prm capture disabled: no [prm] section in the configuration");
  }

  // The apply workers ([engine]): one consumer-group member over the three change topics, with a
  // gateway to every configured side.
  std::unique_ptr<connectors::dynamics::DataverseApplier> dataverse_applier;
  std::unique_ptr<ApplyService> apply;
  std::vector<std::unique_ptr<SharingSweep>> sweeps;
  if (config_.engine && config_.engine->enabled) {
    // Loaded again only when the first load gave no key, to say why the start fails.
    auto engine_key = journal_key ? mapping::Result<mapping::SecretString>(*journal_key)
                                  : load_journal_key(config_, secrets.get());
    if (!engine_key) {
      log->critical("cannot start: journal key: {}", engine_key.error().message);
      return 1;
    }
    std::vector<std::unique_ptr<SideGateway>> gateways;
    if (capture_settings) {
      gateways.push_back(std::make_unique<PrmSideGateway>(capture_settings->connection,
                                                          connectors::prm::reference_schema_bindings()));
    }
    if (salesforce && salesforce->client() != nullptr) {
      gateways.push_back(std::make_unique<SalesforceSideGateway>(*salesforce->client(), std::chrono::seconds(120)));
    }
    if (dynamics && dynamics->client() != nullptr) {
      connectors::dynamics::DataverseApplySettings apply_settings;
      apply_settings.batch_size = static_cast<std::size_t>(config_.dynamics->batch_size);
      dataverse_applier = std::make_unique<connectors::dynamics::DataverseApplier>(*dynamics->client(), apply_settings,
                                                                                    logging_.logger("dynamics"));
      gateways.push_back(std::make_unique<DynamicsSideGateway>(*dynamics->client(), *dataverse_applier,
                                                               std::chrono::seconds(120)));
    }
    ApplyServiceSettings apply_settings;
    apply_settings.instance_id = config_.daemon.instance_id;
    apply_settings.topic_prefix = config_.kafka.topic_prefix;
    apply_settings.group_id = config_.kafka.group_id;
    apply_settings.batch_max_events = static_cast<std::size_t>(config_.engine->batch_max_events);
    apply_settings.linger = config_.engine->linger;
    apply_settings.delete_guard_max = config_.engine->delete_guard_max;
    apply_settings.delete_guard_window = config_.engine->delete_guard_window;
    apply_settings.retry = retry;
    apply_settings.directory_refresh = config_.permissions.directory_refresh;
    apply_settings.anomaly_changes_per_minute = static_cast<std::size_t>(config_.permissions.anomaly_changes_per_minute);
    apply_settings.anomaly_denied_per_hour = static_cast<std::size_t>(config_.permissions.anomaly_denied_per_hour);
    apply_settings.quarantined_partner_orgs = {config_.permissions.quarantined_partner_orgs.begin(),
                                               config_.permissions.quarantined_partner_orgs.end()};
    if (capture_settings) {
      auto bindings = connectors::prm::reference_schema_bindings();
      apply_settings.principals = std::make_shared<PrincipalDirectory>(
          config_.permissions.principals_file, prm_directory_read(capture_settings->connection, bindings.directory));
    }
    auto principals = apply_settings.principals;
    apply = std::make_unique<ApplyService>(apply_settings, kafka_settings_from(config_), state_settings, *engine_mapping,
                                           std::move(gateways), std::move(engine_key).value(), metrics,
                                           logging_.logger("apply"));
    apply->start();
    // The sharing sweeps: share and owner changes made in a CRM, which its capture cannot see.
    auto sweep = [&](std::unique_ptr<CrmSharingSource> source) {
      SharingSweepSettings sweep_settings;
      sweep_settings.topic = config_.kafka.topic_prefix + ".changes." + std::string(mapping::to_string(source->side()));
      sweep_settings.interval = config_.permissions.sharing_sweep_interval;
      sweeps.push_back(std::make_unique<SharingSweep>(sweep_settings, std::move(source), principals, state_settings,
                                                      kafka_settings_from(config_), metrics,
                                                      logging_.logger("sharing")));
    };
    if (principals && salesforce && salesforce->client() != nullptr) sweep(salesforce_sharing_source(*salesforce->client()));
    if (principals && dynamics && dynamics->client() != nullptr) {
      sweep(dynamics_sharing_source(*dynamics->client(), static_cast<std::size_t>(config_.dynamics->batch_size)));
    }
  } else {
    log->info("apply workers disabled: no [engine] section (or engine.enabled = false)");
  }

  // Capture runs on one replica only, the holder of the capture lock in the state database
  // (daemon/capture_leadership.h); the apply workers above run on every replica. The main loop
  // starts capture when this process becomes the leader and stops it when it stops being it.
  bool capture_configured = capture || (salesforce && config_.salesforce->capture) ||
                            (dynamics && config_.dynamics->capture) || !sweeps.empty();
  std::unique_ptr<CaptureLeadership> leadership;
  bool capturing = false;
  auto start_capture = [&] {
    if (capture) capture->start();
    if (salesforce) salesforce->start_capture();
    if (dynamics) dynamics->start_capture();
    for (auto& sweep : sweeps) sweep->start();
    capturing = true;
  };
  // The CRM captures first: the PRM slot cannot be streamed twice anyway (PostgreSQL refuses an
  // active slot), and its stop drains in-flight events to Kafka and confirms them.
  auto stop_capture = [&] {
    if (salesforce) salesforce->stop_capture();
    if (dynamics) dynamics->stop_capture();
    for (auto& sweep : sweeps) sweep->stop();
    if (capture) {
      capture->stop();
      capture->publish_metrics();
    }
    capturing = false;
  };
  if (capture_configured) {
    leadership = std::make_unique<CaptureLeadership>(state_settings, config_.daemon.leader_retry_interval, metrics,
                                                     logging_.logger("leadership"));
    leadership->start();
  }

  systemd.ready("started; waiting for the state database and Kafka");
  milliseconds tick(1000);
  if (auto watchdog = systemd.watchdog_interval()) {
    tick = std::min(tick, std::chrono::duration_cast<milliseconds>(*watchdog / 4));
    log->info("systemd watchdog enabled interval={}ms",
              std::chrono::duration_cast<milliseconds>(*watchdog).count());
  }

  // The heartbeat row `crmsync status` reads: which pipelines run here, readiness, last error.
  Heartbeat heartbeat(state_settings, config_.daemon.instance_id,
                      std::max(milliseconds(1000), config_.daemon.health_check_interval), logging_.logger("heartbeat"));
  auto report_heartbeat = [&](const std::string& failed, std::optional<std::string> error) {
    HeartbeatReport report;
    report.ready = readiness.ready();
    auto state_of = [&](const std::string& pipeline, bool runs) {
      return pipeline == failed ? "failed" : runs ? "running" : "standby";
    };
    if (capture) report.pipelines["prm_capture"] = state_of("prm_capture", capturing);
    if (salesforce && config_.salesforce->capture) {
      report.pipelines["salesforce_capture"] = state_of("salesforce_capture", capturing);
    }
    if (dynamics && config_.dynamics->capture) report.pipelines["dynamics_capture"] = state_of("dynamics_capture", capturing);
    if (apply) report.pipelines["apply"] = state_of("apply", true);
    // Readiness detail is not an error (a starting daemon waits for its dependencies): it goes in
    // its own field, replaced at every update. Both texts may quote a dependency's error: redacted.
    if (!report.ready) report.not_ready = logging_.redactor().redact(readiness.to_json());
    if (error) report.last_error = logging_.redactor().redact(*error);
    heartbeat.update(std::move(report));
  };
  report_heartbeat("", std::nullopt);
  heartbeat.start();

  bool was_ready = false;
  int exit_code = 0;
  while (true) {
    std::optional<ProcessSignal> signal = signals_.wait(tick);
    if (signal == ProcessSignal::terminate) break;
    if (leadership) {
      bool leading = leadership->leading();
      if (leading && !capturing) {
        try {
          start_capture();
        } catch (const std::exception& error) {
          log->critical("stopping: capture cannot start: {}", error.what());
          exit_code = 1;
          break;
        }
      } else if (!leading && capturing) {
        stop_capture();
      }
    }
    report_heartbeat("", std::nullopt);
    if (dynamics) {
      dynamics->publish_metrics();
      if (auto fatal = dynamics->fatal_error()) {
        log->critical("stopping: dataverse capture: {}", *fatal);
        report_heartbeat("dynamics_capture", "dataverse capture: " + *fatal);
        exit_code = 1;
        break;
      }
    }
    if (salesforce) {
      salesforce->publish_metrics();
      if (auto fatal = salesforce->fatal_error()) {
        log->critical("stopping: salesforce capture: {}", *fatal);
        report_heartbeat("salesforce_capture", "salesforce capture: " + *fatal);
        exit_code = 1;
        break;
      }
    }
    if (apply) {
      if (auto fatal = apply->fatal_error()) {
        log->critical("stopping: {}", *fatal);
        report_heartbeat("apply", *fatal);
        exit_code = 1;
        break;
      }
    }
    if (capture) {
      capture->publish_metrics();
      if (auto fatal = capture->fatal_error()) {
        log->critical("stopping: {}", *fatal);
        report_heartbeat("prm_capture", *fatal);
        exit_code = 1;
        break;
      }
    }
    if (signal == ProcessSignal::reload) {
      systemd.reloading();
      try {
        reload_configuration();
        reloads_ok.increment();
      } catch (const std::exception& error) {
        reloads_failed.increment();
        log->error("configuration reload rejected; keeping the running configuration: {}",
                   error.what());
      }
      systemd.ready(was_ready ? "ready" : "waiting for dependencies");
    }

    bool is_ready = readiness.ready();
    ready_gauge.set(is_ready ? 1 : 0);
    if (is_ready != was_ready) {
      log->info("readiness changed ready={}", is_ready);
      systemd.status(is_ready ? "ready" : "not ready: " + readiness.to_json());
      was_ready = is_ready;
    }
    // Beat (and ping systemd's watchdog) only while the supervisor makes progress: a wedged
    // process should be restarted, not kept alive by a main thread that merely waits for signals.
    if (Clock::now() - supervisor.last_round_finished() < supervisor_stall_limit) {
      pulse.beat();
      if (systemd.watchdog_interval()) systemd.watchdog_ping();
    }
  }

  log->info("shutdown requested; draining grace={}ms", config_.daemon.shutdown_grace.count());
  ShutdownDeadline deadline(config_.daemon.shutdown_grace, log);
  readiness.set_draining();
  ready_gauge.set(0);
  systemd.stopping("draining");
  if (salesforce) salesforce->begin_shutdown();
  if (dynamics) dynamics->begin_shutdown();
  stop_capture();  // stop intake: drain in-flight events to Kafka and confirm them
  if (leadership) leadership->stop();  // closing its session hands the capture lock to a standby at once
  if (apply) apply->stop();  // finish (or give up) the batch in flight; uncommitted events are re-delivered
  if (salesforce) salesforce->stop();
  if (dynamics) dynamics->stop();
  if (secret_reloader) secret_reloader->stop();
  heartbeat.stop();  // the last beat marks this instance stopped
  supervisor.stop();
  admin.stop();
  if (exit_code == 0) log->info("crmsync stopped cleanly");
  return exit_code;
}

void DaemonProcess::reload_configuration() {
  auto log = logging_.logger("daemon");
  Config fresh = load_config(config_.source_file);
  if (fresh.log.level != config_.log.level) {
    log->info("log level changed from={} to={}", to_string(config_.log.level),
              to_string(fresh.log.level));
    logging_.set_level(fresh.log.level);
    config_.log.level = fresh.log.level;
  }
  log->info("configuration reloaded file={}; only log.level applies without a restart",
            config_.source_file.string());
}

}  // namespace crmsync::daemon
