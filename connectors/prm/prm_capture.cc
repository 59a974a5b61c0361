#include "connectors/prm/prm_capture.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <thread>

#include "connectors/kafka/kafka_producer.h"
#include "connectors/prm/flush_tracker.h"
#include "connectors/prm/pgoutput_decoder.h"
#include "connectors/prm/prm_event_builder.h"
#include "connectors/prm/prm_query_session.h"
#include "connectors/prm/replication_frames.h"
#include "connectors/prm/transaction_assembler.h"
#include "state/capture_cursor_store.h"
#include "state/migrator.h"

namespace crmsync::connectors::prm {

namespace {

using mapping::ErrorClass;
using mapping::Status;
using mapping::SyncError;
using Clock = std::chrono::steady_clock;

// Errors that retrying cannot fix: the daemon stops instead of capturing from an unsafe database.
constexpr std::string_view kMisconfigured = "prm: refusing to capture: ";

bool is_misconfiguration(const SyncError& error) {
  return error.error_class == ErrorClass::fatal && error.message.starts_with(kMisconfigured);
}

std::int64_t unix_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// One connection lifetime: set up (checks, slot, snapshot), then stream until stop or failure.
class PrmCapture::Session {
 public:
  Session(PrmCapture& owner, state::StateDatabase& state_db)
      : owner_(owner), settings_(owner.settings_), log_(*owner.logger_), cursors_(state_db) {}

  Status run(const std::atomic<bool>& stop) {
    auto connected = ReplicationConnection::connect(settings_.connection);
    if (!connected) return connected.error();
    replication_ = std::move(connected).value();
    auto identity = replication_->identify_system();
    if (!identity) return identity.error();
    system_id_ = identity.value().system_id;
    auto query = PrmQuerySession::open(settings_.connection);
    if (!query) return query.error();
    query_ = std::move(query).value();
    if (auto checked = check_database(); !checked) return checked;

    builder_ = std::make_unique<PrmEventBuilder>(owner_.bindings_, system_id_);
    auto start = prepare_slot(stop);
    if (!start) return start.error();
    if (stop) return mapping::ok_status();

    if (auto started = replication_->start_replication(settings_.slot, start.value(), settings_.publication);
        !started) {
      return started;
    }
    tracker_.reset(start.value());
    last_received_ = start.value();
    last_sent_flush_ = start.value();
    log_.info("prm capture streaming slot={} publication={} from={}", settings_.slot,
              settings_.publication, start.value().to_string());
    owner_.probe_.streaming = true;
    reached_streaming_ = true;
    Status streamed = stream(stop);
    owner_.probe_.streaming = false;
    return streamed;
  }

  bool reached_streaming() const { return reached_streaming_; }

 private:
  std::vector<std::string> synced_tables() const {
    std::vector<std::string> tables;
    for (const auto& binding : owner_.bindings_.records) tables.push_back(binding.schema + "." + binding.table);
    tables.push_back(owner_.bindings_.shares.schema + "." + owner_.bindings_.shares.table);
    return tables;
  }

  Status check_database() {
    auto rls = query_->tables_without_forced_rls(synced_tables());
    if (!rls) return rls.error();
    if (!rls.value().empty()) {
      std::string problems;
      for (const auto& problem : rls.value()) problems += (problems.empty() ? "" : "; ") + problem;
      return SyncError{ErrorClass::fatal, std::string(kMisconfigured) +
                                              "every synced table needs row-level security enabled "
                                              "and forced: " + problems};
    }
    auto missing = query_->tables_missing_from_publication(settings_.publication, synced_tables());
    if (!missing) return missing.error();
    if (!missing.value().empty()) {
      std::string tables;
      for (const auto& table : missing.value()) tables += (tables.empty() ? "" : ", ") + table;
      return SyncError{ErrorClass::fatal,
                       fmt::format("{}publication {} lacks {}; ALTER PUBLICATION {} ADD TABLE …",
                                   kMisconfigured, settings_.publication, tables, settings_.publication)};
    }
    return mapping::ok_status();
  }

