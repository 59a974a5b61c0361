#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

}  // namespace crmsync::connectors::dynamics
