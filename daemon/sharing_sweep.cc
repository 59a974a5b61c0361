#include "daemon/sharing_sweep.h"

#include <ctime>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connectors/dynamics/dataverse_share_reader.h"
#include "connectors/kafka/kafka_producer.h"
#include "connectors/salesforce/salesforce_share_reader.h"
#include "daemon/metrics.h"
#include "daemon/principal_directory.h"
#include "mapping/canonical_event.h"
#include "mapping/event_json.h"
#include "state/sync_record_store.h"

namespace crmsync::daemon {

using Clock = std::chrono::steady_clock;
using mapping::ObjectKind;
using mapping::Side;

namespace {

constexpr std::chrono::minutes kCallTimeout{2};

// Now as RFC 3339 UTC with microseconds (the events' occurred_at).
std::string now_rfc3339() {
  auto now = std::chrono::system_clock::now();
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                     utc.tm_hour, utc.tm_min, utc.tm_sec, micros % 1'000'000);
}

class SalesforceSharingSource : public CrmSharingSource {
 public:
  explicit SalesforceSharingSource(connectors::salesforce::SalesforceClient& client) : reader_(client) {}
  Side side() const override { return Side::salesforce; }
  mapping::Result<std::map<std::string, mapping::SideSharing>> read(ObjectKind object,
                                                                    const std::vector<std::string>& crm_ids) override {
    auto deadline = Clock::now() + kCallTimeout;
    auto owners = reader_.owners_of(object, crm_ids, deadline);
    if (!owners) return owners.error();
    auto shares = reader_.manual_shares_of(object, crm_ids, deadline);
    if (!shares) return shares.error();
    std::map<std::string, mapping::SideSharing> out;
    for (const auto& owner : owners.value()) out[owner.crm_record_id].owner = owner.owner_id;
    for (const auto& share : shares.value()) {
      auto found = out.find(share.crm_record_id);
      if (found == out.end()) continue;  // deleted between the two reads
      auto& access = found->second.shares[share.principal_id];
      access = share.access;
    }
    return out;
  }

 private:
  connectors::salesforce::SalesforceShareReader reader_;
};

class DynamicsSharingSource : public CrmSharingSource {
 public:
  DynamicsSharingSource(connectors::dynamics::DataverseClient& client, std::size_t batch_size)
      : reader_(client, batch_size) {}
  Side side() const override { return Side::dynamics; }
  mapping::Result<std::map<std::string, mapping::SideSharing>> read(ObjectKind object,
                                                                    const std::vector<std::string>& crm_ids) override {
    auto read = reader_.sharing_of(object, crm_ids, Clock::now() + kCallTimeout);
    if (!read) return read.error();
    std::map<std::string, mapping::SideSharing> out;
    for (const auto& record : read.value()) {
      auto& held = out[record.crm_record_id];
      if (!record.owner_id.empty()) held.owner = record.owner_id;
      for (const auto& share : record.shares) held.shares[share.principal_id] = share.access;
    }
    return out;
  }

 private:
  connectors::dynamics::DataverseShareReader reader_;
};

}  // namespace

std::unique_ptr<CrmSharingSource> salesforce_sharing_source(connectors::salesforce::SalesforceClient& client) {
  return std::make_unique<SalesforceSharingSource>(client);
}

std::unique_ptr<CrmSharingSource> dynamics_sharing_source(connectors::dynamics::DataverseClient& client,
                                                          std::size_t batch_size) {
  return std::make_unique<DynamicsSharingSource>(client, std::max<std::size_t>(2, std::min<std::size_t>(batch_size, 1000)));
}

struct SharingSweep::Parts {
  SharingSweepSettings settings;
  std::unique_ptr<CrmSharingSource> source;
  std::shared_ptr<const PrincipalDirectory> principals;
  state::StateDatabaseSettings state_settings;
  connectors::kafka::KafkaSettings kafka;
  std::shared_ptr<spdlog::logger> logger;
  std::unique_ptr<state::StateDatabase> state;
  std::unique_ptr<connectors::kafka::KafkaProducer> producer;
  MetricSeries* changes = nullptr;
  MetricSeries* passes = nullptr;
  MetricSeries* failures = nullptr;
  MetricSeries* captured = nullptr;
};

