#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/dynamics/dataverse_client.h"
#include "mapping/sync_error.h"

namespace crmsync::connectors::dynamics {

// One request inside a $batch.
struct BatchOperation {
  std::string method;
  std::string url;  // absolute
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// A change set: its operations succeed or fail together.
using ChangeSet = std::vector<BatchOperation>;

// The multipart/mixed body of a $batch (crm-apis.md B.7): every change set becomes a nested
// multipart part; operation `j` of change set `i` carries Content-ID `content_id(i, j)`, so that
// answers map back to the change set that caused them.
std::string build_batch_body(const std::vector<ChangeSet>& change_sets, std::string_view boundary);
// The body of a $batch of independent requests (GETs, which a change set may not hold): each
// request is a top-level part of its own, without Content-ID; Dataverse answers them one part
// each, in request order (with `Prefer: odata.continue-on-error`, every one of them).
std::string build_request_batch_body(const std::vector<BatchOperation>& requests,
                                     std::string_view boundary);
// A fresh multipart boundary ("batch_<16 hex digits>").
std::string random_batch_boundary();
// The POST $batch carrying `body` (built with `boundary`), with `Prefer: odata.continue-on-error`
// so that one failed part does not stop the others.
DataverseRequest batch_request(const std::string& boundary, std::string body,
                               std::string description);
std::string content_id(std::size_t change_set, std::size_t operation);
// The change set a Content-ID names; nothing for an id we did not send.
std::optional<std::size_t> change_set_of(std::string_view content_id);

// One embedded answer of a $batch response.
struct BatchPartResponse {
  std::string content_id;  // empty when the part had none
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::optional<std::string> header(std::string_view name) const;
};

// Parses a $batch answer (multipart/mixed, change-set answers nested) into its parts, in order.
// `invalid` when the body is not such a document.
mapping::Result<std::vector<BatchPartResponse>> parse_batch_response(std::string_view content_type,
                                                                     std::string_view body);

// The boundary parameter of a multipart Content-Type (quoted or bare).
std::optional<std::string> multipart_boundary_of(std::string_view content_type);

// What one embedded answer means: nothing when it succeeded, otherwise its error classified by
// classify_dataverse (429 `rate_limited`, 5xx `transient`, 412 `conflict`, other 4xx `invalid`; a
// part's 401 becomes `auth`, since a part cannot re-authenticate). `what` names the request.
std::optional<mapping::SyncError> batch_part_error(const BatchPartResponse& part,
                                                   std::string_view what);

}  // namespace crmsync::connectors::dynamics