  // Ensures the slot exists and returns where streaming starts; creates it with a snapshot when
  // there is none (first start, lost slot, interrupted snapshot).
  mapping::Result<Lsn> prepare_slot(const std::atomic<bool>& stop) {
    auto slot = replication_->query_slot(settings_.slot);
    if (!slot) return slot.error();
    auto cursor = cursors_.load(settings_.slot);
    if (!cursor) return cursor.error();

    if (slot.value().exists) {
      if (slot.value().active) {
        return SyncError{ErrorClass::conflict,
                         fmt::format("slot {} is in use by another connection (another replica "
                                     "captures); waiting",
                                     settings_.slot)};
      }
      bool snapshot_done = cursor.value() && cursor.value()->snapshot_completed &&
                           cursor.value()->system_id == system_id_;
      if (snapshot_done) {
        auto loaded = load_sharing_view();
        if (!loaded) return loaded.error();
        return slot.value().confirmed_flush.value_or(Lsn{});
      }
      log_.warn("prm slot {} exists but its snapshot never completed (or the state database does not "
                "know it); dropping it and taking a new snapshot",
                settings_.slot);
      if (auto dropped = replication_->drop_slot(settings_.slot); !dropped) return dropped.error();
    }

    std::string reason = "initial";
    if (cursor.value()) {
      reason = cursor.value()->snapshot_completed ? "slot_lost" : "snapshot_interrupted";
    }
    if (reason == "slot_lost") {
      ++owner_.probe_.slots_lost;
      log_.error("prm replication slot {} has VANISHED (dropped, or lost in a failover); creating a "
                 "new slot and re-reading every synced table so that no change is lost; the apply "
                 "side compares the re-read rows with its last known state",
                 settings_.slot);
    }
    auto created = replication_->create_slot(settings_.slot, true);
    if (!created) return created.error();
    state::PrmCaptureCursor record;
    record.slot_name = settings_.slot;
    record.system_id = system_id_;
    record.publication = settings_.publication;
    record.creation_reason = reason;
    record.consistent_point = created.value().consistent_point.to_string();
    if (auto saved = cursors_.record_slot_created(record); !saved) return saved.error();
    log_.info("prm slot created slot={} reason={} consistent_point={}", settings_.slot, reason,
              record.consistent_point);
    auto snapshot = take_snapshot(created.value(), stop);
    if (!snapshot) return snapshot.error();
    if (stop) return created.value().consistent_point;
    if (auto saved = cursors_.record_snapshot_completed(settings_.slot); !saved) return saved.error();
    return created.value().consistent_point;
  }

  Status load_sharing_view() {
    // Sharing as of now; the stream then replays changes since the slot's position onto it.
    if (auto begun = query_->begin_snapshot(""); !begun) return begun;
    const auto& shares = owner_.bindings_.shares;
    auto read = query_->read_table(shares.schema, shares.table, settings_.snapshot_batch_rows,
                                   [this](const SnapshotRow& row) {
                                     builder_->load_snapshot_share(row);
                                     return mapping::ok_status();
                                   });
    if (!read) return read.error();
    for (const auto& binding : owner_.bindings_.records) {
      auto owners = query_->read_table(binding.schema, binding.table, settings_.snapshot_batch_rows,
                                       [this](const SnapshotRow& row) {
                                         builder_->load_snapshot_owner(row);
                                         return mapping::ok_status();
                                       });
      if (!owners) return owners.error();
    }
    return query_->end_snapshot();
  }

  Status take_snapshot(const CreatedSlot& slot, const std::atomic<bool>& stop) {
    auto began_at = Clock::now();
    if (auto begun = query_->begin_snapshot(slot.snapshot_name); !begun) return begun;
    const auto& shares = owner_.bindings_.shares;
    auto read = query_->read_table(shares.schema, shares.table, settings_.snapshot_batch_rows,
                                   [this](const SnapshotRow& row) {
                                     builder_->load_snapshot_share(row);
                                     return mapping::ok_status();
                                   });
    if (!read) return read.error();
    std::string occurred_at = postgres_time_to_rfc3339(unix_to_postgres_epoch_us(unix_now_us()));
    auto failed = std::make_shared<std::optional<SyncError>>();
    std::size_t rows = 0;
    for (const auto& binding : owner_.bindings_.records) {
      auto produced = query_->read_table(
          binding.schema, binding.table, settings_.snapshot_batch_rows, [&](const SnapshotRow& row) -> Status {
            if (stop) return SyncError{ErrorClass::transient, "stopped during snapshot"};
            auto event = builder_->snapshot_event(row, slot.consistent_point, occurred_at);
            if (!event) return mapping::ok_status();
            ++rows;
            return produce(mapping::kafka_key(event->object, *event->prm_id), settings_.topic,
                           mapping::to_json(*event), [failed](const mapping::Result<kafka::DeliveredRecord>& r) {
                             if (!r.ok() && !failed->has_value()) *failed = r.error();
                           });
          });
      if (!produced) return produced.error();
    }
    if (auto ended = query_->end_snapshot(); !ended) return ended;
    if (auto flushed = owner_.producer_.flush(std::chrono::minutes(5)); !flushed) return flushed;
    if (failed->has_value()) return **failed;
    owner_.probe_.snapshot_rows += rows;
    log_.info("prm snapshot complete slot={} rows={} seconds={:.1f}", settings_.slot, rows,
              std::chrono::duration<double>(Clock::now() - began_at).count());
    return mapping::ok_status();
  }

