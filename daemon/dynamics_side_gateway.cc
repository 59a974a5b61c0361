#include "daemon/dynamics_side_gateway.h"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <algorithm>

#include "connectors/dynamics/dataverse_applier.h"
#include "connectors/dynamics/dataverse_client.h"
#include "connectors/dynamics/dataverse_odata.h"
#include "connectors/dynamics/dataverse_values.h"

namespace crmsync::daemon {

namespace {

using connectors::dynamics::kPrmIdKey;
using mapping::ErrorClass;
using mapping::SyncError;

std::string string_member(const rapidjson::Value& row, const std::string& name) {
  auto it = row.FindMember(name.c_str());
  return it != row.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString())
                                                       : std::string();
}

// versionnumber (an Edm.Int64, answered as a JSON number) as decimal text.
std::string version_of(const rapidjson::Value& row) {
  auto it = row.FindMember("versionnumber");
  if (it == row.MemberEnd()) return {};
  auto value = connectors::dynamics::dataverse_field_value(it->value);
  return value && value->kind != mapping::FieldValue::Kind::null ? value->text : std::string();
}

// An OData string literal: single quotes doubled.
std::string odata_string(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

}  // namespace

DynamicsSideGateway::DynamicsSideGateway(connectors::dynamics::DataverseClient& client,
                                         connectors::dynamics::DataverseApplier& applier,
                                         std::chrono::milliseconds call_timeout)
    : client_(client), applier_(applier), call_timeout_(call_timeout) {}

mapping::Result<std::vector<SideRecordState>> DynamicsSideGateway::read(
    mapping::ObjectKind object, const std::vector<std::string>& prm_ids,
    const std::vector<std::string>& native_fields) {
  return query_where(object, std::string(kPrmIdKey), prm_ids, "", native_fields);
}

mapping::Result<std::vector<SideRecordState>> DynamicsSideGateway::find_unmapped(
    mapping::ObjectKind object, const std::string& key_field, const std::vector<std::string>& values,
    const std::vector<std::string>& native_fields) {
  return query_where(object, key_field, values, std::string(kPrmIdKey) + " eq null and ", native_fields);
}

mapping::Result<std::vector<SideRecordState>> DynamicsSideGateway::query_where(
    mapping::ObjectKind object, const std::string& key_field, const std::vector<std::string>& values,
    const std::string& condition, const std::vector<std::string>& native_fields) {
  const auto deadline = std::chrono::steady_clock::now() + call_timeout_;
  const connectors::dynamics::EntitySet& set = connectors::dynamics::entity_set_for(object);
  const std::string select = select_list(object, native_fields);

  std::vector<SideRecordState> records;
  for (std::size_t start = 0; start < values.size(); start += kIdsPerQuery) {
    std::size_t end = std::min(values.size(), start + kIdsPerQuery);
    std::string filter;
    for (std::size_t i = start; i < end; ++i) {
      filter += (i == start ? "" : " or ") + key_field + " eq " + odata_string(values[i]);
    }
    if (!condition.empty()) filter = condition + "(" + filter + ")";
    connectors::dynamics::DataverseRequest request;
    request.target = set.set_name + "?$select=" + connectors::dynamics::url_encode(select) +
                     "&$filter=" + connectors::dynamics::url_encode(filter);
    request.description = fmt::format("GET {} {} by {}", end - start, set.set_name, key_field);
    while (!request.target.empty()) {
      auto answer = client_.send(request, deadline);
      if (!answer) return answer.error();
      std::string next;
      auto page = records_of_page(object, answer.value().body, request.description, native_fields, next);
      if (!page) return page.error();
      for (auto& record : page.value()) records.push_back(std::move(record));
      request.target = next;
    }
  }
  return records;
}

std::string DynamicsSideGateway::select_list(mapping::ObjectKind object, const std::vector<std::string>& native_fields) {
  const connectors::dynamics::EntitySet& set = connectors::dynamics::entity_set_for(object);
  std::vector<std::string> selected = {set.primary_key, std::string(kPrmIdKey), "versionnumber", "modifiedon"};
  for (const auto& field : native_fields) {
    if (std::find(selected.begin(), selected.end(), field) == selected.end()) selected.push_back(field);
  }
  std::string select;
  for (const auto& field : selected) select += (select.empty() ? "" : ",") + field;
  return select;
}

mapping::Result<std::vector<SideRecordState>> DynamicsSideGateway::records_of_page(
    mapping::ObjectKind object, const std::string& body, const std::string& description,
    const std::vector<std::string>& native_fields, std::string& next) {
  const connectors::dynamics::EntitySet& set = connectors::dynamics::entity_set_for(object);
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("value") || !doc["value"].IsArray()) {
    return SyncError{ErrorClass::transient, fmt::format("dataverse: {}: the answer has no value array", description)};
  }
  std::vector<SideRecordState> records;
  for (const auto& row : doc["value"].GetArray()) {
    if (!row.IsObject()) continue;
    SideRecordState record;
    record.side_id = string_member(row, set.primary_key);
    record.prm_id = string_member(row, std::string(kPrmIdKey));
    record.version = version_of(row);
    record.modified_at = string_member(row, "modifiedon");
    if (record.side_id.empty() || record.version.empty()) {
      return SyncError{ErrorClass::fatal,
                       fmt::format("dataverse: {}: a row without {} or versionnumber", description, set.primary_key)};
    }
    for (const auto& field : native_fields) {
      auto member = row.FindMember(field.c_str());
      if (member == row.MemberEnd()) continue;
      if (auto value = connectors::dynamics::dataverse_field_value(member->value)) {
        record.fields.push_back({field, std::move(*value)});
      }
    }
    records.push_back(std::move(record));
  }
  auto link = doc.FindMember("@odata.nextLink");
  next = link != doc.MemberEnd() && link->value.IsString() ? link->value.GetString() : "";
  return records;
}