SharingSweep::SharingSweep(SharingSweepSettings settings, std::unique_ptr<CrmSharingSource> source,
                           std::shared_ptr<const PrincipalDirectory> principals, state::StateDatabaseSettings state,
                           connectors::kafka::KafkaSettings kafka, MetricsRegistry& metrics,
                           std::shared_ptr<spdlog::logger> logger)
    : parts_(new Parts{std::move(settings), std::move(source), std::move(principals), std::move(state),
                       std::move(kafka), std::move(logger), nullptr, nullptr, nullptr, nullptr, nullptr, nullptr}) {
  std::string side(mapping::to_string(parts_->source->side()));
  parts_->changes = &metrics.series("crmsync_sharing_changes_found_total",
                                    "Sharing changes the sharing sweep found made in a CRM.", MetricType::counter,
                                    {{"crm", side}});
  parts_->passes = &metrics.series("crmsync_sharing_sweeps_total", "Completed sharing sweeps of a CRM.",
                                   MetricType::counter, {{"crm", side}});
  parts_->failures = &metrics.series("crmsync_sharing_sweep_failures_total",
                                     "Sharing sweeps that failed (retried at the next interval).", MetricType::counter,
                                     {{"crm", side}});
  parts_->captured = &captured_events_series(metrics, side, "sharing_sweep");
}

SharingSweep::~SharingSweep() { stop(); }

void SharingSweep::start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void SharingSweep::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

