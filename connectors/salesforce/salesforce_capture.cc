#include "connectors/salesforce/salesforce_capture.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <ctime>
#include <thread>

#include "connectors/http/url_encoding.h"
#include "connectors/kafka/kafka_producer.h"
#include "connectors/salesforce/salesforce_client.h"
#include "connectors/salesforce/salesforce_record_sink.h"
#include "connectors/salesforce/salesforce_values.h"
#include "state/migrator.h"

namespace crmsync::connectors::salesforce {

namespace {

using mapping::ErrorClass;
using mapping::SyncError;

std::string soql_datetime(long long unix_ms) {
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                     utc.tm_min, utc.tm_sec);
}

}  // namespace

mapping::FieldValue salesforce_field_value(const rapidjson::Value& value) {
  if (value.IsNull()) return mapping::FieldValue::null_value();
  if (value.IsBool()) return mapping::FieldValue::boolean_value(value.GetBool());
  if (value.IsString()) return mapping::FieldValue::string_value(value.GetString());
  if (value.IsNumber()) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    value.Accept(writer);
    return mapping::FieldValue::number_value(buffer.GetString());
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return mapping::FieldValue::string_value(buffer.GetString());
}

std::optional<long long> parse_salesforce_datetime(std::string_view text) {
  std::tm when{};
  std::string copy(text.substr(0, std::min<std::size_t>(text.size(), 19)));
  const char* rest = strptime(copy.c_str(), "%Y-%m-%dT%H:%M:%S", &when);
  if (rest == nullptr || *rest != '\0') return std::nullopt;
  long long ms = static_cast<long long>(timegm(&when)) * 1000;
  std::string_view tail = text.substr(std::min<std::size_t>(text.size(), 19));
  if (tail.starts_with(".") && tail.size() >= 4) {
    ms += std::atoi(std::string(tail.substr(1, 3)).c_str());
    tail.remove_prefix(4);
  }
  // Offsets: Z, +0000, +00:00 (Salesforce answers in UTC).
  if (!(tail.empty() || tail == "Z" || tail == "+0000" || tail == "+00:00")) return std::nullopt;
  return ms;
}

mapping::Result<CapturePage> parse_capture_page(std::string_view body, const SalesforceCapturedObject& captured,
                                                const std::string& org) {
  const char* object = salesforce_object(captured.object);
  rapidjson::Document json;
  json.Parse(body.data(), body.size());
  if (json.HasParseError() || !json.IsObject() || !json.HasMember("records") || !json["records"].IsArray()) {
    return SyncError{ErrorClass::fatal, fmt::format("Salesforce queryAll on {} answered without records", object)};
  }
  CapturePage page;
  for (const auto& record : json["records"].GetArray()) {
    if (!record.IsObject() || !record.HasMember("Id") || !record["Id"].IsString() ||
        !record.HasMember("SystemModstamp") || !record["SystemModstamp"].IsString()) {
      continue;
    }
    CapturedRow row;
    row.id = record["Id"].GetString();
    row.modstamp = record["SystemModstamp"].GetString();
    bool deleted = record.HasMember("IsDeleted") && record["IsDeleted"].IsBool() && record["IsDeleted"].GetBool();
    mapping::CanonicalEvent& event = row.event;
    event.source = mapping::Side::salesforce;
    event.object = captured.object;
    event.op = deleted ? mapping::CanonicalEvent::Operation::remove : mapping::CanonicalEvent::Operation::upsert;
    event.salesforce_id = row.id;
    if (record.HasMember("PRM_Id__c") && record["PRM_Id__c"].IsString()) event.prm_id = record["PRM_Id__c"].GetString();
    event.source_version = row.modstamp;
    if (auto ms = parse_salesforce_datetime(row.modstamp)) {
      event.occurred_at = soql_datetime(*ms);
    }
    event.actor.kind = mapping::Actor::Kind::internal_user;
    if (record.HasMember("LastModifiedById") && record["LastModifiedById"].IsString()) {
      event.actor.id = record["LastModifiedById"].GetString();
    }
    std::string content;
    if (!deleted) {
      for (const auto& field : captured.fields) {
        if (!record.HasMember(field.c_str())) continue;
        event.fields.push_back({field, salesforce_field_value(record[field.c_str()])});
        event.changed.push_back(field);
        content += field + "=" + event.fields.back().value.text + "\x1f";
      }
      if (record.HasMember("OwnerId") && record["OwnerId"].IsString()) {
        event.sharing.owner_user = record["OwnerId"].GetString();
      }
    }
    row.content_hash = mapping::stable_event_id(content + (deleted ? "|deleted" : ""));
    event.event_id =
        mapping::stable_event_id(fmt::format("salesforce|{}|{}|{}|{}|{}", org, object, row.id, row.modstamp, row.content_hash));
    event.sharing.record_type = std::string(mapping::to_string(captured.object));
    page.rows.push_back(std::move(row));
  }
  if (json.HasMember("nextRecordsUrl") && json["nextRecordsUrl"].IsString()) {
    page.next_records_url = json["nextRecordsUrl"].GetString();
  }
  return page;
}

