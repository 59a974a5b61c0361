#include "connectors/dynamics/dataverse_share_reader.h"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "connectors/dynamics/dataverse_applier.h"
#include "connectors/dynamics/dataverse_batch.h"
#include "connectors/dynamics/dataverse_odata.h"
#include "connectors/dynamics/dataverse_shared_access.h"

namespace crmsync::connectors::dynamics {

namespace {

using mapping::ErrorClass;
using mapping::SyncError;

constexpr std::size_t kMaxBatch = 1000;  // Dataverse: requests per $batch
constexpr int kMaxRounds = 5;            // per record, for part answers that can be retried
// Ids per owner query: ~60 characters each keeps the URL near 6 KB, far below the 64 KB a $batch
// part may carry (crm-apis.md B.7).
constexpr std::size_t kIdsPerOwnerQuery = 100;
constexpr const char* kOwnerAnnotation = "_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname";
constexpr const char* kPreferLookupNames =
    R"(odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname")";

// The most records one $batch can serve: one shared-principal read each plus one owner query per
// kIdsPerOwnerQuery of them.
std::size_t records_per_batch(std::size_t batch_size) {
  std::size_t records = batch_size - 1;
  while (records > 1 &&
         records + (records + kIdsPerOwnerQuery - 1) / kIdsPerOwnerQuery > batch_size)
    --records;
  return records;
}

// `accounts?$select=accountid,_ownerid_value&$filter=accountid eq <id> or …`, relative to the API
// base. The ids are GUIDs (checked before), so only the spaces need encoding.
std::string owner_query(const EntitySet& set, const std::vector<std::string>& ids) {
  std::string filter;
  for (const auto& id : ids)
    filter += fmt::format("{}{}%20eq%20{}", filter.empty() ? "" : "%20or%20", set.primary_key, id);
  return fmt::format("{}?$select={},_ownerid_value&$filter={}", set.set_name, set.primary_key,
                     filter);
}

// One page of an owner query: the owner of every row into `owners` (lower-cased id -> principal),
// the next page's link into `next` (empty on the last page).
mapping::Status read_owner_page(std::string_view body, const EntitySet& set, std::string_view what,
                                std::map<std::string, std::string>& owners, std::string& next) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return malformed_answer(what, "the body is not JSON");
  auto rows = doc.FindMember("value");
  if (rows == doc.MemberEnd() || !rows->value.IsArray())
    return malformed_answer(what, "no value array");
  for (const auto& row : rows->value.GetArray()) {
    if (!row.IsObject()) return malformed_answer(what, "a row is not an object");
    std::string id = string_member(row, set.primary_key.c_str());
    std::string owner = string_member(row, "_ownerid_value");
    std::string kind = string_member(row, kOwnerAnnotation);
    if (id.empty()) return malformed_answer(what, fmt::format("a row has no {}", set.primary_key));
    if (owner.empty())
      return malformed_answer(what, fmt::format("row {} has no _ownerid_value", id));
    if (kind != "team" && kind != "systemuser") {
      return malformed_answer(
          what, fmt::format("row {}: the owner's lookuplogicalname is \"{}\", expected "
                            "team or systemuser",
                            id, kind));
    }
    owners[canonical_guid(id)] = principal_string({kind, owner});
  }
  next = string_member(doc, "@odata.nextLink");
  return mapping::ok_status();
}

// The shares of one RetrieveSharedPrincipalsAndAccess answer, sorted by principal.
mapping::Result<std::vector<mapping::CrmShare>> shares_of(mapping::ObjectKind object,
                                                          const std::string& crm_record_id,
                                                          std::string_view body,
                                                          std::string_view what) {
  auto principals = parse_shared_principals(body, what);
  if (!principals) return principals.error();
  std::vector<mapping::CrmShare> shares;
  for (const auto& shared : principals.value()) {
    auto access = share_access_of(shared.access_mask);
    if (!access) continue;  // append/assign-only rights: no read or edit share
    shares.push_back({object, crm_record_id, principal_string(shared.principal), *access});
  }
  std::sort(shares.begin(), shares.end(),
            [](const auto& a, const auto& b) { return a.principal_id < b.principal_id; });
  return shares;
}

}  // namespace

struct DataverseShareReader::RecordRead {
  std::string id;   // as asked
  std::string key;  // lower-cased, to match answers
  std::optional<std::string> owner;
  std::optional<std::vector<mapping::CrmShare>> shares;
  bool gone = false;
  int rounds = 0;
  bool done() const { return gone || (owner && shares); }
};

