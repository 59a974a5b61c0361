#include "daemon/salesforce_side_gateway.h"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <strings.h>
#include <algorithm>
#include <ctime>

#include "connectors/http/url_encoding.h"
#include "connectors/salesforce/salesforce_capture.h"
#include "connectors/salesforce/salesforce_client.h"
#include "connectors/salesforce/salesforce_values.h"

namespace crmsync::daemon {

namespace {

using mapping::ErrorClass;
using mapping::SyncError;

// Unix milliseconds as RFC 3339 UTC with milliseconds: 2026-11-27T23:28:09.000Z.
std::string rfc3339_millis(long long unix_ms) {
  long long seconds = unix_ms / 1000;
  long long millis = unix_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    --seconds;
  }
  std::time_t when = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&when, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
}

std::string string_member(const rapidjson::Value& record, const std::string& name) {
  auto it = record.FindMember(name.c_str());
  return it != record.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString())
                                                          : std::string();
}

bool same_field(const std::string& a, const std::string& b) {
  return strcasecmp(a.c_str(), b.c_str()) == 0;
}

}  // namespace

SalesforceSideGateway::SalesforceSideGateway(connectors::salesforce::SalesforceClient& client,
                                             std::chrono::milliseconds call_timeout)
    : client_(client), sink_(client), call_timeout_(call_timeout) {}

mapping::Result<std::vector<SideRecordState>> SalesforceSideGateway::read(
    mapping::ObjectKind object, const std::vector<std::string>& prm_ids,
    const std::vector<std::string>& native_fields) {
  return query_where(object, client_.settings().external_id_field, prm_ids, "", native_fields);
}

mapping::Result<std::vector<SideRecordState>> SalesforceSideGateway::find_unmapped(
    mapping::ObjectKind object, const std::string& key_field, const std::vector<std::string>& values,
    const std::vector<std::string>& native_fields) {
  return query_where(object, key_field, values, client_.settings().external_id_field + " = null AND ", native_fields);
}

mapping::Result<std::vector<SideRecordState>> SalesforceSideGateway::query_where(
    mapping::ObjectKind object, const std::string& key_field, const std::vector<std::string>& values,
    const std::string& condition, const std::vector<std::string>& native_fields) {
  const auto deadline = std::chrono::steady_clock::now() + call_timeout_;
  const char* sobject = connectors::salesforce::salesforce_object(object);
  const std::string select = select_list(native_fields);

  // Queries of up to kIdsPerQuery ids whose URL stays within kMaxQueryUrlBytes (Salesforce
  // refuses a request whose URI and headers pass 16 KB).
  struct Query {
    std::string path;
    std::size_t ids = 0;
  };
  const std::string prefix =
      "query?q=" + connectors::http::percent_encode(fmt::format("SELECT {} FROM {} WHERE {}{} IN (",
                                                                select, sobject, condition, key_field));
  const std::string comma = "%2C";
  const std::string close = "%29";
  std::vector<Query> queries;
  for (const auto& value : values) {
    std::string quoted =
        connectors::http::percent_encode(connectors::salesforce::soql_quote(value));
    if (!queries.empty() && queries.back().ids < kIdsPerQuery &&
        queries.back().path.size() + comma.size() + quoted.size() + close.size() <=
            kMaxQueryUrlBytes) {
      queries.back().path += comma + quoted;
      ++queries.back().ids;
    } else {
      queries.push_back({prefix + quoted, 1});
    }
  }

  std::vector<SideRecordState> records;
  for (const auto& query : queries) {
    std::string description = fmt::format("read {} {} by {}", query.ids, sobject, key_field);
    std::string next = query.path + close;
    while (!next.empty()) {
      auto page = client_.request("GET", next, "", description, deadline, false);
      if (!page) return page.error();
      auto page_records = records_of_page(page.value().body, description, native_fields, next);
      if (!page_records) return page_records.error();
      for (auto& record : page_records.value()) records.push_back(std::move(record));
    }
  }
  return records;
}

