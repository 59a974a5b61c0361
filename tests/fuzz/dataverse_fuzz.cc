// libFuzzer target: how crmsync reads Dataverse's answers (connectors/dynamics and the daemon's
// DynamicsSideGateway): $batch multipart answers (parse_batch_response, the applier's per-record
// outcomes), error bodies and their classification, change-tracking pages (the capture's
// parse_changes_page), RetrieveSharedPrincipalsAndAccess, the share reader's batches and pages,
// the side gateway's reads, and the Entra ID token answer. The real classes run against a
// scripted transport (tests/fuzz/fuzz_support.h).
// Input: a first line naming the operation, then the scripted answers ("%%" lines between them;
// an answer starting with "HTTP/" carries its status and headers, e.g. the multipart boundary).
// Invariants: no exception escapes an API that returns a Result; a failed Result carries a
// message; a successful write call has one result per write; every captured event survives the
// canonical JSON codec the apply path reads it with.
#include <chrono>
#include <cstdint>

#include "connectors/dynamics/dataverse_applier.h"
#include "connectors/dynamics/dataverse_batch.h"
#include "connectors/dynamics/dataverse_capture.h"
#include "connectors/dynamics/dataverse_client.h"
#include "connectors/dynamics/dataverse_errors.h"
#include "connectors/dynamics/dataverse_odata.h"
#include "connectors/dynamics/dataverse_share_reader.h"
#include "connectors/dynamics/dataverse_shared_access.h"
#include "connectors/dynamics/dataverse_token_client.h"
#include "daemon/dynamics_side_gateway.h"
#include "mapping/event_json.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace crmsync;
using namespace crmsync::connectors;
using namespace crmsync::connectors::dynamics;
using mapping::CanonicalEvent;
using mapping::CrmRecordWrite;
using mapping::FieldValue;
using mapping::ObjectKind;

const std::vector<std::string_view> kModes = {"apply",   "shares", "principals", "sharing", "synced", "read",
                                              "find",    "scan",   "batch",      "error",   "changes", "delta",
                                              "token"};

const std::string kGuid1 = "00000000-0000-0000-0000-000000000001";
const std::string kGuid2 = "00000000-0000-0000-0000-00000000000a";

template <typename T>
void check(const mapping::Result<T>& result, std::string_view where) {
  if (!result) fuzz::check_error(result.error(), where);
}

CrmRecordWrite write_of(std::string prm_id, std::optional<std::string> crm_id,
                        CanonicalEvent::Operation op = CanonicalEvent::Operation::upsert) {
  CrmRecordWrite write;
  write.object = ObjectKind::deal;
  write.op = op;
  write.prm_id = std::move(prm_id);
  write.crm_id = std::move(crm_id);
  write.fields = {{"name", FieldValue::string_value("Acme")}, {"estimatedvalue", FieldValue::number_value("120000.00")}};
  return write;
}

void changes_page(std::string_view body, bool baseline) {
  auto page = parse_changes_page(ObjectKind::account, body, baseline, "pass-1", "GET accounts changes");
  check(page, "parse_changes_page");
  if (!page) return;
  for (const auto& row : page.value().rows) {
    CRMSYNC_FUZZ_CHECK(row.event.dynamics_id && !row.event.dynamics_id->empty(), "a captured row without its id");
    auto decoded = mapping::parse_event(mapping::to_json(row.event));
    if (!decoded) fuzz::invariant_failed("a captured event does not read back: " + decoded.error().message);
  }
}

void batch_answers(const std::deque<http::HttpResponse>& script) {
  for (const auto& response : script) {
    auto parts = parse_batch_response(response.header("content-type").value_or(""), response.body);
    check(parts, "parse_batch_response");
    if (!parts) continue;
    for (const auto& part : parts.value()) {
      if (auto error = batch_part_error(part, "fuzz part")) fuzz::check_error(*error, "batch_part_error");
      (void)change_set_of(part.content_id);
    }
  }
}