std::vector<SalesforceCapturedObject> default_captured_objects() {
  return {{mapping::ObjectKind::account, {"Name", "Industry", "Website", "BillingCountry", "OwnerId", "PRM_Id__c"}},
          {mapping::ObjectKind::deal,
           {"Name", "Amount", "StageName", "CloseDate", "AccountId", "OwnerId", "PRM_Id__c"}}};
}

SalesforceCapture::SalesforceCapture(SalesforceCaptureSettings settings, SalesforceClient& client,
                                     kafka::KafkaProducer& producer, state::StateDatabaseSettings state,
                                     std::shared_ptr<spdlog::logger> logger)
    : settings_(std::move(settings)),
      client_(client),
      producer_(producer),
      state_settings_(std::move(state)),
      logger_(std::move(logger)) {}

SalesforceCapture::~SalesforceCapture() = default;

mapping::Result<std::size_t> SalesforceCapture::poll_once(http::Deadline deadline) {
  if (!state_) {
    auto connected = state::StateDatabase::connect(state_settings_);
    if (!connected) return connected.error();
    // The capture may start before anything else migrated the state schema (idempotent, locked).
    if (auto migrated = state::migrate(*connected.value(), state::embedded_migrations(), state::DryRun::no); !migrated) {
      return migrated.error();
    }
    state_ = std::move(connected).value();
  }
  std::size_t total = 0;
  for (const auto& object : settings_.objects) {
    auto produced = poll_object(object, deadline);
    if (!produced) {
      if (produced.error().error_class == ErrorClass::transient) state_.reset();
      return produced.error();
    }
    total += produced.value();
  }
  return total;
}