  // Produces one record, waiting (serving callbacks) while the local queue is full.
  Status produce(const std::string& key, const std::string& topic, const std::string& value,
                 kafka::DeliveryCallback on_delivery) {
    while (true) {
      auto queued = owner_.producer_.produce(topic, key, value, on_delivery);
      if (queued) return queued;
      if (queued.error().error_class != ErrorClass::rate_limited) return queued;
      owner_.producer_.poll(std::chrono::milliseconds(50));
    }
  }

  Status handle(const CommittedTransaction& transaction) {
    ++owner_.probe_.transactions;
    Lsn end = transaction.commit.end_lsn;
    if (transaction.written_by_crmsync) {
      ++owner_.probe_.echo_transactions_skipped;
      tracker_.add(end, 0);
      return mapping::ok_status();
    }
    BuiltTransaction built = builder_->build(transaction);
    owner_.probe_.ignored_rows += built.ignored_rows;
    tracker_.add(end, built.events.size() + built.dead_letters.size());
    std::int64_t commit_unix_us = postgres_to_unix_epoch_us(transaction.commit.commit_time_us);
    auto on_delivery = [this, end, commit_unix_us](const mapping::Result<kafka::DeliveredRecord>& delivered) {
      if (delivered.ok()) {
        tracker_.acknowledge(end);
        if (settings_.on_acknowledged) settings_.on_acknowledged(commit_unix_us, unix_now_us());
      } else if (!delivery_failure_) {
        delivery_failure_ = delivered.error();
      }
    };
    for (const auto& event : built.events) {
      if (auto queued = produce(mapping::kafka_key(event.object, *event.prm_id), settings_.topic,
                                mapping::to_json(event), on_delivery);
          !queued) {
        return queued;
      }
    }
    for (const auto& letter : built.dead_letters) {
      log_.error("prm change dead-lettered reason={} key={} source_version={}", letter.reason, letter.key,
                 transaction.commit.commit_lsn.to_string());
      if (auto queued = produce(letter.key, settings_.deadletter_topic, letter.detail_json, on_delivery);
          !queued) {
        return queued;
      }
    }
    owner_.probe_.events_produced += built.events.size();
    owner_.probe_.dead_letters += built.dead_letters.size();
    std::int64_t age_us = unix_to_postgres_epoch_us(unix_now_us()) - transaction.commit.commit_time_us;
    owner_.probe_.lag_seconds = static_cast<double>(std::max<std::int64_t>(age_us, 0)) / 1e6;
    return mapping::ok_status();
  }

  Status send_status(bool reply_requested) {
    Lsn flush = tracker_.safe_flush();
    // Nothing in flight and nothing half-received: everything the server has sent is handled.
    if (tracker_.transactions_in_flight() == 0 && !assembler_.in_transaction()) {
      flush = std::max(flush, last_received_);
    }
    if (auto sent = replication_->send_status(last_received_, flush, reply_requested); !sent) return sent;
    last_status_ = Clock::now();
    owner_.probe_.confirmed_lsn = flush.value;
    owner_.probe_.lag_bytes = static_cast<long long>(last_received_.value - std::min(flush, last_received_).value);
    if (flush != last_sent_flush_) {
      last_sent_flush_ = flush;
      if (auto saved = cursors_.record_confirmed(settings_.slot, flush.to_string()); !saved) {
        log_.warn("prm capture could not record its position in the state database: {}",
                  saved.error().message);
      }
    }
    return mapping::ok_status();
  }

  void check_retained_wal() {
    last_wal_check_ = Clock::now();
    auto retained = query_->slot_retained_wal_bytes(settings_.slot);
    if (!retained || !retained.value()) return;
    owner_.probe_.retained_wal_bytes = *retained.value();
    if (*retained.value() > settings_.retained_wal_warning_bytes) {
      log_.warn("prm slot {} retains {} MiB of WAL on the PRM server (warning above {} MiB); the "
                "capture is behind or stuck",
                settings_.slot, *retained.value() >> 20, settings_.retained_wal_warning_bytes >> 20);
    }
  }

