#include "connectors/dynamics/dataverse_capture.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <thread>

#include "connectors/dynamics/dataverse_applier.h"
#include "connectors/dynamics/dataverse_errors.h"
#include "connectors/dynamics/dataverse_odata.h"
#include "connectors/dynamics/dataverse_values.h"
#include "connectors/kafka/kafka_producer.h"

namespace crmsync::connectors::dynamics {

namespace {

using mapping::CanonicalEvent;
using mapping::ErrorClass;
using mapping::FieldValue;
using mapping::SyncError;

std::string utc_now_rfc3339() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string string_member(const rapidjson::Value& row, const char* name) {
  auto it = row.FindMember(name);
  return it != row.MemberEnd() && it->value.IsString() ? it->value.GetString() : std::string();
}

// W/"12345" -> 12345
std::string version_of(const rapidjson::Value& row) {
  std::string etag = string_member(row, "@odata.etag");
  auto open = etag.find('"');
  auto close = etag.rfind('"');
  if (open != std::string::npos && close > open) return etag.substr(open + 1, close - open - 1);
  return string_member(row, "versionnumber");
}

std::optional<CanonicalEvent> build_event(mapping::ObjectKind object, const rapidjson::Value& row,
                                          bool baseline, const std::string& pass_id) {
  if (!row.IsObject()) return std::nullopt;
  const EntitySet& set = entity_set_for(object);
  CanonicalEvent event;
  event.source = mapping::Side::dynamics;
  event.object = object;
  event.occurred_at = utc_now_rfc3339();
  event.actor.kind = mapping::Actor::Kind::internal_user;
  bool deleted = string_member(row, "@odata.context").find("$deletedEntity") != std::string::npos ||
                 string_member(row, "reason") == "deleted";
  if (deleted) {
    std::string id = string_member(row, "id");
    if (id.empty()) return std::nullopt;
    event.op = CanonicalEvent::Operation::remove;
    event.dynamics_id = id;
    event.source_version = pass_id;
    event.event_id =
        mapping::stable_event_id(fmt::format("dynamics-delete|{}|{}|{}", set.set_name, id, pass_id));
    return event;
  }
  std::string id = string_member(row, set.primary_key.c_str());
  if (id.empty()) return std::nullopt;
  event.op = CanonicalEvent::Operation::upsert;
  event.dynamics_id = id;
  if (std::string prm = string_member(row, std::string(kPrmIdKey).c_str()); !prm.empty())
    event.prm_id = prm;
  event.source_version = version_of(row);
  event.snapshot = baseline;
  if (std::string modified = string_member(row, "modifiedon"); !modified.empty())
    event.occurred_at = modified;
  if (std::string by = string_member(row, "_modifiedby_value"); !by.empty()) event.actor.id = by;
  for (auto member = row.MemberBegin(); member != row.MemberEnd(); ++member) {
    std::string name(member->name.GetString(), member->name.GetStringLength());
    // Row metadata, not record fields: read above into occurred_at and the actor.
    if (name.find('@') != std::string::npos || name == set.primary_key || name == kPrmIdKey || name == "modifiedon" ||
        name == "_modifiedby_value") {
      continue;
    }
    if (auto value = dataverse_field_value(member->value)) event.fields.push_back({name, std::move(*value)});
  }
  event.event_id = mapping::stable_event_id(fmt::format("dynamics{}|{}|{}|{}", baseline ? "-baseline" : "",
                                               set.set_name, id, event.source_version));
  return event;
}

}  // namespace

std::optional<FieldValue> dataverse_field_value(const rapidjson::Value& value) {
  if (value.IsNull()) return FieldValue::null_value();
  if (value.IsString()) return FieldValue::string_value(value.GetString());
  if (value.IsBool()) return FieldValue::boolean_value(value.GetBool());
  if (value.IsInt64()) return FieldValue::number_value(std::to_string(value.GetInt64()));
  if (value.IsUint64()) return FieldValue::number_value(std::to_string(value.GetUint64()));
  // Shortest text that reads back as the same double (Dataverse sends decimals as JSON numbers).
  if (value.IsDouble()) return FieldValue::number_value(fmt::format("{}", value.GetDouble()));
  return std::nullopt;  // objects and arrays ($expand) are not captured
}

std::optional<CanonicalEvent> event_from_row(mapping::ObjectKind object,
                                             const std::string& row_json, bool baseline,
                                             const std::string& pass_id) {
  rapidjson::Document doc;
  doc.Parse(row_json.c_str());
  if (doc.HasParseError()) return std::nullopt;
  return build_event(object, doc, baseline, pass_id);
}

mapping::Result<ChangesPage> parse_changes_page(mapping::ObjectKind object, std::string_view body, bool baseline,
                                                const std::string& pass_id, std::string_view description) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("value") || !doc["value"].IsArray()) {
    return SyncError{ErrorClass::transient, fmt::format("dataverse: {}: the answer has no value array", description)};
  }
  ChangesPage page;
  for (const auto& row : doc["value"].GetArray()) {
    auto event = build_event(object, row, baseline, pass_id);
    if (!event) continue;
    page.rows.push_back({std::move(*event), string_member(row, "_ownerid_value"),
                         string_member(row, "_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname")});
  }
  page.next_link = string_member(doc, "@odata.nextLink");
  page.delta_link = string_member(doc, "@odata.deltaLink");
  return page;
}