DataverseShareReader::DataverseShareReader(DataverseClient& client, std::size_t batch_size,
                                           std::size_t page_size)
    : client_(client), page_size_(page_size) {
  if (batch_size < 2 || batch_size > kMaxBatch) {
    throw std::invalid_argument(fmt::format(
        "dataverse share reader: batch_size: expected 2..{} requests per $batch, got {}", kMaxBatch,
        batch_size));
  }
  if (page_size_ == 0 || page_size_ > kMaxPageSize) {
    throw std::invalid_argument(
        fmt::format("dataverse share reader: page_size: expected 1..{} rows, got {}", kMaxPageSize,
                    page_size_));
  }
  records_per_batch_ = records_per_batch(batch_size);
}

mapping::Result<std::vector<DataverseRecordSharing>> DataverseShareReader::sharing_of(
    mapping::ObjectKind object, const std::vector<std::string>& crm_record_ids,
    http::Deadline deadline) {
  const EntitySet& set = entity_set_for(object);
  std::vector<RecordRead> records;
  std::set<std::string> seen;
  for (const auto& id : crm_record_ids) {
    if (!is_guid(id)) {
      return SyncError{ErrorClass::invalid,
                       fmt::format("dataverse: sharing of {}: record id \"{}\" is not a GUID "
                                   "(expected the Dataverse {})",
                                   set.set_name, id, set.primary_key)};
    }
    RecordRead record;
    record.id = id;
    record.key = canonical_guid(id);
    if (seen.insert(record.key).second) records.push_back(std::move(record));
  }

  std::optional<SyncError> last_retryable;
  while (true) {
    std::vector<std::size_t> pending;
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (records[i].done()) continue;
      if (records[i].rounds >= kMaxRounds || std::chrono::steady_clock::now() >= deadline) {
        SyncError error = last_retryable.value_or(
            SyncError{ErrorClass::transient, fmt::format("dataverse: sharing of {}: the deadline "
                                                         "passed before every record was read",
                                                         set.set_name)});
        error.message += fmt::format(
            " (record {} still unanswered after {} attempt(s); the sharing sweep should run "
            "again later)",
            records[i].id, records[i].rounds);
        return error;
      }
      pending.push_back(i);
    }
    if (pending.empty()) break;
    for (std::size_t start = 0; start < pending.size(); start += records_per_batch_) {
      std::size_t end = std::min(pending.size(), start + records_per_batch_);
      std::vector<std::size_t> chunk(pending.begin() + static_cast<std::ptrdiff_t>(start),
                                     pending.begin() + static_cast<std::ptrdiff_t>(end));
      if (auto read = read_chunk(object, records, chunk, deadline, last_retryable); !read)
        return read.error();
    }
  }

  std::vector<DataverseRecordSharing> out;
  for (auto& record : records) {
    if (record.gone) continue;
    out.push_back({record.id, std::move(*record.owner), std::move(*record.shares)});
  }
  return out;
}

