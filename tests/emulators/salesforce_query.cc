// Salesforce /query and /queryAll with query locators, and getUpdated / getDeleted windows.

#include <fmt/format.h>

#include <algorithm>

#include "tests/emulators/json_util.h"
#include "tests/emulators/salesforce_api.h"
#include "tests/emulators/salesforce_ids.h"
#include "tests/emulators/salesforce_responses.h"
#include "tests/emulators/soql.h"

namespace crmsync::emulators {

namespace {

constexpr std::size_t kDefaultBatch = 2000;
constexpr EpochMs kLocatorIdleMs = 15 * 60 * 1000;
constexpr EpochMs kDayMs = 24 * 3600 * 1000;

EpochMs floor_minute(EpochMs ms) {
  return ms - ms % 60000;
}

}  // namespace

HttpResponse SalesforceApi::query(const SalesforceCall& call, bool include_deleted) {
  auto q = call.query.find("q");
  if (q == call.query.end() || q->second.empty()) {
    return salesforce_error(400, "MALFORMED_QUERY", "A query string has to be specified");
  }
  auto parsed = parse_soql(q->second);
  if (auto* error = std::get_if<SoqlError>(&parsed))
    return salesforce_error(400, error->code, error->message);
  SoqlQuery soql = std::get<SoqlQuery>(std::move(parsed));
  ObjectTable* table = store_.table(soql.object);
  if (table == nullptr) {
    return salesforce_error(
        400, "INVALID_TYPE",
        "\n" + soql.object + "\n^\nERROR at Row:1:Column:1\nsObject type '" + soql.object +
            "' is not supported. If you are attempting to use a custom object, be sure to append "
            "the '__c' after the entity name. Please reference your WSDL or the describe call for "
            "the appropriate names.");
  }
  if (auto error = bind_soql(soql, table->def))
    return salesforce_error(400, error->code, error->message);
  std::vector<const Record*> rows;
  for (Record* r : table->live_rows_in_order(include_deleted)) {
    if (!soql.where || soql_matches(*soql.where, *r, table->def)) rows.push_back(r);
  }
  soql_sort(rows, soql.order_by);
  std::size_t offset = static_cast<std::size_t>(soql.offset.value_or(0));
  rows.erase(rows.begin(),
             rows.begin() + static_cast<std::ptrdiff_t>(std::min(offset, rows.size())));
  if (soql.limit && rows.size() > static_cast<std::size_t>(*soql.limit))
    rows.resize(static_cast<std::size_t>(*soql.limit));
  if (soql.count_only) {
    return salesforce_json(
        200, fmt::format(R"({{"totalSize":{},"done":true,"records":[]}})", rows.size()));
  }
  // Forget locators nobody used for the idle period, so long runs do not grow without bound.
  for (auto it = locators_.begin(); it != locators_.end();) {
    it = clock_.now() - it->second.last_used > kLocatorIdleMs ? locators_.erase(it) : std::next(it);
  }
  QueryLocator locator;
  locator.object = table->def.name;
  locator.fields = soql.fields;
  locator.include_deleted = include_deleted;
  locator.last_used = clock_.now();
  for (const Record* r : rows) locator.ids.push_back(r->id);
  std::string id = make_salesforce_id("01g", ++id_sequence_);
  locators_[id] = std::move(locator);
  return query_page(call, id, 0);
}

HttpResponse SalesforceApi::query_more(const SalesforceCall& call, const std::string& locator) {
  auto dash = locator.rfind('-');
  std::string id = locator.substr(0, dash);
  std::size_t offset = 0;
  bool ok = dash != std::string::npos && dash + 1 < locator.size() && locator.size() - dash <= 10;
  if (ok) {
    for (char c : locator.substr(dash + 1)) ok = ok && c >= '0' && c <= '9';
  }
  if (ok) offset = std::stoul(locator.substr(dash + 1));
  auto it = locators_.find(id);
  if (!ok || it == locators_.end() || clock_.now() - it->second.last_used > kLocatorIdleMs ||
      offset > it->second.ids.size()) {
    if (it != locators_.end() && clock_.now() - it->second.last_used > kLocatorIdleMs)
      locators_.erase(it);
    return salesforce_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
  }
  return query_page(call, id, offset);
}

HttpResponse SalesforceApi::query_page(const SalesforceCall& call, const std::string& locator_id,
                                       std::size_t offset) {
  QueryLocator& locator = locators_[locator_id];
  locator.last_used = clock_.now();
  std::size_t batch = kDefaultBatch;
  std::string options = call.outer->header("Sforce-Query-Options");
  auto pos = options.find("batchSize=");
  if (pos != std::string::npos) {
    std::size_t asked = std::strtoul(options.c_str() + pos + 10, nullptr, 10);
    batch = std::clamp<std::size_t>(asked, 200, 2000);
  }
  if (settings_.page_size > 0)
    batch = std::min(batch, static_cast<std::size_t>(settings_.page_size));
  ObjectTable* table = store_.table(locator.object);
  std::size_t end = std::min(locator.ids.size(), offset + batch);
  std::vector<std::string> fields = locator.fields;
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("totalSize");
  writer.Uint64(locator.ids.size());
  writer.Key("done");
  writer.Bool(end >= locator.ids.size());
  if (end < locator.ids.size()) {
    writer.Key("nextRecordsUrl");
    write_string(writer, salesforce_version_path(call.version) +
                             (locator.include_deleted ? "/queryAll/" : "/query/") + locator_id +
                             "-" + std::to_string(end));
  }
  writer.Key("records");
  writer.StartArray();
  std::string records;
  for (std::size_t i = offset; i < end; ++i) {
    const Record* r = table->find(locator.ids[i], true);
    if (r == nullptr) continue;  // a share row deleted since the query ran
    std::string json = record_json(*table, *r, fields, call.version);
    writer.RawValue(json.c_str(), json.size(), rapidjson::kObjectType);
  }
  writer.EndArray();
  writer.EndObject();
  if (end >= locator.ids.size()) locators_.erase(locator_id);
  return salesforce_json(200, buffer.GetString());
}

HttpResponse SalesforceApi::updated(const SalesforceCall& call, ObjectTable& table) {
  auto start_it = call.query.find("start");
  auto end_it = call.query.find("end");
  auto start = start_it == call.query.end() ? std::nullopt : parse_iso_datetime(start_it->second);
  auto end = end_it == call.query.end() ? std::nullopt : parse_iso_datetime(end_it->second);
  if (!start || !end) {
    return salesforce_error(400, "INVALID_REPLICATION_DATE",
                            "start and end must be ISO 8601 date-times");
  }
  EpochMs now = clock_.now();
  EpochMs s = floor_minute(*start), e = floor_minute(*end);
  if (s >= e) {
    return salesforce_error(
        400, "INVALID_REPLICATION_DATE",
        "startDate must chronologically precede endDate by more than one minute");
  }
  if (s < now - 30 * kDayMs) {
    return salesforce_error(400, "INVALID_REPLICATION_DATE",
                            "startDate cannot be more than 30 days ago");
  }
  EpochMs covered = std::min(e, floor_minute(now));
  std::string from = format_salesforce_datetime(s), to = format_salesforce_datetime(covered);
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("ids");
  writer.StartArray();
  std::size_t count = 0;
  for (Record* r : table.live_rows_in_order()) {
    const FieldValue& stamp =
        r->get(table.def.field("SystemModstamp") ? "SystemModstamp" : "LastModifiedDate");
    if (!std::holds_alternative<std::string>(stamp)) continue;
    const std::string& at = std::get<std::string>(stamp);
    if (at >= from && at < to) {
      write_string(writer, r->id);
      ++count;
    }
  }
  writer.EndArray();
  writer.Key("latestDateCovered");
  write_string(writer, to);
  writer.EndObject();
  if (count > 600000)
    return salesforce_error(400, "EXCEEDED_ID_LIMIT", "too many ids: narrow the window");
  return salesforce_json(200, buffer.GetString());
}

HttpResponse SalesforceApi::deleted(const SalesforceCall& call, ObjectTable& table) {
  auto start_it = call.query.find("start");
  auto end_it = call.query.find("end");
  auto start = start_it == call.query.end() ? std::nullopt : parse_iso_datetime(start_it->second);
  auto end = end_it == call.query.end() ? std::nullopt : parse_iso_datetime(end_it->second);
  if (!start || !end) {
    return salesforce_error(400, "INVALID_REPLICATION_DATE",
                            "start and end must be ISO 8601 date-times");
  }
  EpochMs now = clock_.now();
  EpochMs s = floor_minute(*start), e = floor_minute(*end);
  if (s >= e) {
    return salesforce_error(
        400, "INVALID_REPLICATION_DATE",
        "startDate must chronologically precede endDate by more than one minute");
  }
  EpochMs earliest = floor_minute(now - 15 * kDayMs);
  EpochMs covered = std::min(e, floor_minute(now));
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("deletedRecords");
  writer.StartArray();
  for (Record* r : table.live_rows_in_order(true)) {
    if (!r->deleted || r->deleted_at < earliest || r->deleted_at < s || r->deleted_at >= covered)
      continue;
    writer.StartObject();
    writer.Key("id");
    write_string(writer, r->id);
    writer.Key("deletedDate");
    write_string(writer, format_salesforce_datetime(r->deleted_at));
    writer.EndObject();
  }
  writer.EndArray();
  writer.Key("earliestDateAvailable");
  write_string(writer, format_salesforce_datetime(earliest));
  writer.Key("latestDateCovered");
  write_string(writer, format_salesforce_datetime(covered));
  writer.EndObject();
  return salesforce_json(200, buffer.GetString());
}

}  // namespace crmsync::emulators
