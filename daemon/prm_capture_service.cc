#include "daemon/prm_capture_service.h"

#include <spdlog/spdlog.h>

#include "connectors/kafka/kafka_producer.h"
#include "daemon/metrics.h"

namespace crmsync::daemon {

struct PrmCaptureService::Series {
  explicit Series(MetricsRegistry& metrics)
      : events(metrics.series("crmsync_prm_capture_events_total",
                              "Record events the PRM capture produced to Kafka.", MetricType::counter)),
        transactions(metrics.series("crmsync_prm_capture_transactions_total",
                                    "Committed PRM transactions the capture received.",
                                    MetricType::counter)),
        echoes(metrics.series("crmsync_prm_capture_echo_transactions_total",
                              "PRM transactions skipped as crmsync's own writes.", MetricType::counter)),
        dead_letters(metrics.series("crmsync_prm_capture_dead_letters_total",
                                    "PRM changes sent to the dead-letter topic.", MetricType::counter)),
        ignored(metrics.series("crmsync_prm_capture_ignored_rows_total",
                               "Rows of published tables the capture does not sync (directory, internal).",
                               MetricType::counter)),
        snapshot_rows(metrics.series("crmsync_prm_capture_snapshot_rows_total",
                                     "Rows read by initial or recovery snapshots.", MetricType::counter)),
        slots_lost(metrics.series("crmsync_prm_capture_slots_lost_total",
                                  "Replication slots found missing and recreated with a snapshot.",
                                  MetricType::counter)),
        restarts(metrics.series("crmsync_prm_capture_session_restarts_total",
                                "Capture sessions that ended and were retried.", MetricType::counter)),
        streaming(metrics.series("crmsync_prm_capture_streaming",
                                 "Whether this process streams from the slot (1) or stands by (0).",
                                 MetricType::gauge)),
        lag_bytes(metrics.series("crmsync_prm_capture_lag_bytes",
                                 "WAL received but not yet confirmed (in Kafka) by the capture.",
                                 MetricType::gauge)),
        lag_seconds(metrics.series("crmsync_prm_capture_lag_seconds",
                                   "Age of the newest captured commit when it was produced.",
                                   MetricType::gauge)),
        retained_wal(metrics.series("crmsync_prm_slot_retained_wal_bytes",
                                    "WAL the PRM server keeps for the capture's slot (-1 unknown).",
                                    MetricType::gauge)),
        captured(captured_events_series(metrics, "prm", "capture")),
        dead_lettered(dead_letters_series(metrics, "capture")) {}
  MetricSeries& events;
  MetricSeries& transactions;
  MetricSeries& echoes;
  MetricSeries& dead_letters;
  MetricSeries& ignored;
  MetricSeries& snapshot_rows;
  MetricSeries& slots_lost;
  MetricSeries& restarts;
  MetricSeries& streaming;
  MetricSeries& lag_bytes;
  MetricSeries& lag_seconds;
  MetricSeries& retained_wal;
  MetricSeries& captured;
  MetricSeries& dead_lettered;
};

PrmCaptureService::PrmCaptureService(connectors::prm::PrmCaptureSettings settings,
                                     state::StateDatabaseSettings state_settings,
                                     connectors::kafka::KafkaSettings kafka_settings,
                                     mapping::RetryPolicy retry, MetricsRegistry& metrics,
                                     std::shared_ptr<spdlog::logger> logger)
    : settings_(std::move(settings)),
      state_settings_(std::move(state_settings)),
      kafka_settings_(std::move(kafka_settings)),
      retry_(retry),
      logger_(std::move(logger)),
      series_(std::make_unique<Series>(metrics)) {}

PrmCaptureService::~PrmCaptureService() { stop(); }

void PrmCaptureService::prepare() {
  if (capture_) return;
  auto producer = connectors::kafka::KafkaProducer::create(kafka_settings_, logger_);
  if (!producer) throw std::runtime_error("prm capture: " + producer.error().message);
  producer_ = std::move(producer).value();
  capture_ = std::make_unique<connectors::prm::PrmCapture>(
      settings_, connectors::prm::reference_schema_bindings(), state_settings_, *producer_, logger_,
      retry_, mapping::make_uniform_random());
}

void PrmCaptureService::start() {
  if (thread_.joinable()) return;
  prepare();
  stop_ = false;
  thread_ = std::thread([this] {
    auto outcome = capture_->run(stop_);
    if (!outcome) {
      std::lock_guard lock(mutex_);
      fatal_error_ = outcome.error().message;
    }
  });
}

void PrmCaptureService::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::optional<std::string> PrmCaptureService::fatal_error() const {
  std::lock_guard lock(mutex_);
  return fatal_error_;
}

void PrmCaptureService::publish_metrics() {
  if (!capture_) return;
  const auto& probe = capture_->probe();
  series_->events.set(static_cast<double>(probe.events_produced.load()));
  series_->captured.set(static_cast<double>(probe.events_produced.load()));
  series_->dead_lettered.set(static_cast<double>(probe.dead_letters.load()));
  series_->transactions.set(static_cast<double>(probe.transactions.load()));
  series_->echoes.set(static_cast<double>(probe.echo_transactions_skipped.load()));
  series_->dead_letters.set(static_cast<double>(probe.dead_letters.load()));
  series_->ignored.set(static_cast<double>(probe.ignored_rows.load()));
  series_->snapshot_rows.set(static_cast<double>(probe.snapshot_rows.load()));
  series_->slots_lost.set(static_cast<double>(probe.slots_lost.load()));
  series_->restarts.set(static_cast<double>(probe.session_restarts.load()));
  series_->streaming.set(probe.streaming ? 1 : 0);
  series_->lag_bytes.set(static_cast<double>(probe.lag_bytes.load()));
  series_->lag_seconds.set(probe.lag_seconds.load());
  series_->retained_wal.set(static_cast<double>(probe.retained_wal_bytes.load()));
}

}  // namespace crmsync::daemon