void error_answers(const std::deque<http::HttpResponse>& script) {
  for (const auto& response : script) {
    auto error = parse_dataverse_error(response.body);
    (void)is_expired_delta_token(response.status, error);
    auto verdict = classify_dataverse_response(response, "GET fuzz");
    if (verdict.kind != http::ResponseVerdict::Kind::success) fuzz::check_error(verdict.error, "classify_dataverse");
    (void)trailing_guid(response.body);
    (void)multipart_boundary_of(response.body);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto [mode, rest] = fuzz::split_mode(fuzz::as_text(data, size), kModes);
  std::string_view name = kModes[mode];
  if (name == "changes" || name == "delta") {
    changes_page(rest, name == "changes");
    return 0;
  }
  auto script = fuzz::parse_script(rest);
  if (name == "batch") {
    batch_answers(script);
    return 0;
  }
  if (name == "error") {
    error_answers(script);
    return 0;
  }

  fuzz::ScriptedTransport transport(std::move(script), name == "token");
  fuzz::FixedSecrets secrets;
  http::RetryingHttpClient http(transport,
                                mapping::RetryPolicy{std::chrono::milliseconds(1), std::chrono::milliseconds(2), 2.0, 0.0},
                                [] { return 0.5; }, [](std::chrono::milliseconds) { return true; }, fuzz::quiet_logger());
  DataverseSettings settings{"https://org.fuzz.example", "https://login.fuzz.example", "tenant", "app-id"};
  DataverseTokenClient tokens(settings, http, secrets, fuzz::quiet_logger());
  DataverseClient client(settings, http, tokens);
  DataverseApplier applier(client, DataverseApplySettings{2}, fuzz::quiet_logger());
  DataverseShareReader reader(client, 4, 100);
  daemon::DynamicsSideGateway gateway(client, applier, std::chrono::hours(1));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::hours(1);
  const std::vector<std::string> fields = {"name", "estimatedvalue", "_parentaccountid_value"};

  if (name == "apply" || name == "token") {
    std::vector<CrmRecordWrite> writes = {write_of("D-1", std::nullopt), write_of("D-2", kGuid1),
                                          write_of("D-3", kGuid2, CanonicalEvent::Operation::remove)};
    auto results = applier.apply(writes, deadline);
    check(results, "apply");
    if (results) CRMSYNC_FUZZ_CHECK(results.value().size() == writes.size(), "apply: one result per write");
  } else if (name == "shares") {
    std::vector<mapping::CrmShareWrite> writes = {
        {ObjectKind::account, kGuid1, "team:" + kGuid2, true, mapping::ShareGrant::Access::edit},
        {ObjectKind::account, kGuid1, "systemuser:" + kGuid1, false, mapping::ShareGrant::Access::read}};
    auto results = applier.apply_shares(writes, deadline);
    check(results, "apply_shares");
    if (results) CRMSYNC_FUZZ_CHECK(results.value().size() == writes.size(), "apply_shares: one status per share");
  } else if (name == "principals") {
    check(retrieve_shared_principals(client, ObjectKind::deal, kGuid1, deadline), "retrieve_shared_principals");
  } else if (name == "sharing") {
    check(reader.sharing_of(ObjectKind::account, {kGuid1, kGuid2}, deadline), "sharing_of");
  } else if (name == "synced") {
    check(reader.synced_record_ids(ObjectKind::deal, deadline), "synced_record_ids");
  } else if (name == "read") {
    check(gateway.read(ObjectKind::deal, {"D-1", "D-2"}, fields), "side gateway read");
  } else if (name == "find") {
    check(gateway.find_unmapped(ObjectKind::account, "name", {"Acme", "Globex"}, {"name"}), "find_unmapped");
  } else if (name == "scan") {
    auto scanned = gateway.scan(ObjectKind::account, {"name"}, "2026-01-01T00:00:00Z",
                                [](std::vector<daemon::SideRecordState>) { return mapping::ok_status(); });
    if (!scanned) fuzz::check_error(scanned.error(), "side gateway scan");
  }
  return 0;
}