mapping::Status DynamicsSideGateway::scan(mapping::ObjectKind object, const std::vector<std::string>& native_fields,
                                          const std::string& since, const PageSink& on_page) {
  const connectors::dynamics::EntitySet& set = connectors::dynamics::entity_set_for(object);
  connectors::dynamics::DataverseRequest request;
  request.target = set.set_name + "?$select=" + connectors::dynamics::url_encode(select_list(object, native_fields));
  if (!since.empty()) request.target += "&$filter=" + connectors::dynamics::url_encode("modifiedon ge " + since);
  request.headers.emplace_back("Prefer", "odata.maxpagesize=5000");
  request.description = fmt::format("GET every {}", set.set_name);
  while (!request.target.empty()) {
    auto answer = client_.send(request, std::chrono::steady_clock::now() + call_timeout_);
    if (!answer) return answer.error();
    std::string next;
    auto page = records_of_page(object, answer.value().body, request.description, native_fields, next);
    if (!page) return page.error();
    if (auto taken = on_page(std::move(page).value()); !taken) return taken;
    request.target = next;
  }
  return mapping::ok_status();
}

mapping::Result<std::vector<mapping::CrmWriteResult>> DynamicsSideGateway::write(
    const std::vector<mapping::CrmRecordWrite>& writes, const std::string& /*origin*/) {
  if (writes.empty()) return std::vector<mapping::CrmWriteResult>{};
  return applier_.apply(writes, std::chrono::steady_clock::now() + call_timeout_);
}

mapping::Result<std::vector<mapping::Status>> DynamicsSideGateway::write_shares(
    const std::vector<mapping::CrmShareWrite>& shares) {
  if (shares.empty()) return std::vector<mapping::Status>{};
  return applier_.apply_shares(shares, std::chrono::steady_clock::now() + call_timeout_);
}

}  // namespace crmsync::daemon