mapping::Status DataverseShareReader::read_chunk(mapping::ObjectKind object,
                                                 std::vector<RecordRead>& records,
                                                 const std::vector<std::size_t>& chunk,
                                                 http::Deadline deadline,
                                                 std::optional<SyncError>& last_retryable) {
  const EntitySet& set = entity_set_for(object);
  std::vector<BatchOperation> requests;
  // What each request asks: the records of an owner query, or the one record of a share read.
  struct Asked {
    bool owners = false;
    std::vector<std::size_t> records;
  };
  std::vector<Asked> asked;
  std::vector<std::size_t> need_owner;
  for (std::size_t i : chunk) {
    if (!records[i].owner) need_owner.push_back(i);
  }
  for (std::size_t start = 0; start < need_owner.size(); start += kIdsPerOwnerQuery) {
    std::size_t end = std::min(need_owner.size(), start + kIdsPerOwnerQuery);
    Asked query{true, {}};
    std::vector<std::string> ids;
    for (std::size_t k = start; k < end; ++k) {
      query.records.push_back(need_owner[k]);
      ids.push_back(records[need_owner[k]].id);
    }
    requests.push_back(
        {"GET", client_.api_base() + owner_query(set, ids), {{"Prefer", kPreferLookupNames}}, ""});
    asked.push_back(std::move(query));
  }
  for (std::size_t i : chunk) {
    if (records[i].shares) continue;
    requests.push_back(
        {"GET", client_.api_base() + shared_principals_target(object, records[i].id), {}, ""});
    asked.push_back({false, {i}});
  }
  for (std::size_t i : chunk) ++records[i].rounds;

  std::string boundary = random_batch_boundary();
  DataverseRequest request =
      batch_request(boundary, build_request_batch_body(requests, boundary),
                    fmt::format("POST $batch (sharing of {} {}, {} requests)", chunk.size(),
                                set.set_name, requests.size()));
  ++calls_sent_;
  auto answer = client_.send(request, deadline);
  if (!answer) return answer.error();
  auto parts =
      parse_batch_response(answer.value().header("content-type").value_or(""), answer.value().body);
  if (!parts) return parts.error();
  if (parts.value().size() != requests.size()) {
    return malformed_answer(
        request.description,
        fmt::format("{} answer parts for {} requests", parts.value().size(), requests.size()));
  }

  for (std::size_t p = 0; p < requests.size(); ++p) {
    const BatchPartResponse& part = parts.value()[p];
    const Asked& what_was_asked = asked[p];
    if (what_was_asked.owners) {
      std::string what =
          fmt::format("GET {} owners ({} records)", set.set_name, what_was_asked.records.size());
      if (auto error = batch_part_error(part, what)) {
        if (!mapping::is_retryable(error->error_class)) return *error;
        last_retryable = std::move(error);
        continue;
      }
      std::map<std::string, std::string> owners;
      std::string next;
      if (auto read = read_owner_page(part.body, set, what, owners, next); !read) return read;
      while (!next.empty()) {  // only when the org caps pages below the number of ids asked
        DataverseRequest page;
        page.target = next;
        page.headers = {{"Prefer", kPreferLookupNames}};
        page.description = what + " next page";
        ++calls_sent_;
        auto more = client_.send(page, deadline);
        if (!more) return more.error();
        std::string following;
        if (auto read =
                read_owner_page(more.value().body, set, page.description, owners, following);
            !read)
          return read;
        if (following == next)
          return malformed_answer(page.description, "the next page links to itself");
        next = std::move(following);
      }
      for (std::size_t i : what_was_asked.records) {
        auto found = owners.find(records[i].key);
        if (found == owners.end()) {
          records[i].gone = true;  // deleted (or never there): not part of the answer
        } else {
          records[i].owner = found->second;
        }
      }
      continue;
    }
    RecordRead& record = records[what_was_asked.records.front()];
    std::string what =
        fmt::format("GET RetrieveSharedPrincipalsAndAccess {} id={}", set.set_name, record.id);
    if (part.status == 404) {  // 0x80040217 "… Does Not Exist": deleted since it was synced
      record.gone = true;
      continue;
    }
    if (auto error = batch_part_error(part, what)) {
      if (!mapping::is_retryable(error->error_class)) return *error;
      last_retryable = std::move(error);
      continue;
    }
    auto shares = shares_of(object, record.id, part.body, what);
    if (!shares) return shares.error();
    record.shares = std::move(shares).value();
  }
  return mapping::ok_status();
}

mapping::Result<std::vector<std::string>> DataverseShareReader::synced_record_ids(
    mapping::ObjectKind object, http::Deadline deadline) {
  const EntitySet& set = entity_set_for(object);
  std::vector<std::string> ids;
  std::string next =
      fmt::format("{}?$select={}&$filter={}%20ne%20null", set.set_name, set.primary_key, kPrmIdKey);
  std::size_t pages = 0;
  while (!next.empty()) {
    DataverseRequest request;
    request.target = next;
    request.headers = {{"Prefer", fmt::format("odata.maxpagesize={}", page_size_)}};
    request.description = fmt::format("GET {} with a PRM id (page {})", set.set_name, ++pages);
    ++calls_sent_;
    auto answer = client_.send(request, deadline);
    if (!answer) return answer.error();
    rapidjson::Document doc;
    doc.Parse(answer.value().body.c_str());
    if (doc.HasParseError() || !doc.IsObject())
      return malformed_answer(request.description, "the body is not JSON");
    auto rows = doc.FindMember("value");
    if (rows == doc.MemberEnd() || !rows->value.IsArray())
      return malformed_answer(request.description, "no value array");
    for (const auto& row : rows->value.GetArray()) {
      std::string id = row.IsObject() ? string_member(row, set.primary_key.c_str()) : "";
      if (id.empty())
        return malformed_answer(request.description,
                                fmt::format("a row has no {}", set.primary_key));
      ids.push_back(std::move(id));
    }
    std::string following = string_member(doc, "@odata.nextLink");
    if (!following.empty() && following == next)
      return malformed_answer(request.description, "the next page links to itself");
    next = std::move(following);
  }
  return ids;
}

}  // namespace crmsync::connectors::dynamics
