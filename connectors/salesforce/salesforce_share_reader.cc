#include "connectors/salesforce/salesforce_share_reader.h"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <cctype>
#include <functional>
#include <optional>
#include <set>
#include <string_view>

#include "connectors/http/url_encoding.h"
#include "connectors/salesforce/salesforce_client.h"
#include "connectors/salesforce/salesforce_record_sink.h"

namespace crmsync::connectors::salesforce {

namespace {

using mapping::ErrorClass;
using mapping::SyncError;

// The share object of a synced object and its fields: AccountShare (AccountId,
// AccountAccessLevel), OpportunityShare (OpportunityId, OpportunityAccessLevel).
struct ShareObject {
  std::string name;
  std::string parent_field;
  std::string level_field;
};

ShareObject share_object(mapping::ObjectKind object) {
  std::string parent = salesforce_object(object);
  return {parent + "Share", parent + "Id", parent + "AccessLevel"};
}

// A non-empty string field of a row; nothing when it is missing, null, empty or not a string.
std::optional<std::string> string_field(const rapidjson::Value& row, const std::string& name) {
  auto it = row.FindMember(name.c_str());
  if (it == row.MemberEnd() || !it->value.IsString() || it->value.GetStringLength() == 0) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

// A Salesforce record id: 15 or 18 letters and digits.
bool is_salesforce_id(const std::string& id) {
  if (id.size() != 15 && id.size() != 18) return false;
  for (char c : id) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) return false;
  }
  return true;
}

// Where a row sits in an answer, for error messages.
struct RowPlace {
  std::size_t page = 0;
  std::size_t row = 0;
};

using RowVisitor = std::function<mapping::Status(const rapidjson::Value& row, RowPlace place)>;

// Runs a SOQL query and follows nextRecordsUrl until Salesforce says it is done, handing every
// row to `visit`. Every page is checked before its rows are used, and a page that cannot be read
// fails the whole read: a list that silently stopped early would look like revoked shares.
mapping::Status read_all_pages(SalesforceClient& client, const std::string& soql, const std::string& description,
                               http::Deadline deadline, const RowVisitor& visit) {
  std::string next = "query?q=" + http::percent_encode(soql);
  for (std::size_t page = 1; !next.empty(); ++page) {
    auto answer = client.request("GET", next, "", description, deadline, false);
    if (!answer) return answer.error();
    const std::string& body = answer.value().body;
    rapidjson::Document json;
    json.Parse(body.data(), body.size());
    auto unreadable = [&](std::string_view what) {
      return SyncError{ErrorClass::transient,
                       fmt::format("Salesforce {}: page {} of the query answer {} (a truncated answer, or one from "
                                   "a proxy?); nothing of this read is used, read again later",
                                   description, page, what)};
    };
    if (json.HasParseError() || !json.IsObject()) return unreadable("is not a JSON object");
    auto records = json.FindMember("records");
    if (records == json.MemberEnd() || !records->value.IsArray()) return unreadable("has no records array");
    auto done = json.FindMember("done");
    if (done == json.MemberEnd() || !done->value.IsBool()) return unreadable("has no boolean done");
    std::size_t index = 0;
    for (const auto& row : records->value.GetArray()) {
      ++index;
      if (!row.IsObject()) {
        return SyncError{ErrorClass::invalid, fmt::format("Salesforce {}: page {} row {} is not a JSON object",
                                                          description, page, index)};
      }
      if (auto visited = visit(row, {page, index}); !visited) return visited.error();
    }
    if (done->value.GetBool()) break;
    auto more = json.FindMember("nextRecordsUrl");
    if (more == json.MemberEnd() || !more->value.IsString()) {
      return unreadable("says it is not done but has no nextRecordsUrl");
    }
    std::string url(more->value.GetString(), more->value.GetStringLength());
    // The next page is read with crmsync's session: only from the REST API of the same org.
    if (!url.starts_with("/services/data/") || url == next) {
      return SyncError{ErrorClass::invalid,
                       fmt::format("Salesforce {}: page {} points to a next page that is not a new /services/data/ "
                                   "path (\"{}\"); not followed",
                                   description, page, url)};
    }
    next = std::move(url);
  }
  return mapping::ok_status();
}

// The ids, each once and in the order given, in chunks of at most `per_chunk`; an error naming
// the first id that is not a Salesforce id (a malformed id would fail the whole query anyway).
mapping::Result<std::vector<std::vector<std::string>>> id_chunks(const std::vector<std::string>& ids,
                                                                 std::size_t per_chunk, const std::string& what) {
  std::vector<std::vector<std::string>> chunks;
  std::set<std::string> seen;
  for (const auto& id : ids) {
    if (!is_salesforce_id(id)) {
      return SyncError{ErrorClass::invalid,
                       fmt::format("{}: \"{}\" is not a Salesforce record id (15 or 18 letters and digits); "
                                   "check the id mapping that produced it",
                                   what, id)};
    }
    if (!seen.insert(id).second) continue;
    if (chunks.empty() || chunks.back().size() >= per_chunk) chunks.emplace_back();
    chunks.back().push_back(id);
  }
  return chunks;
}

std::string soql_id_list(const std::vector<std::string>& ids) {
  std::string list;
  for (const auto& id : ids) list += (list.empty() ? "" : ", ") + soql_quote(id);
  return list;
}

mapping::Status read_shares(SalesforceClient& client, mapping::ObjectKind object, const std::string& condition,
                            const std::string& description, http::Deadline deadline,
                            std::vector<mapping::CrmShare>& shares) {
  const ShareObject share = share_object(object);
  std::string soql = fmt::format("SELECT Id, {}, UserOrGroupId, {} FROM {} WHERE RowCause = 'Manual'{}",
                                 share.parent_field, share.level_field, share.name, condition);
  return read_all_pages(client, soql, description, deadline, [&](const rapidjson::Value& row, RowPlace place) -> mapping::Status {
    std::string id = string_field(row, "Id").value_or("(no Id)");
    auto missing = [&](const std::string& field) {
      return SyncError{ErrorClass::invalid,
                       fmt::format("Salesforce {}: {} {} (page {} row {}) has no {} string; the answer does not match "
                                   "the query: check that crmsync's integration user can read {}.{}",
                                   description, share.name, id, place.page, place.row, field, share.name, field)};
    };
    auto parent = string_field(row, share.parent_field);
    if (!parent) return missing(share.parent_field);
    auto principal = string_field(row, "UserOrGroupId");
    if (!principal) return missing("UserOrGroupId");
    auto level = string_field(row, share.level_field);
    if (!level) return missing(share.level_field);
    mapping::CrmShare read;
    read.object = object;
    read.crm_record_id = std::move(*parent);
    read.principal_id = std::move(*principal);
    if (*level == "Read") {
      read.access = mapping::ShareGrant::Access::read;
    } else if (*level == "Edit" || *level == "All") {
      read.access = mapping::ShareGrant::Access::edit;
    } else {
      return SyncError{ErrorClass::invalid,
                       fmt::format("Salesforce {}: {} {} has {} \"{}\", none of Read, Edit, All", description,
                                   share.name, id, share.level_field, *level)};
    }
    shares.push_back(std::move(read));
    return mapping::ok_status();
  });
}

mapping::Status read_owners(SalesforceClient& client, mapping::ObjectKind object, const std::string& condition,
                            const std::string& description, http::Deadline deadline, std::vector<RecordOwner>& owners) {
  const char* sobject = salesforce_object(object);
  std::string soql = fmt::format("SELECT Id, OwnerId FROM {} WHERE {}", sobject, condition);
  return read_all_pages(client, soql, description, deadline, [&](const rapidjson::Value& row, RowPlace place) -> mapping::Status {
    auto id = string_field(row, "Id");
    auto owner = string_field(row, "OwnerId");
    if (!id || !owner) {
      return SyncError{ErrorClass::invalid,
                       fmt::format("Salesforce {}: {} {} (page {} row {}) has no {} string; the answer does not match "
                                   "the query: check that crmsync's integration user can read {}.{}",
                                   description, sobject, id.value_or("(no Id)"), place.page, place.row,
                                   id ? "OwnerId" : "Id", sobject, id ? "OwnerId" : "Id")};
    }
    owners.push_back({std::move(*id), std::move(*owner)});
    return mapping::ok_status();
  });
}

}  // namespace

