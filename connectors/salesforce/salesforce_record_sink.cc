#include "connectors/salesforce/salesforce_record_sink.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <map>
#include <optional>

#include "connectors/http/url_encoding.h"
#include "connectors/salesforce/salesforce_client.h"

namespace crmsync::connectors::salesforce {

namespace {

using mapping::CrmWriteResult;
using mapping::ErrorClass;
using mapping::SyncError;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void write_string(JsonWriter& out, std::string_view text) {
  out.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

// Field values are written by mapping::to_json_value (exact numbers, non-finite as strings).
void write_value(JsonWriter& out, const mapping::FieldValue& value) {
  std::string json = mapping::to_json_value(value);
  out.RawValue(json.data(), json.size(), rapidjson::kStringType);
}

// A string member of a JSON value; nothing when the value is no object or the member is missing
// or not a string. Answers are read only through this (and the type checks beside it): RapidJSON's
// accessors assume the type they are asked for, and a malformed answer must not crash the worker.
std::optional<std::string> string_member(const rapidjson::Value& value, const char* name) {
  if (!value.IsObject()) return std::nullopt;
  auto member = value.FindMember(name);
  if (member == value.MemberEnd() || !member->value.IsString()) return std::nullopt;
  return std::string(member->value.GetString(), member->value.GetStringLength());
}

bool bool_member(const rapidjson::Value& value, const char* name) {
  if (!value.IsObject()) return false;
  auto member = value.FindMember(name);
  return member != value.MemberEnd() && member->value.IsBool() && member->value.GetBool();
}

// Per-record results of a collections call: [{"id","success","errors":[{"statusCode","message"}],"created"}].
mapping::Result<std::vector<CrmWriteResult>> parse_results(const std::string& body, std::size_t expected) {
  rapidjson::Document json;
  json.Parse(body.c_str());
  auto malformed = [&] {
    return SyncError{ErrorClass::fatal,
                     fmt::format("Salesforce collections answer is not an array of {} results", expected)};
  };
  if (json.HasParseError() || !json.IsArray() || json.Size() != expected) return malformed();
  std::vector<CrmWriteResult> results;
  for (const auto& item : json.GetArray()) {
    if (!item.IsObject()) return malformed();
    CrmWriteResult result;
    result.crm_id = string_member(item, "id");
    result.created = bool_member(item, "created");
    if (!bool_member(item, "success")) {
      std::string code = "UNKNOWN";
      std::string message;
      auto errors = item.FindMember("errors");
      if (errors != item.MemberEnd() && errors->value.IsArray() && !errors->value.Empty()) {
        const auto& error = errors->value[0];
        code = string_member(error, "statusCode").value_or(code);
        message = string_member(error, "message").value_or("");
      }
      ErrorClass klass = code == "UNABLE_TO_LOCK_ROW" ? ErrorClass::transient
                         : code == "ENTITY_IS_DELETED" || code == "NOT_FOUND" ? ErrorClass::conflict
                                                                               : ErrorClass::invalid;
      result.error = SyncError{klass, fmt::format("Salesforce {}: {}", code, message)};
      result.gone = code == "ENTITY_IS_DELETED";
    }
    results.push_back(std::move(result));
  }
  return results;
}

// The records array of a query answer; an error naming `what` (a lookup before a delete or a
// revocation) when the body is not a query result: a truncated answer or a proxy's page must not
// read as "nothing found", which would report deletes and revocations done that were not.
mapping::Result<const rapidjson::Value*> query_records(const rapidjson::Document& json, std::string_view what) {
  if (json.HasParseError() || !json.IsObject()) {
    return SyncError{ErrorClass::transient,
                     fmt::format("Salesforce {}: the answer is not a JSON object (a truncated answer, or one "
                                 "from a proxy?); nothing was changed, send again later",
                                 what)};
  }
  auto records = json.FindMember("records");
  if (records == json.MemberEnd() || !records->value.IsArray()) {
    return SyncError{ErrorClass::transient,
                     fmt::format("Salesforce {}: the answer has no records array; nothing was changed, send again later",
                                 what)};
  }
  return &records->value;
}

// How a write reaches Salesforce: a record whose Id is known is updated by that Id (it may have
// been created in Salesforce and not carry its PRM id yet: an upsert by external id would create a
// second record); otherwise upserted by the external id; deletes by Id. Per object, the routes
// are sent in this order.
enum class WriteRoute { remove, upsert_by_external_id, update_by_id };

WriteRoute route_of(const mapping::CrmRecordWrite& write) {
  if (write.op == mapping::CanonicalEvent::Operation::remove) return WriteRoute::remove;
  return write.crm_id ? WriteRoute::update_by_id : WriteRoute::upsert_by_external_id;
}

// The sObject Collections body of writes[positions[start..end)]: each record with its type, its Id
// when updated by Id, the external id (set in both cases, so a record created in Salesforce gets
// its PRM id), its fields and its owner.
std::string records_body(const std::vector<mapping::CrmRecordWrite>& writes,
                         const std::vector<std::size_t>& positions, std::size_t start,
                         std::size_t end, const char* object, const std::string& external_id,
                         bool by_id) {
  rapidjson::StringBuffer buffer;
  JsonWriter out(buffer);
  out.StartObject();
  write_string(out, "allOrNone");
  out.Bool(false);
  write_string(out, "records");
  out.StartArray();
  for (std::size_t p = start; p < end; ++p) {
    const auto& write = writes[positions[p]];
    out.StartObject();
    write_string(out, "attributes");
    out.StartObject();
    write_string(out, "type");
    write_string(out, object);
    out.EndObject();
    if (by_id) {
      write_string(out, "Id");
      write_string(out, *write.crm_id);
    }
    write_string(out, external_id);
    write_string(out, write.prm_id);
    for (const auto& field : write.fields) {
      if (field.name == external_id || field.name == "Id") continue;
      write_string(out, field.name);
      write_value(out, field.value);
    }
    if (write.owner_id) {
      write_string(out, "OwnerId");
      write_string(out, *write.owner_id);
    }
    out.EndObject();
  }
  out.EndArray();
  out.EndObject();
  return buffer.GetString();
}

}  // namespace

std::string soql_quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    switch (c) {
      case '\'':
        out += "\\'";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  return out + "'";
}

const char* salesforce_object(mapping::ObjectKind object) {
  return object == mapping::ObjectKind::account ? "Account" : "Opportunity";
}

SalesforceRecordSink::SalesforceRecordSink(SalesforceClient& client) : client_(client) {}

mapping::Result<std::vector<CrmWriteResult>> SalesforceRecordSink::apply(
    const std::vector<mapping::CrmRecordWrite>& writes, http::Deadline deadline) {
  std::vector<CrmWriteResult> results(writes.size());
  const std::string& external_id = client_.settings().external_id_field;
  // Group by (object, route), keeping each write's position for its result.
  std::map<std::pair<mapping::ObjectKind, WriteRoute>, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < writes.size(); ++i)
    groups[{writes[i].object, route_of(writes[i])}].push_back(i);
  for (const auto& [group, positions] : groups) {
    const char* object = salesforce_object(group.first);
    const WriteRoute route = group.second;
    for (std::size_t start = 0; start < positions.size(); start += kMaxRecordsPerCall) {
      std::size_t end = std::min(positions.size(), start + kMaxRecordsPerCall);
      if (route != WriteRoute::remove) {
        bool by_id = route == WriteRoute::update_by_id;
        std::string body = records_body(writes, positions, start, end, object, external_id, by_id);
        auto answer =
            by_id ? client_.request("PATCH", "composite/sobjects", body,
                                    fmt::format("update {} {} by Id", end - start, object),
                                    deadline, true)
                  : client_.request(
                        "PATCH", fmt::format("composite/sobjects/{}/{}", object, external_id), body,
                        fmt::format("upsert {} {} by {}", end - start, object, external_id),
                        deadline, true);
        if (!answer) return answer.error();
        auto parsed = parse_results(answer.value().body, end - start);
        if (!parsed) return parsed.error();
        for (std::size_t p = start; p < end; ++p) {
          CrmWriteResult result = std::move(parsed.value()[p - start]);
          if (by_id && !result.crm_id) result.crm_id = writes[positions[p]].crm_id;
          results[positions[p]] = std::move(result);
        }
        continue;
      }
      // Deletes: by id; ids not known are looked up by the external id first.
      std::vector<std::string> ids(end - start);
      std::map<std::string, std::size_t> unknown;  // prm id → slot
      for (std::size_t p = start; p < end; ++p) {
        const auto& write = writes[positions[p]];
        if (write.crm_id) {
          ids[p - start] = *write.crm_id;
        } else {
          unknown[write.prm_id] = p - start;
        }
      }
      if (!unknown.empty()) {
        std::string in;
        for (const auto& [prm_id, slot] : unknown) in += (in.empty() ? "" : ",") + soql_quote(prm_id);
        auto found = client_.request("GET",
                                     "query?q=" + http::percent_encode(fmt::format("SELECT Id, {} FROM {} WHERE {} IN ({})",
                                                                         external_id, object, external_id, in)),
                                     "", fmt::format("find {} {} to delete", unknown.size(), object), deadline, false);
        if (!found) return found.error();
        std::string what = fmt::format("find {} {} to delete", unknown.size(), object);
        rapidjson::Document json;
        json.Parse(found.value().body.c_str());
        auto records = query_records(json, what);
        if (!records) return records.error();
        for (const auto& record : records.value()->GetArray()) {
          auto prm_id = string_member(record, external_id.c_str());
          auto it = prm_id ? unknown.find(*prm_id) : unknown.end();
          if (it == unknown.end()) continue;  // not one of ours
          auto id = string_member(record, "Id");
          if (!id || id->empty()) {
            return SyncError{ErrorClass::transient,
                             fmt::format("Salesforce {}: a record with a {} has no Id string; nothing was deleted, "
                                         "send again later",
                                         what, external_id)};
          }
          ids[it->second] = std::move(*id);
        }
      }
      std::vector<std::size_t> to_delete;
      std::string id_list;
      for (std::size_t slot = 0; slot < ids.size(); ++slot) {
        if (ids[slot].empty()) continue;  // not in Salesforce (already deleted, or never synced): done
        to_delete.push_back(slot);
        id_list += (id_list.empty() ? "" : ",") + ids[slot];
      }
      if (to_delete.empty()) continue;
      auto answer = client_.request("DELETE", "composite/sobjects?allOrNone=false&ids=" + http::percent_encode(id_list, ","), "",
                                    fmt::format("delete {} {}", to_delete.size(), object), deadline, true);
      if (!answer) return answer.error();
      auto parsed = parse_results(answer.value().body, to_delete.size());
      if (!parsed) return parsed.error();
      for (std::size_t k = 0; k < to_delete.size(); ++k) {
        CrmWriteResult result = std::move(parsed.value()[k]);
        // Already deleted is what a delete wants.
        if (result.error && result.error->message.find("ENTITY_IS_DELETED") != std::string::npos) result.error.reset();
        results[positions[start + to_delete[k]]] = std::move(result);
      }
    }
  }
  return results;
}

mapping::Result<std::vector<CrmWriteResult>> SalesforceRecordSink::apply_shares(
    const std::vector<mapping::CrmShareWrite>& shares, http::Deadline deadline) {
  std::vector<CrmWriteResult> results(shares.size());
  std::vector<std::size_t> grants;
  for (std::size_t i = 0; i < shares.size(); ++i) {
    const auto& share = shares[i];
    bool account = share.object == mapping::ObjectKind::account;
    const char* share_object = account ? "AccountShare" : "OpportunityShare";
    const char* parent_field = account ? "AccountId" : "OpportunityId";
    if (share.grant) {
      grants.push_back(i);
      continue;
    }
    // A revocation deletes the Manual share row of that principal on that record.
    auto found = client_.request(
        "GET",
        "query?q=" + http::percent_encode(fmt::format("SELECT Id FROM {} WHERE {} = {} AND UserOrGroupId = {} AND RowCause = 'Manual'",
                                            share_object, parent_field, soql_quote(share.crm_record_id),
                                            soql_quote(share.principal_id))),
        "", fmt::format("find {} to revoke", share_object), deadline, false);
    if (!found) return found.error();
    std::string what = fmt::format("find {} to revoke", share_object);
    rapidjson::Document json;
    json.Parse(found.value().body.c_str());
    auto records = query_records(json, what);
    if (!records) return records.error();
    if (records.value()->Empty()) continue;  // nothing granted: revoked already
    auto share_id = string_member((*records.value())[0], "Id");
    if (!share_id || share_id->empty()) {
      return SyncError{ErrorClass::transient,
                       fmt::format("Salesforce {}: the share row has no Id string; nothing was revoked, send again later",
                                   what)};
    }
    const std::string& id = *share_id;
    auto removed = client_.request("DELETE", "composite/sobjects?allOrNone=false&ids=" + http::percent_encode(id), "",
                                   fmt::format("revoke {}", share_object), deadline, true);
    if (!removed) return removed.error();
    auto parsed = parse_results(removed.value().body, 1);
    if (!parsed) return parsed.error();
    results[i] = std::move(parsed.value()[0]);
  }
  for (std::size_t start = 0; start < grants.size(); start += kMaxRecordsPerCall) {
    std::size_t end = std::min(grants.size(), start + kMaxRecordsPerCall);
    rapidjson::StringBuffer buffer;
    JsonWriter out(buffer);
    out.StartObject();
    write_string(out, "allOrNone");
    out.Bool(false);
    write_string(out, "records");
    out.StartArray();
    for (std::size_t g = start; g < end; ++g) {
      const auto& share = shares[grants[g]];
      bool account = share.object == mapping::ObjectKind::account;
      std::string level = share.access == mapping::ShareGrant::Access::edit ? "Edit" : "Read";
      out.StartObject();
      write_string(out, "attributes");
      out.StartObject();
      write_string(out, "type");
      write_string(out, account ? "AccountShare" : "OpportunityShare");
      out.EndObject();
      write_string(out, account ? "AccountId" : "OpportunityId");
      write_string(out, share.crm_record_id);
      write_string(out, "UserOrGroupId");
      write_string(out, share.principal_id);
      write_string(out, account ? "AccountAccessLevel" : "OpportunityAccessLevel");
      write_string(out, level);
      if (account) {
        write_string(out, "OpportunityAccessLevel");
        write_string(out, "None");
      }
      out.EndObject();
    }
    out.EndArray();
    out.EndObject();
    auto answer = client_.request("POST", "composite/sobjects", buffer.GetString(),
                                  fmt::format("grant {} share(s)", end - start), deadline, true);
    if (!answer) return answer.error();
    auto parsed = parse_results(answer.value().body, end - start);
    if (!parsed) return parsed.error();
    for (std::size_t g = start; g < end; ++g) results[grants[g]] = std::move(parsed.value()[g - start]);
  }
  return results;
}

}  // namespace crmsync::connectors::salesforce