mapping::Result<SweepCounts> SharingSweep::sweep_once() {
  Parts& parts = *parts_;
  if (!parts.state) {
    auto connected = state::StateDatabase::connect(parts.state_settings);
    if (!connected) return connected.error();
    parts.state = std::move(connected).value();
  }
  if (!parts.producer) {
    auto created = connectors::kafka::KafkaProducer::create(parts.kafka, parts.logger);
    if (!created) return created.error();
    parts.producer = std::move(created).value();
  }
  if (!parts.principals) return SweepCounts{};
  auto principals = parts.principals->load();
  if (!principals) return principals.error();
  const mapping::PrincipalMap& map = *principals.value();
  const Side side = parts.source->side();
  const std::string side_name(mapping::to_string(side));

  SweepCounts counts;
  std::size_t produce_failures = 0;
  for (ObjectKind object : {ObjectKind::account, ObjectKind::deal}) {
    std::string after;
    while (!stop_) {
      std::vector<state::SyncRecord> page;
      auto loaded = parts.state->in_transaction([&](const state::StateDatabase::Executor& execute) -> mapping::Status {
        state::SyncRecordStore store(execute, parts.state->schema());
        auto found = store.synced_on(object, side, after, parts.settings.page_records);
        if (!found) return found.error();
        page = std::move(found).value();
        return mapping::ok_status();
      });
      if (!loaded) return loaded.error();
      if (page.empty()) break;
      after = page.back().record_id;
      std::vector<std::string> crm_ids;
      for (const auto& record : page) {
        crm_ids.push_back(side == Side::salesforce ? *record.salesforce_id : *record.dynamics_id);
      }
      auto held = parts.source->read(object, crm_ids);
      if (!held) return held.error();
      for (const auto& record : page) {
        const std::string& crm_id = side == Side::salesforce ? *record.salesforce_id : *record.dynamics_id;
        auto current = held.value().find(crm_id);
        if (current == held.value().end()) continue;  // deleted there: its capture brings the delete
        ++counts.records;
        mapping::SideSharing last;
        if (auto known = record.side_sharing.find(side); known != record.side_sharing.end()) last = known->second;
        mapping::SharingChange change =
            mapping::observed_sharing_change(side, record.sharing, last, current->second, map);
        // Deprovisioning: the CRM still gives access to a partner principal that is no longer
        // active (org deactivated, user gone): the engine takes it away there.
        bool deprovision = false;
        auto inactive = [&](const std::string& principal) {
          return map.is_partner_principal(side, principal) && !map.from_side(side, principal);
        };
        if (current->second.owner && inactive(*current->second.owner)) deprovision = true;
        for (const auto& [principal, access] : current->second.shares) deprovision = deprovision || inactive(principal);
        if (change.empty() && !deprovision) continue;
        mapping::CanonicalEvent event;
        event.source = side;
        event.object = object;
        event.op = mapping::CanonicalEvent::Operation::upsert;
        event.prm_id = record.record_id;
        if (side == Side::salesforce) event.salesforce_id = crm_id;
        if (side == Side::dynamics) event.dynamics_id = crm_id;
        event.source_version = fmt::format("sharing:{}", record.sharing_version);
        event.occurred_at = now_rfc3339();
        event.actor = {mapping::Actor::Kind::integration, "sharing-sweep:" + side_name, ""};
        event.changed = {"sharing"};
        event.sharing = mapping::apply_sharing_change(record.sharing, change);
        event.sharing.record_type = std::string(mapping::to_string(object));
        event.sharing_change = change;
        event.observed_side_sharing = mapping::side_sharing_to_json({{side, current->second}});
        std::string value = mapping::to_json(event);
        // The same finding against the same sharing version is the same event (de-duplicated).
        event.event_id = mapping::stable_event_id(fmt::format("sweep|{}|{}|{}|{}|{}", side_name,
                                                              mapping::to_string(object), crm_id,
                                                              record.sharing_version, value));
        value = mapping::to_json(event);
        // Keyed like the capture's events of the record, so it stays in the record's order.
        std::string key = side == Side::salesforce ? mapping::kafka_key(object, record.record_id)
                                                   : mapping::kafka_key(object, "dynamics:" + crm_id);
        auto queued = parts.producer->produce(
            parts.settings.topic, key, value,
            [&produce_failures](const mapping::Result<connectors::kafka::DeliveredRecord>& delivered) {
              if (!delivered) ++produce_failures;
            });
        if (!queued) return queued.error();
        ++counts.changes;
        parts.logger->info("sharing sweep: {} {} {} (record {}) changed in {}: {} granted, {} revoked{}{}{}", side_name,
                           mapping::to_string(object), crm_id, record.record_id, side_name, change.granted.size(),
                           change.revoked.size(), change.owner_partner_org_changed ? ", owner org" : "",
                           change.owner_user_changed ? ", owner user" : "",
                           deprovision ? ", access of inactive partners to take away" : "");
      }
    }
  }
  if (auto flushed = parts.producer->flush(std::chrono::seconds(30)); !flushed) return flushed.error();
  if (produce_failures > 0) {
    return mapping::SyncError{mapping::ErrorClass::transient,
                              fmt::format("sharing sweep of {}: {} change event(s) not acknowledged by Kafka; the next "
                                          "sweep finds them again",
                                          side_name, produce_failures)};
  }
  parts.changes->add(static_cast<double>(counts.changes));
  parts.captured->add(static_cast<double>(counts.changes));
  parts.passes->increment();
  return counts;
}

void SharingSweep::run() {
  auto& log = *parts_->logger;
  log.info("sharing sweep of {} started interval={}ms", mapping::to_string(parts_->source->side()),
           parts_->settings.interval.count());
  auto next = Clock::now() + parts_->settings.interval;
  while (!stop_) {
    if (Clock::now() < next) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    auto swept = sweep_once();
    if (!swept) {
      parts_->failures->increment();
      log.warn("sharing sweep of {}: {} (retried in {}ms)", mapping::to_string(parts_->source->side()),
               swept.error().message, parts_->settings.interval.count());
      // A lost connection is opened again next time.
      if (swept.error().error_class == mapping::ErrorClass::transient) parts_->state.reset();
    } else {
      log.debug("sharing sweep of {}: records={} changes={}", mapping::to_string(parts_->source->side()),
                swept.value().records, swept.value().changes);
    }
    next = Clock::now() + parts_->settings.interval;
  }
}

}  // namespace crmsync::daemon
