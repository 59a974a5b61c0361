#include "daemon/apply_service.h"

#include "daemon/fair_batcher.h"
#include "daemon/partner_activity.h"
#include "daemon/principal_directory.h"

#include <functional>
#include <map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connectors/kafka/kafka_consumer.h"
#include "connectors/kafka/kafka_producer.h"
#include "daemon/apply_engine.h"
#include "daemon/metrics.h"
#include "mapping/canonical_event.h"
#include "state/migrations.h"
#include "state/migrator.h"

namespace crmsync::daemon {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct ApplyService::Parts {
  ApplyServiceSettings settings;
  connectors::kafka::KafkaSettings kafka;
  state::StateDatabaseSettings state;
  const mapping::MappingDefinition& mapping;
  std::vector<std::unique_ptr<SideGateway>> gateways;
  mapping::SecretString journal_key;
  MetricsRegistry& metrics;
  std::shared_ptr<spdlog::logger> logger;
  std::map<EventOutcome, MetricSeries*> outcomes;
  MetricSeries* batches = nullptr;
  MetricSeries* failures = nullptr;
  MetricSeries* denied = nullptr;
  MetricSeries* partner_orgs = nullptr;
  MetricSeries* dead_letters = nullptr;
  MetricSeries* consumer_lag = nullptr;
  MetricSeries* conflicts_open = nullptr;
  std::map<std::string, MetricHistogram*> latency;  // by source side
};

ApplyService::ApplyService(ApplyServiceSettings settings, connectors::kafka::KafkaSettings kafka,
                           state::StateDatabaseSettings state, const mapping::MappingDefinition& mapping,
                           std::vector<std::unique_ptr<SideGateway>> gateways, mapping::SecretString journal_key,
                           MetricsRegistry& metrics, std::shared_ptr<spdlog::logger> logger)
    : parts_(new Parts{std::move(settings), std::move(kafka), std::move(state), mapping, std::move(gateways),
                       std::move(journal_key), metrics, std::move(logger), {}, nullptr, nullptr, nullptr, nullptr,
                       nullptr, nullptr, nullptr, {}}) {
  for (EventOutcome outcome : {EventOutcome::applied, EventOutcome::duplicate, EventOutcome::echo_skipped,
                               EventOutcome::superseded, EventOutcome::parked, EventOutcome::dead_lettered,
                               EventOutcome::delete_held, EventOutcome::denied}) {
    parts_->outcomes[outcome] = &metrics.series("crmsync_events_applied_total",
                                                "Change events the apply workers finished, by outcome.",
                                                MetricType::counter, {{"outcome", std::string(to_string(outcome))}});
  }
  parts_->batches = &metrics.series("crmsync_apply_batches_total", "Batches the apply workers committed.",
                                    MetricType::counter);
  parts_->failures = &metrics.series("crmsync_apply_batch_failures_total",
                                     "Batch attempts that failed and were retried (a side or the state DB unavailable).",
                                     MetricType::counter);
  parts_->denied = &metrics.series("crmsync_changes_denied_total",
                                   "Partners' PRM changes denied (wholly or in part) by the inbound authorization.",
                                   MetricType::counter);
  parts_->partner_orgs = &metrics.series("crmsync_partner_orgs",
                                         "Partner orgs in the principal map the apply worker uses.", MetricType::gauge);
  parts_->dead_letters = &dead_letters_series(metrics, "apply");
  parts_->consumer_lag = &metrics.series(
      "crmsync_consumer_lag",
      "Change events this replica's apply worker has not finished: not yet read from its assigned partitions of "
      "the change topics, plus read but not yet committed.",
      MetricType::gauge);
  parts_->conflicts_open = &metrics.series("crmsync_conflicts_open",
                                           "Field conflicts waiting for an operator (manual policy), all replicas.",
                                           MetricType::gauge);
  // From 10 ms to 10 min: a PRM change normally takes well under a second; a parked deal, a CRM
  // outage or a replay shows in the top buckets.
  const std::vector<double> bounds = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
  for (const char* source : {"prm", "salesforce", "dynamics"}) {
    parts_->latency[source] = &metrics.histogram(
        "crmsync_apply_latency_seconds",
        "Seconds from a change event's production to Kafka (by a capture, a sweep or replay) to its outcome being "
        "committed by an apply worker, by source side.",
        bounds, {{"source", source}});
  }
}

ApplyService::~ApplyService() { stop(); }

void ApplyService::start() {
  thread_ = std::thread([this] { run(); });
}

void ApplyService::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::optional<std::string> ApplyService::fatal_error() const {
  std::lock_guard lock(mutex_);
  return fatal_error_;
}

namespace {

// Sleeps up to `duration`, waking early when `stop` is set.
void pause(const std::atomic<bool>& stop, milliseconds duration) {
  auto until = Clock::now() + duration;
  while (!stop && Clock::now() < until) std::this_thread::sleep_for(std::min(milliseconds(50), duration));
}

std::string dead_letter_value(const DeadLetter& letter, const std::string& instance) {
  std::string event = letter.event_json;
  bool is_object = !event.empty() && event.front() == '{';
  return fmt::format(R"({{"reason":{},"instance":{},"event":{}}})",
                     mapping::to_json_value(mapping::FieldValue::string_value(letter.reason)),
                     mapping::to_json_value(mapping::FieldValue::string_value(instance)),
                     is_object ? event : mapping::to_json_value(mapping::FieldValue::string_value(event)));
}

// Produces `letters` to `topic` and waits for Kafka's acknowledgement of every one, retrying the
// whole set (with `backoff`) until it is acknowledged or `stop` is set. Returns whether it was.
// Used for a batch's dead letters (before its offsets are committed) and for the parked-events
// sweep's (an operator's retry that failed again must reach the topic as a new dead letter).
bool produce_dead_letters(connectors::kafka::KafkaProducer& producer, const std::string& topic,
                          const std::vector<DeadLetter>& letters, const std::string& instance_id,
                          const std::atomic<bool>& stop, const std::function<void(const std::string&)>& backoff) {
  if (letters.empty()) return true;
  while (!stop) {
    std::size_t failed = 0;
    for (const auto& letter : letters) {
      auto queued = producer.produce(topic, letter.key, dead_letter_value(letter, instance_id),
                                     [&failed](const mapping::Result<connectors::kafka::DeliveredRecord>& r) {
                                       if (!r) ++failed;
                                     });
      if (!queued) ++failed;
    }
    auto flushed = producer.flush(std::chrono::seconds(30));
    if (flushed && failed == 0) return true;
    backoff(fmt::format("apply: {} dead letter(s) not acknowledged by Kafka", letters.size()));
  }
  return false;
}

}  // namespace

void ApplyService::run() {
  auto& log = *parts_->logger;
  const auto& settings = parts_->settings;
  auto fail = [this](std::string message) {
    std::lock_guard lock(mutex_);
    fatal_error_ = std::move(message);
  };
  int attempt = 0;
  mapping::UniformRandom random = mapping::make_uniform_random();
  std::function<void(const std::string&)> backoff = [&](const std::string& what) {
    auto delay = settings.retry.delay_for_attempt(attempt++, random);
    log.warn("{}; retrying in {}ms attempt={}", what, delay.count(), attempt);
    pause(stop_, delay);
  };

  // The state database (migrated here too: whichever component starts first migrates, locked).
  std::unique_ptr<state::StateDatabase> state;
  while (!stop_ && !state) {
    auto connected = state::StateDatabase::connect(parts_->state);
    if (connected) {
      if (auto migrated = state::migrate(*connected.value(), state::embedded_migrations(), state::DryRun::no); migrated) {
        state = std::move(connected).value();
        break;
      } else {
        backoff("apply: state database migration: " + migrated.error().message);
        continue;
      }
    }
    backoff("apply: state database: " + connected.error().message);
  }
  if (!state) return;
  attempt = 0;

  auto consumer = connectors::kafka::KafkaConsumer::create(parts_->kafka, settings.group_id, parts_->logger);
  if (!consumer) return fail("apply: kafka consumer: " + consumer.error().message);
  const std::string prefix = settings.topic_prefix;
  if (auto subscribed = consumer.value()->subscribe({prefix + ".changes.prm", prefix + ".changes.salesforce",
                                                     prefix + ".changes.dynamics"});
      !subscribed) {
    return fail("apply: kafka subscribe: " + subscribed.error().message);
  }
  auto producer = connectors::kafka::KafkaProducer::create(parts_->kafka, parts_->logger);
  if (!producer) return fail("apply: kafka producer: " + producer.error().message);

  std::vector<SideGateway*> gateways;
  for (auto& gateway : parts_->gateways) gateways.push_back(gateway.get());
  ApplyEngineSettings engine_settings;
  engine_settings.instance_id = settings.instance_id;
  engine_settings.delete_guard_max = settings.delete_guard_max;
  engine_settings.delete_guard_window = settings.delete_guard_window;
  engine_settings.quarantined_partner_orgs = settings.quarantined_partner_orgs;
  ApplyEngine engine(parts_->mapping, gateways, *state, parts_->journal_key, engine_settings, parts_->logger);
  log.info("apply worker started group={} topics={}.changes.{{prm,salesforce,dynamics}} sides={}", settings.group_id,
           prefix, gateways.size());

  // The principal map: read now and every directory_refresh. A failed read keeps the map in use
  // (at start, the empty map: no partner known, nothing shared, partners' changes denied).
  auto last_directory_read = Clock::time_point{};
  auto refresh_principals = [&] {
    if (!settings.principals || Clock::now() - last_directory_read < settings.directory_refresh) return;
    last_directory_read = Clock::now();
    auto loaded = settings.principals->load();
    if (!loaded) {
      log.error("apply: principal map not refreshed (the previous one stays in use): {}", loaded.error().message);
      return;
    }
    parts_->partner_orgs->set(static_cast<double>(loaded.value()->org_count()));
    engine.set_principal_map(std::move(loaded).value());
  };

  PartnerActivity activity(settings.anomaly_changes_per_minute, settings.anomaly_denied_per_hour);
  auto flag = [&](const std::vector<PartnerFlag>& flags) {
    for (const auto& flagged : flags) {
      log.warn("partner org {} flagged: {} ({} > {}); quarantine it with permissions.quarantined_partner_orgs if "
               "its changes must wait for an operator",
               flagged.partner_org, flagged.reason, flagged.value, flagged.threshold);
      parts_->metrics
          .series("crmsync_partner_flagged", "Partner orgs flagged by an anomaly check (1 while flagged).",
                  MetricType::gauge, {{"partner_org", flagged.partner_org}, {"reason", flagged.reason}})
          .set(1);
      (void)state->execute(fmt::format("INSERT INTO {}.partner_flags (partner_org, reason, value, threshold) VALUES "
                                       "($1, $2, $3::bigint, $4::bigint)",
                                       state->schema()),
                           {flagged.partner_org, flagged.reason, std::to_string(flagged.value),
                            std::to_string(flagged.threshold)});
    }
  };

  // Gauges read from the state database and the consumer, every few seconds.
  auto last_gauges = Clock::time_point{};
  auto publish_gauges = [&](std::size_t held) {
    if (Clock::now() - last_gauges < std::chrono::seconds(5)) return;
    last_gauges = Clock::now();
    parts_->consumer_lag->set(static_cast<double>(consumer.value()->unread_records() + static_cast<long long>(held)));
    auto open = state->execute(fmt::format("SELECT count(*) FROM {}.conflicts WHERE status = 'open'", state->schema()));
    if (open && !open.value().empty() && open.value()[0][0]) {
      parts_->conflicts_open->set(std::stod(*open.value()[0][0]));
    }
  };
  // The topic's source side: "<prefix>.changes.<side>".
  auto source_of = [&](const std::string& topic) -> MetricHistogram* {
    auto dot = topic.rfind('.');
    auto found = parts_->latency.find(dot == std::string::npos ? topic : topic.substr(dot + 1));
    return found == parts_->latency.end() ? nullptr : found->second;
  };

  auto last_sweep = Clock::now();
  // Read ahead up to this many events so that a batch can be filled fairly across partner orgs
  // even behind one partner's backlog.
  const std::size_t read_ahead = std::max<std::size_t>(settings.batch_max_events * 20, settings.read_ahead_min);
  FairBatcher batcher(settings.batch_max_events);
  auto first_waiting_at = Clock::time_point{};
  while (!stop_) {
    refresh_principals();
    publish_gauges(batcher.held());
    // Collect: everything Kafka has ready (up to the read-ahead), then wait for more until a batch
    // is full or `linger` passed since the oldest waiting event arrived.
    // (Polling goes on even with the read-ahead full when nothing waits: the consumer must stay
    // in its group, and what is held is committed as soon as it can be.)
    while (!stop_ && (batcher.held() < read_ahead || batcher.waiting() == 0)) {
      milliseconds wait(0);
      if (batcher.waiting() == 0) {
        wait = milliseconds(100);
      } else if (batcher.waiting() < settings.batch_max_events) {
        auto left = std::chrono::duration_cast<milliseconds>(first_waiting_at + settings.linger - Clock::now());
        wait = std::max(milliseconds(0), std::min(milliseconds(100), left));
      }
      auto polled = consumer.value()->poll(wait);
      if (!polled) {
        log.warn("apply: kafka poll: {}", polled.error().message);
        break;
      }
      if (!polled.value()) {
        if (batcher.waiting() == 0) break;  // idle: let the loop look at parked events and stop
        if (batcher.waiting() >= settings.batch_max_events || Clock::now() >= first_waiting_at + settings.linger) break;
        continue;
      }
      if (batcher.waiting() == 0) first_waiting_at = Clock::now();
      batcher.add(std::move(*polled.value()));
      flag(activity.change(batcher.last_partner(), Clock::now()));
    }
    if (batcher.waiting() == 0) {
      if (Clock::now() - last_sweep >= settings.parked_sweep_interval) {
        last_sweep = Clock::now();
        auto swept = engine.retry_parked();
        if (!swept) {
          log.warn("apply: parked events sweep: {}", swept.error().message);
        } else {
          // What failed again (an operator's retry the CRM still refuses) is a new dead letter. The
          // sweep's outcomes are recorded already; stopping before Kafka acknowledged them loses
          // these letters (the journal still has their `dead_lettered` entries).
          attempt = 0;
          if (!produce_dead_letters(*producer.value(), prefix + ".deadletter", swept.value().dead_letters,
                                    settings.instance_id, stop_, backoff)) {
            log.error("apply: stopping before Kafka acknowledged {} dead letter(s) of the parked-events sweep; "
                      "see the journal's dead_lettered entries",
                      swept.value().dead_letters.size());
          }
          for (const auto& [outcome, count] : swept.value().outcomes) {
            parts_->outcomes[outcome]->add(static_cast<double>(count));
          }
          parts_->dead_letters->add(static_cast<double>(swept.value().dead_letters.size()));
        }
      }
      continue;
    }

    auto batch = batcher.next_batch();
    std::vector<std::string> values;
    values.reserve(batch.size());
    for (const auto* record : batch) values.push_back(record->value);
    std::optional<ApplyReport> report;
    attempt = 0;
    while (!stop_) {
      auto applied = engine.apply(values);
      if (applied) {
        report = std::move(applied).value();
        break;
      }
      parts_->failures->increment();
      if (applied.error().error_class == mapping::ErrorClass::fatal) {
        return fail("apply: " + applied.error().message);
      }
      backoff("apply: batch of " + std::to_string(values.size()) + " events: " + applied.error().message);
    }
    if (!report) break;  // stopping: not committed, re-delivered to whoever takes the partitions

    // Dead letters reach Kafka before the offsets move past their events.
    attempt = 0;
    if (!produce_dead_letters(*producer.value(), prefix + ".deadletter", report->dead_letters, settings.instance_id,
                              stop_, backoff)) {
      break;
    }

    parts_->dead_letters->add(static_cast<double>(report->dead_letters.size()));
    const auto finished_ms = std::chrono::duration_cast<milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
    for (const auto* record : batch) {
      MetricHistogram* latency = source_of(record->topic);
      if (latency == nullptr || record->timestamp_ms < 0) continue;
      // Clamped: the producer's clock may be another machine's (a replay run elsewhere).
      latency->observe(static_cast<double>(std::max(0LL, static_cast<long long>(finished_ms) - record->timestamp_ms)) /
                       1000.0);
    }

    batcher.batch_applied();
    if (batcher.waiting() > 0) first_waiting_at = Clock::now() - settings.linger;  // the rest is overdue
    for (const auto& record : batcher.committable()) {
      if (auto committed = consumer.value()->commit(record); !committed) {
        // Harmless: the batch is recorded as applied; a re-delivery changes nothing.
        log.warn("apply: offset commit topic={} partition={}: {}", record.topic, record.partition,
                 committed.error().message);
      }
    }
    parts_->batches->increment();
    for (const auto& [outcome, count] : report->outcomes) parts_->outcomes[outcome]->add(static_cast<double>(count));
    if (report->denied > 0) parts_->denied->add(static_cast<double>(report->denied));
    for (const auto& [org, count] : report->denied_by_partner) flag(activity.denied(org, count, Clock::now()));
    log.debug("apply: batch events={} waves={} dead_letters={} conflicts={}", values.size(), report->waves,
              report->dead_letters.size(), report->conflicts);
  }
  consumer.value()->close();
  log.info("apply worker stopped");
}

}  // namespace crmsync::daemon