  Status stream(const std::atomic<bool>& stop) {
    check_retained_wal();
    while (!stop) {
      // While events are in flight, wait briefly so that delivery reports (served by poll below)
      // are not held back behind an idle stream.
      auto wait = tracker_.transactions_in_flight() > 0 ? std::chrono::milliseconds(2)
                                                        : std::chrono::milliseconds(200);
      auto frame = replication_->read_frame(wait);
      if (!frame) return frame.error();
      bool reply_now = false;
      if (frame.value()) {
        auto decoded = decode_server_frame(*frame.value());
        if (!decoded) return decoded.error();
        if (auto* keepalive = std::get_if<PrimaryKeepalive>(&decoded.value())) {
          if (!assembler_.in_transaction()) last_received_ = std::max(last_received_, keepalive->wal_end);
          reply_now = keepalive->reply_requested;
        } else {
          const auto& data = std::get<XLogData>(decoded.value());
          auto message = decode_pgoutput(data.payload);
          if (!message) return SyncError{ErrorClass::fatal, message.error().message};
          auto transaction = assembler_.feed(std::move(message).value());
          if (!transaction) return transaction.error();
          if (transaction.value()) {
            last_received_ = std::max(last_received_, transaction.value()->commit.end_lsn);
            if (auto handled = handle(*transaction.value()); !handled) return handled;
          }
        }
      }
      owner_.producer_.poll(std::chrono::milliseconds(0));
      if (delivery_failure_) return *delivery_failure_;
      // Confirm on the server's request and every status interval: the interval bounds both
      // how long WAL is kept for us and how much is re-sent after a crash.
      bool due = Clock::now() - last_status_ >= settings_.status_interval;
      if (reply_now || due) {
        if (auto sent = send_status(false); !sent) return sent;
      }
      if (Clock::now() - last_wal_check_ >= settings_.retained_wal_check_interval) check_retained_wal();
    }
    // Stopping: give Kafka a bounded time to acknowledge what is in flight, then confirm it.
    (void)owner_.producer_.flush(settings_.drain_timeout);
    owner_.producer_.poll(std::chrono::milliseconds(0));
    (void)send_status(false);
    log_.info("prm capture stopped slot={} confirmed={}", settings_.slot, tracker_.safe_flush().to_string());
    return mapping::ok_status();
  }

  PrmCapture& owner_;
  const PrmCaptureSettings& settings_;
  spdlog::logger& log_;
  state::CaptureCursorStore cursors_;
  std::unique_ptr<ReplicationConnection> replication_;
  std::unique_ptr<PrmQuerySession> query_;
  std::unique_ptr<PrmEventBuilder> builder_;
  std::string system_id_;
  TransactionAssembler assembler_;
  FlushTracker tracker_;
  Lsn last_received_;
  Lsn last_sent_flush_;
  Clock::time_point last_status_ = Clock::now();
  Clock::time_point last_wal_check_ = Clock::now();
  std::optional<SyncError> delivery_failure_;
  bool reached_streaming_ = false;
};

PrmCapture::PrmCapture(PrmCaptureSettings settings, PrmBindings bindings,
                       state::StateDatabaseSettings state, kafka::KafkaProducer& producer,
                       std::shared_ptr<spdlog::logger> logger, mapping::RetryPolicy retry,
                       mapping::UniformRandom uniform01)
    : settings_(std::move(settings)),
      bindings_(std::move(bindings)),
      state_settings_(std::move(state)),
      producer_(producer),
      logger_(std::move(logger)),
      retry_(retry),
      uniform01_(std::move(uniform01)) {}

PrmCapture::~PrmCapture() = default;

Status PrmCapture::run(const std::atomic<bool>& stop) {
  int failures = 0;
  std::unique_ptr<state::StateDatabase> state_db;
  while (!stop) {
    Status outcome = mapping::ok_status();
    if (!state_db) {
      auto connected = state::StateDatabase::connect(state_settings_);
      if (connected) {
        // The capture may start before anything else migrated the state schema (idempotent, locked).
        auto migrated = state::migrate(*connected.value(), state::embedded_migrations(), state::DryRun::no);
        if (migrated) {
          state_db = std::move(connected).value();
        } else {
          outcome = migrated.error();
        }
      } else {
        outcome = connected.error();
      }
    }
    if (state_db) {
      Session session(*this, *state_db);
      outcome = session.run(stop);
      if (session.reached_streaming()) failures = 0;  // a long healthy session starts backoff anew
    }
    if (outcome.ok()) break;
    const SyncError& error = outcome.error();
    if (is_misconfiguration(error)) {
      logger_->critical("{}", error.message);
      return error;
    }
    if (error.error_class != ErrorClass::conflict) state_db.reset();  // reconnect everything
    ++failures;
    ++probe_.session_restarts;
    auto delay = retry_.delay_for_attempt(failures - 1, uniform01_);
    if (error.error_class == ErrorClass::conflict) {
      if (failures == 1) logger_->info("prm capture standing by: {}", error.message);
    } else {
      logger_->warn("prm capture session ended kind={} attempt={} retry_in_ms={} error=\"{}\"",
                    mapping::to_string(error.error_class), failures, delay.count(), error.message);
    }
    auto resume_at = Clock::now() + delay;
    while (!stop && Clock::now() < resume_at) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return mapping::ok_status();
}

}  // namespace crmsync::connectors::prm