DataverseCapture::DataverseCapture(DataverseClient& client, DataverseCaptureSettings settings,
                                   DeltaLinkStore& links, kafka::KafkaProducer& producer,
                                   std::shared_ptr<spdlog::logger> logger)
    : client_(client),
      settings_(std::move(settings)),
      links_(links),
      producer_(producer),
      logger_(std::move(logger)) {
  if (settings_.org.empty()) settings_.org = client_.api_base();
}

mapping::Result<CapturePass> DataverseCapture::poll_once(http::Deadline deadline) {
  CapturePass pass;
  for (const auto& table : settings_.tables) {
    if (auto captured = capture_table(table, deadline, pass); !captured) return captured.error();
  }
  ++probe_.passes;
  return pass;
}

mapping::Status DataverseCapture::run(const std::atomic<bool>& stop,
                                      std::chrono::milliseconds interval,
                                      std::chrono::milliseconds pass_timeout,
                                      mapping::RetryPolicy retry,
                                      mapping::UniformRandom uniform01) {
  int failures = 0;
  while (!stop) {
    auto pass = poll_once(std::chrono::steady_clock::now() + pass_timeout);
    std::chrono::milliseconds wait = interval;
    if (pass) {
      failures = 0;
    } else {
      const SyncError& error = pass.error();
      if (!mapping::is_retryable(error.error_class) && error.error_class != ErrorClass::conflict) {
        logger_->critical("dataverse capture stopped kind={} error=\"{}\"",
                          mapping::to_string(error.error_class), error.message);
        return error;
      }
      wait = std::max(wait, retry.delay_for_attempt(failures++, uniform01));
      logger_->warn("dataverse capture pass failed kind={} attempt={} retry_in_ms={} error=\"{}\"",
                    mapping::to_string(error.error_class), failures, wait.count(), error.message);
    }
    auto resume_at = std::chrono::steady_clock::now() + wait;
    while (!stop && std::chrono::steady_clock::now() < resume_at) {
      std::this_thread::sleep_for(std::min(std::chrono::milliseconds(50), wait));
    }
  }
  return mapping::ok_status();
}

mapping::Status DataverseCapture::capture_table(const CapturedTable& table, http::Deadline deadline,
                                                CapturePass& pass) {
  const EntitySet& set = entity_set_for(table.object);
  auto stored = links_.load(settings_.org, set.set_name);
  if (!stored) return stored.error();
  std::string refused;
  std::optional<std::string> next_link;
  bool baseline = !stored.value().has_value();
  if (!baseline) {
    auto read = read_changes(table, *stored.value(), false, deadline, pass, refused);
    if (!read && refused.empty()) return read.error();
    if (read) next_link = read.value();
  }
  if (!refused.empty()) {
    logger_->error(
        "DATAVERSE RE-BASELINE entity_set={} reason=\"{}\": the stored delta link was refused; "
        "reading the whole table again (changes are re-sent as snapshot events; deletes made "
        "while the link was stale are NOT seen: run `crmsync reconcile` for this object)",
        set.set_name, refused);
    if (auto recorded = links_.record_rebaseline(settings_.org, set.set_name, refused); !recorded)
      return recorded;
    ++pass.rebaselines;
    ++probe_.rebaselines;
    baseline = true;
  }
  if (baseline) {
    std::vector<std::string> columns = table.columns;
    // modifiedon makes the event's occurred_at (latest_wins compares occurred_at across sides;
    // without it that was the capture's own clock). (_modifiedby_value, the actor, is read when a
    // mapping selects it: the emulator's tables do not have the column yet.)
    std::vector<std::string> always = {set.primary_key, std::string(kPrmIdKey), "modifiedon"};
    if (settings_.principal_map) always.emplace_back("_ownerid_value");
    for (const std::string& name : always) {
      if (std::find(columns.begin(), columns.end(), name) == columns.end()) columns.push_back(name);
    }
    std::string select;
    for (const auto& column : columns) select += (select.empty() ? "" : ",") + column;
    std::string ignored;
    auto read =
        read_changes(table, set.set_name + "?$select=" + select, true, deadline, pass, ignored);
    if (!read) return read.error();
    next_link = read.value();
    ++pass.baselines;
    ++probe_.baselines;
  }
  // Strip the API base: the link stays valid if the environment is reached under another alias.
  std::string link = *next_link;
  if (link.starts_with(client_.api_base())) link = link.substr(client_.api_base().size());
  return links_.save(settings_.org, set.set_name, link, baseline);
}

