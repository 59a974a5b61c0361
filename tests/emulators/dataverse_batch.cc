// Dataverse $batch: multipart/mixed requests, atomic change sets with Content-ID references,
// stop-on-first-error or odata.continue-on-error, at most 1000 requests.

#include <fmt/format.h>

#include "tests/emulators/dataverse_api.h"
#include "tests/emulators/dataverse_responses.h"
#include "tests/emulators/multipart.h"

namespace crmsync::emulators {

namespace {

// The entity set (or action) a change-set request writes: "accounts" for
// ".../api/data/v9.2/accounts(crmsync_prmid='x')", "GrantAccess" for ".../GrantAccess"; "" when
// the target is something else (a content-id reference, another path).
std::string written_entity_set(const std::string& url) {
  std::string path = url.substr(0, url.find('?'));
  std::string rest;
  if (auto data = path.find("/api/data/"); data != std::string::npos) {
    auto version_end = path.find('/', data + 10);
    if (version_end == std::string::npos) return "";
    rest = path.substr(version_end + 1);
  } else if (path.find("://") == std::string::npos && !path.starts_with('$')) {
    rest = path.starts_with('/') ? path.substr(1) : path;  // relative to the service root
  } else {
    return "";
  }
  auto end = rest.find_first_of("(/");
  return end == std::string::npos ? rest : rest.substr(0, end);
}


constexpr std::size_t kMaxRequests = 1000;

std::string part_for(const HttpResponse& response, const std::string& content_id) {
  std::string out = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n";
  if (!content_id.empty()) out += "Content-ID: " + content_id + "\r\n";
  out += "\r\n";
  std::vector<std::pair<std::string, std::string>> headers = response.headers;
  out += format_embedded_response(response.status, headers, response.body);
  return out + "\r\n";
}

}  // namespace

HttpResponse DataverseApi::batch(const DataverseCall& call) {
  auto boundary = multipart_boundary(call.header("Content-Type"));
  if (!boundary)
    return dataverse_error(
        400, "0x0", "The $batch request must have a multipart/mixed Content-Type with a boundary.");
  auto parts = parse_multipart(call.body, *boundary);
  if (!parts)
    return dataverse_error(400, "0x0",
                           "The $batch request body is not valid multipart/mixed content.");
  // Count every request, change-set members included.
  std::size_t total = 0;
  for (const auto& part : *parts) {
    auto inner = multipart_boundary(part.header("Content-Type"));
    if (inner) {
      auto members = parse_multipart(part.body, *inner);
      if (!members)
        return dataverse_error(
            400, "0x0", "A change set in the $batch request is not valid multipart/mixed content.");
      total += members->size();
    } else {
      ++total;
    }
  }
  if (total > kMaxRequests) {
    return dataverse_error(
        400, "0x0",
        fmt::format("The number of requests in the batch ({}) exceeds the limit of {}.", total,
                    kMaxRequests));
  }
  bool continue_on_error =
      call.header("Prefer").find("odata.continue-on-error") != std::string::npos;
  std::string batch_id = "batchresponse_" + new_guid();
  in_batch_ = true;
  batch_writes_ = 0;

  // One embedded request through the normal dispatcher, below the same API base.
  auto run = [&](const EmbeddedRequest& embedded,
                 const std::map<std::string, std::string>* content_ids) -> HttpResponse {
    std::string url = embedded.url;
    if (!url.empty() && url.front() == '$' && content_ids != nullptr) {
      auto end = url.find_first_of("/?");
      auto it = content_ids->find(url.substr(0, end));
      if (it == content_ids->end()) {
        return dataverse_error(400, "0x0",
                               "Content-ID Reference: '" + url.substr(0, end) +
                                   "' does not exist in the batch context.");
      }
      url = it->second + (end == std::string::npos ? "" : url.substr(end));
    }
    auto api = url.find("/api/data/v9.");
    if (api != std::string::npos) {
      auto slash = url.find('/', api + 11);
      url = slash == std::string::npos ? "" : url.substr(slash + 1);
    }
    while (!url.empty() && url.front() == '/') url.erase(url.begin());
    DataverseCall sub;
    sub.method = embedded.method;
    auto q = url.find('?');
    sub.path = url_decode_path(url.substr(0, q));
    sub.raw_query = q == std::string::npos ? "" : url.substr(q + 1);
    sub.query = parse_query_string(sub.raw_query);
    sub.headers = embedded.headers;
    sub.body = embedded.body;
    sub.api_base = call.api_base;
    sub.content_ids = content_ids;
    if (sub.path == "$batch")
      return dataverse_error(400, "0x0", "Nested $batch requests are not supported.");
    if (batch_faults_ != nullptr) {
      // Part faults match the path as a whole request would have it: /api/data/v9.2/<path>.
      auto at = call.api_base.find("/api/data/");
      std::string base = at == std::string::npos ? "/" : call.api_base.substr(at);
      if (auto fault = batch_faults_->match(sub.method, base + sub.path, true)) {
        return fault_response(fault->status, fault->error_code, fault->message,
                              fault->retry_after_seconds);
      }
    }
    return dispatch(sub);
  };

  std::string body;
  int failed_status = 0;
  std::string failed_part;
  for (const auto& part : *parts) {
    auto inner = multipart_boundary(part.header("Content-Type"));
    if (!inner) {
      auto embedded = parse_embedded_request(part.body);
      HttpResponse response =
          embedded ? run(*embedded, nullptr)
                   : dataverse_error(400, "0x0", "A $batch part is not a valid HTTP request.");
      std::string rendered =
          "--" + batch_id + "\r\n" + part_for(response, part.header("Content-ID"));
      if (response.status >= 400 && !continue_on_error) {
        failed_status = response.status;
        failed_part = rendered;
        break;
      }
      body += rendered;
      continue;
    }
    // A change set: all or nothing.
    auto members = parse_multipart(part.body, *inner);
    // What to roll back to: only the tables the change set's requests write (copying the whole
    // store per change set made a bulk load quadratic), the share table for sharing actions, and
    // everything when a request's target is not recognised.
    // A change set of one request needs none: a request that fails changes nothing (handlers
    // validate before they write), and that is the shape crmsync's applier sends, one record per
    // change set, thousands per bulk load.
    std::map<std::string, ObjectTable> saved_tables;
    std::optional<RecordStore> saved_store;
    std::optional<decltype(shares_)> saved_shares;
    std::optional<decltype(team_members_)> saved_members;
    const std::vector<MultipartPart> no_parts;
    for (const auto& member : members->size() > 1 ? *members : no_parts) {
      auto embedded = parse_embedded_request(member.body);
      std::string set = embedded ? written_entity_set(embedded->url) : "";
      if (set == "GrantAccess" || set == "ModifyAccess" || set == "RevokeAccess") {
        if (!saved_shares) saved_shares = shares_;
      } else if (ObjectTable* table = set.empty() ? nullptr : store_.table_by_entity_set(set);
                 table != nullptr && set != "teams" && set != "systemusers") {
        saved_tables.try_emplace(set, *table);
      } else {
        saved_store = store_;
        saved_shares = shares_;
        saved_members = team_members_;
        break;
      }
    }
    std::size_t saved_writes = batch_writes_;
    std::map<std::string, std::string> content_ids;
    std::string changeset_id = "changesetresponse_" + new_guid();
    std::string rendered;
    std::optional<std::pair<HttpResponse, std::string>> failure;
    for (const auto& member : *members) {
      std::string content_id = member.header("Content-ID");
      auto embedded = parse_embedded_request(member.body);
      HttpResponse response;
      if (!embedded) {
        response = dataverse_error(400, "0x0", "A change set part is not a valid HTTP request.");
      } else if (embedded->method == "GET") {
        response = dataverse_error(400, "0x0", "GET requests are not allowed inside a change set.");
      } else {
        response = run(*embedded, &content_ids);
      }
      if (response.status >= 400) {
        failure.emplace(response, content_id);
        break;
      }
      std::string entity_id = response.header("OData-EntityId");
      if (!content_id.empty() && !entity_id.empty()) content_ids["$" + content_id] = entity_id;
      rendered += "--" + changeset_id + "\r\n" + part_for(response, content_id);
    }
    if (failure) {
      if (saved_store) {
        store_ = std::move(*saved_store);
      } else {
        for (auto& [set, table] : saved_tables) *store_.table_by_entity_set(set) = std::move(table);
      }
      if (saved_shares) shares_ = std::move(*saved_shares);
      if (saved_members) team_members_ = std::move(*saved_members);
      batch_writes_ = saved_writes;
      std::string error_part = "--" + batch_id + "\r\n" + part_for(failure->first, failure->second);
      if (!continue_on_error) {
        failed_status = failure->first.status;
        failed_part = error_part;
        break;
      }
      body += error_part;
      continue;
    }
    body += "--" + batch_id + "\r\nContent-Type: multipart/mixed; boundary=" + changeset_id +
            "\r\n\r\n" + rendered + "--" + changeset_id + "--\r\n";
  }
  in_batch_ = false;
  if (batch_writes_ > 0) stats_.count_write(batch_writes_);
  HttpResponse response;
  if (failed_status != 0) {
    response.status = failed_status;
    response.body = failed_part + "--" + batch_id + "--\r\n";
  } else {
    response.status = 200;
    response.body = body + "--" + batch_id + "--\r\n";
  }
  response.set_header("OData-Version", "4.0");
  response.set_header("Content-Type", "multipart/mixed; boundary=" + batch_id);
  return response;
}

}  // namespace crmsync::emulators