mapping::Result<std::size_t> SalesforceCapture::poll_object(const SalesforceCapturedObject& captured,
                                                            http::Deadline deadline) {
  const char* object = salesforce_object(captured.object);
  const std::string& schema = state_->schema();
  auto stored = state_->execute("SELECT modstamp, last_id FROM " + schema + ".salesforce_cursors WHERE org = $1 AND object = $2",
                                {settings_.org, std::string(object)});
  if (!stored) return stored.error();
  std::optional<Cursor> cursor;
  if (!stored.value().empty()) cursor = Cursor{*stored.value()[0][0], *stored.value()[0][1]};

  std::string fields = "Id, SystemModstamp, IsDeleted, LastModifiedById";
  for (const auto& field : captured.fields) fields += ", " + field;
  std::string soql = fmt::format("SELECT {} FROM {}", fields, object);
  if (cursor) {
    auto at = parse_salesforce_datetime(cursor->modstamp);
    if (!at) return SyncError{ErrorClass::fatal, "stored Salesforce cursor is unparsable: " + cursor->modstamp};
    long long from = *at - static_cast<long long>(settings_.overlap.count()) * 1000;
    soql += " WHERE SystemModstamp >= " + soql_datetime(from);
  }
  soql += " ORDER BY SystemModstamp ASC, Id ASC";

  auto& sent = sent_[captured.object];
  std::vector<mapping::CanonicalEvent> events;
  std::optional<Cursor> newest = cursor;
  std::string next = "queryAll?q=" + http::percent_encode(soql);
  while (!next.empty()) {
    auto page = client_.request("GET", next, "", fmt::format("capture {} (queryAll)", object), deadline, false);
    if (!page) return page.error();
    auto parsed = parse_capture_page(page.value().body, captured, settings_.org);
    if (!parsed) return parsed.error();
    for (auto& row : parsed.value().rows) {
      // Rows arrive ordered by (SystemModstamp, Id): the last row read (sent now or before) is
      // where the cursor may move once this poll's events are in Kafka.
      newest = Cursor{row.modstamp, row.id};
      // Dropped when exactly this version was sent already (the overlap window, or a record read
      // again on the cursor's own timestamp).
      auto known = sent.find(row.id);
      if (known != sent.end() && known->second.first == row.modstamp && known->second.second == row.content_hash) {
        continue;
      }
      sent[row.id] = {row.modstamp, row.content_hash};
      events.push_back(std::move(row.event));
    }
    next = std::move(parsed.value().next_records_url);
  }

  logger_->debug("salesforce capture poll object={} events={} cursor={}", object, events.size(),
                 newest ? newest->modstamp : std::string("none"));
  if (events.empty()) return std::size_t{0};
  auto failure = std::make_shared<std::optional<SyncError>>();
  for (const auto& event : events) {
    std::string key = mapping::kafka_key(event.object, event.prm_id.value_or("sf:" + *event.salesforce_id));
    while (true) {
      auto queued = producer_.produce(settings_.topic, key, mapping::to_json(event),
                                      [failure](mapping::Result<kafka::DeliveredRecord> delivered) {
                                        if (!delivered.ok() && !failure->has_value()) *failure = delivered.error();
                                      });
      if (queued) break;
      if (queued.error().error_class != ErrorClass::rate_limited) return queued.error();
      producer_.poll(std::chrono::milliseconds(50));
    }
  }
  if (auto flushed = producer_.flush(std::chrono::minutes(2)); !flushed) return flushed.error();
  if (failure->has_value()) return **failure;
  events_produced_.fetch_add(events.size(), std::memory_order_relaxed);
  // Everything up to `newest` is in Kafka: the cursor may move.
  auto saved = state_->execute("INSERT INTO " + schema + ".salesforce_cursors (org, object, modstamp, last_id) VALUES ($1, $2, $3, $4) "
                               "ON CONFLICT (org, object) DO UPDATE SET modstamp = EXCLUDED.modstamp, last_id = EXCLUDED.last_id, updated_at = now()",
                               {settings_.org, std::string(object), newest->modstamp, newest->id});
  if (!saved) return saved.error();
  // Forget what fell out of the overlap window.
  if (auto at = parse_salesforce_datetime(newest->modstamp)) {
    long long horizon = *at - static_cast<long long>(settings_.overlap.count()) * 1000;
    for (auto it = sent.begin(); it != sent.end();) {
      auto stamp = parse_salesforce_datetime(it->second.first);
      it = stamp && *stamp < horizon ? sent.erase(it) : std::next(it);
    }
  }
  logger_->info("salesforce capture object={} events={} cursor={}", object, events.size(), newest->modstamp);
  return events.size();
}

mapping::Status SalesforceCapture::run(const std::atomic<bool>& stop) {
  int failures = 0;
  while (!stop) {
    auto polled = poll_once(std::chrono::steady_clock::now() + std::chrono::minutes(5));
    if (!polled) {
      if (polled.error().error_class == ErrorClass::fatal) return polled.error();
      ++failures;
      // Repeated failures are logged at attempts 1, 2, 4, 8, … so that an outage is visible
      // without flooding the log.
      if ((failures & (failures - 1)) == 0) {
        logger_->warn("salesforce capture poll failed kind={} attempt={} error=\"{}\"",
                      mapping::to_string(polled.error().error_class), failures, polled.error().message);
      }
    } else {
      if (failures > 0) logger_->info("salesforce capture recovered after_failures={}", failures);
      failures = 0;
    }
    auto resume = std::chrono::steady_clock::now() + settings_.poll_interval;
    while (!stop && std::chrono::steady_clock::now() < resume) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return mapping::ok_status();
}

}  // namespace crmsync::connectors::salesforce