mapping::Status DataverseCapture::add_sharing(const std::string& owner,
                                              const std::string& owner_kind, CanonicalEvent& event,
                                              http::Deadline deadline) {
  const PrincipalMap& map = settings_.principal_map;
  if (!owner.empty()) {
    if (auto principal = map(owner_kind, owner)) {
      if (principal->starts_with("partner_org:"))
        event.sharing.owner_partner_org = principal->substr(12);
      if (principal->starts_with("partner_user:")) event.sharing.owner_user = principal->substr(13);
    }
  }
  auto shared = retrieve_shared_principals(client_, event.object, *event.dynamics_id, deadline);
  if (!shared) return shared.error();
  for (const auto& entry : shared.value()) {
    auto principal = map(entry.principal.logical_name, entry.principal.id);
    if (!principal) continue;  // no partner's: not shared with any partner (deny by default)
    bool edit = entry.access_mask.find("WriteAccess") != std::string::npos;
    event.sharing.grants.push_back(
        {*principal, edit ? mapping::ShareGrant::Access::edit : mapping::ShareGrant::Access::read});
  }
  std::sort(event.sharing.grants.begin(), event.sharing.grants.end(),
            [](const auto& a, const auto& b) { return a.principal < b.principal; });
  return mapping::ok_status();
}

mapping::Result<std::string> DataverseCapture::read_changes(const CapturedTable& table,
                                                            const std::string& target,
                                                            bool baseline, http::Deadline deadline,
                                                            CapturePass& pass,
                                                            std::string& refused) {
  const EntitySet& set = entity_set_for(table.object);
  auto failure = std::make_shared<std::optional<SyncError>>();
  std::string pass_id = mapping::stable_event_id(target);
  std::string next = target;
  std::string delta_link;
  std::size_t upserts = 0;
  std::size_t deletes = 0;
  while (!next.empty()) {
    DataverseRequest request;
    request.target = next;
    std::string prefer =
        fmt::format("odata.track-changes,odata.maxpagesize={}", settings_.page_size);
    if (settings_.principal_map)
      prefer += ",odata.include-annotations=\"Microsoft.Dynamics.CRM.lookuplogicalname\"";
    request.headers = {{"Prefer", prefer}};
    request.description =
        fmt::format("GET {} changes ({})", set.set_name, baseline ? "baseline" : "delta");
    std::optional<DataverseError> refusal;
    auto classify = [&](const http::HttpResponse& response) {
      auto error = response.status == 400 ? parse_dataverse_error(response.body) : std::nullopt;
      if (!baseline && is_expired_delta_token(response.status, error)) {
        refusal = error;
        return http::ResponseVerdict::fail(
            {ErrorClass::invalid,
             "dataverse: " + request.description + ": " + error->code + ": " + error->message});
      }
      return classify_dataverse_response(response, request.description);
    };
    auto answer = client_.send(request, deadline, classify);
    if (!answer) {
      if (refusal) refused = refusal->code + ": " + refusal->message;
      return answer.error();
    }
    auto page = parse_changes_page(table.object, answer.value().body, baseline, pass_id, request.description);
    if (!page) return page.error();
    for (auto& row : page.value().rows) {
      auto& event = row.event;
      if (settings_.principal_map && event.op == CanonicalEvent::Operation::upsert) {
        if (auto shared = add_sharing(row.owner, row.owner_kind, event, deadline); !shared) return shared.error();
      }
      std::string key = mapping::kafka_key(event.object, "dynamics:" + *event.dynamics_id);
      std::string value = mapping::to_json(event);
      auto on_delivery = [failure](const mapping::Result<kafka::DeliveredRecord>& delivered) {
        if (!delivered.ok() && !failure->has_value()) *failure = delivered.error();
      };
      while (true) {
        auto queued = producer_.produce(settings_.topic, key, value, on_delivery);
        if (queued) break;
        if (queued.error().error_class != ErrorClass::rate_limited) return queued.error();
        producer_.poll(std::chrono::milliseconds(50));
      }
      (event.op == CanonicalEvent::Operation::remove ? deletes : upserts) += 1;
    }
    producer_.poll(std::chrono::milliseconds(0));
    next = std::move(page.value().next_link);
    delta_link = std::move(page.value().delta_link);
  }
  if (delta_link.empty()) {
    return SyncError{ErrorClass::transient,
                     fmt::format("dataverse: {} changes: the last page has no @odata.deltaLink "
                                 "(is change tracking enabled on the table?)",
                                 set.set_name)};
  }
  // The link is stored by the caller only after every event is acknowledged.
  if (auto flushed = producer_.flush(settings_.ack_timeout); !flushed) return flushed.error();
  if (failure->has_value()) return **failure;
  pass.upserts += upserts;
  pass.deletes += deletes;
  probe_.events_produced += upserts + deletes;
  probe_.deletes += deletes;
  logger_->info("dataverse capture entity_set={} mode={} upserts={} deletes={}", set.set_name,
                baseline ? "baseline" : "delta", upserts, deletes);
  return delta_link;
}

}  // namespace crmsync::connectors::dynamics