SalesforceShareReader::SalesforceShareReader(SalesforceClient& client) : client_(client) {}

mapping::Result<std::vector<mapping::CrmShare>> SalesforceShareReader::manual_shares(mapping::ObjectKind object,
                                                                                    http::Deadline deadline) {
  std::vector<mapping::CrmShare> shares;
  std::string description = fmt::format("read Manual {} rows", share_object(object).name);
  if (auto read = read_shares(client_, object, "", description, deadline, shares); !read) return read.error();
  return shares;
}

mapping::Result<std::vector<mapping::CrmShare>> SalesforceShareReader::manual_shares_of(
    mapping::ObjectKind object, const std::vector<std::string>& crm_record_ids, http::Deadline deadline) {
  const ShareObject share = share_object(object);
  auto chunks = id_chunks(crm_record_ids, kIdsPerQuery, fmt::format("read Manual {} rows of records", share.name));
  if (!chunks) return chunks.error();
  std::vector<mapping::CrmShare> shares;
  for (const auto& chunk : chunks.value()) {
    std::string description = fmt::format("read Manual {} rows of {} record(s)", share.name, chunk.size());
    std::string condition = fmt::format(" AND {} IN ({})", share.parent_field, soql_id_list(chunk));
    if (auto read = read_shares(client_, object, condition, description, deadline, shares); !read) return read.error();
  }
  return shares;
}

mapping::Result<std::vector<RecordOwner>> SalesforceShareReader::owners(mapping::ObjectKind object,
                                                                       http::Deadline deadline) {
  std::vector<RecordOwner> owners;
  const std::string& external_id = client_.settings().external_id_field;
  std::string description = fmt::format("read owners of {} records with a {}", salesforce_object(object), external_id);
  if (auto read = read_owners(client_, object, external_id + " != null", description, deadline, owners); !read) {
    return read.error();
  }
  return owners;
}

mapping::Result<std::vector<RecordOwner>> SalesforceShareReader::owners_of(mapping::ObjectKind object,
                                                                          const std::vector<std::string>& crm_record_ids,
                                                                          http::Deadline deadline) {
  const char* sobject = salesforce_object(object);
  auto chunks = id_chunks(crm_record_ids, kIdsPerQuery, fmt::format("read owners of {} records", sobject));
  if (!chunks) return chunks.error();
  std::vector<RecordOwner> owners;
  for (const auto& chunk : chunks.value()) {
    std::string description = fmt::format("read owners of {} {} record(s)", chunk.size(), sobject);
    if (auto read = read_owners(client_, object, fmt::format("Id IN ({})", soql_id_list(chunk)), description, deadline,
                                owners);
        !read) {
      return read.error();
    }
  }
  return owners;
}

}  // namespace crmsync::connectors::salesforce