std::string SalesforceSideGateway::select_list(const std::vector<std::string>& native_fields) const {
  // SOQL refuses a field selected twice (names are case-insensitive).
  std::vector<std::string> selected = {"Id", client_.settings().external_id_field, "SystemModstamp", "LastModifiedDate"};
  for (const auto& field : native_fields) {
    if (std::none_of(selected.begin(), selected.end(), [&](const auto& known) { return same_field(known, field); })) {
      selected.push_back(field);
    }
  }
  std::string select;
  for (const auto& field : selected) select += (select.empty() ? "" : ", ") + field;
  return select;
}

mapping::Result<std::vector<SideRecordState>> SalesforceSideGateway::records_of_page(
    const std::string& body, const std::string& description, const std::vector<std::string>& native_fields,
    std::string& next) const {
  const std::string& external_id = client_.settings().external_id_field;
  rapidjson::Document json;
  json.Parse(body.c_str());
  if (json.HasParseError() || !json.IsObject() || !json.HasMember("records") || !json["records"].IsArray()) {
    return SyncError{ErrorClass::fatal, fmt::format("Salesforce {}: the query answer has no records array", description)};
  }
  std::vector<SideRecordState> records;
  for (const auto& row : json["records"].GetArray()) {
    if (!row.IsObject()) continue;
    SideRecordState record;
    record.side_id = string_member(row, "Id");
    record.prm_id = string_member(row, external_id);
    record.version = string_member(row, "SystemModstamp");
    std::string modified = string_member(row, "LastModifiedDate");
    auto modified_ms = connectors::salesforce::parse_salesforce_datetime(modified);
    if (record.side_id.empty() || record.version.empty() || !modified_ms) {
      return SyncError{ErrorClass::fatal,
                       fmt::format("Salesforce {}: a record without Id, SystemModstamp or a readable "
                                   "LastModifiedDate (id=\"{}\" LastModifiedDate=\"{}\")",
                                   description, record.side_id, modified)};
    }
    record.modified_at = rfc3339_millis(*modified_ms);
    for (const auto& field : native_fields) {
      auto value = row.FindMember(field.c_str());
      if (value == row.MemberEnd()) continue;  // as the capture: a field Salesforce did not answer is absent
      record.fields.push_back({field, connectors::salesforce::salesforce_field_value(value->value)});
    }
    records.push_back(std::move(record));
  }
  next.clear();
  if (json.HasMember("nextRecordsUrl") && json["nextRecordsUrl"].IsString()) next = json["nextRecordsUrl"].GetString();
  return records;
}

mapping::Status SalesforceSideGateway::scan(mapping::ObjectKind object, const std::vector<std::string>& native_fields,
                                            const std::string& since, const PageSink& on_page) {
  const char* sobject = connectors::salesforce::salesforce_object(object);
  std::string soql = fmt::format("SELECT {} FROM {}", select_list(native_fields), sobject);
  if (!since.empty()) soql += " WHERE SystemModstamp >= " + since;
  std::string description = fmt::format("list every {}", sobject);
  std::string next = "query?q=" + connectors::http::percent_encode(soql);
  while (!next.empty()) {
    auto page = client_.request("GET", next, "", description, std::chrono::steady_clock::now() + call_timeout_, false);
    if (!page) return page.error();
    auto records = records_of_page(page.value().body, description, native_fields, next);
    if (!records) return records.error();
    if (auto taken = on_page(std::move(records).value()); !taken) return taken;
  }
  return mapping::ok_status();
}

mapping::Result<std::vector<mapping::CrmWriteResult>> SalesforceSideGateway::write(
    const std::vector<mapping::CrmRecordWrite>& writes, const std::string& /*origin*/) {
  if (writes.empty()) return std::vector<mapping::CrmWriteResult>{};
  return sink_.apply(writes, std::chrono::steady_clock::now() + call_timeout_);
}

mapping::Result<std::vector<mapping::Status>> SalesforceSideGateway::write_shares(
    const std::vector<mapping::CrmShareWrite>& shares) {
  if (shares.empty()) return std::vector<mapping::Status>{};
  auto results = sink_.apply_shares(shares, std::chrono::steady_clock::now() + call_timeout_);
  if (!results) return results.error();
  std::vector<mapping::Status> statuses;
  for (auto& result : results.value()) {
    if (result.error) {
      statuses.emplace_back(*result.error);
    } else {
      statuses.push_back(mapping::ok_status());
    }
  }
  return statuses;
}

}  // namespace crmsync::daemon
