// libFuzzer target: how crmsync reads Salesforce's answers (connectors/salesforce and the daemon's
// SalesforceSideGateway): sObject Collections results, SOQL query pages (share reader, side
// gateway reads and scans, the lookups before deletes and revocations), the capture's queryAll
// page, the OAuth token answer, error bodies, Sforce-Limit-Info, Retry-After and date-times.
// The real classes run against a scripted transport (tests/fuzz/fuzz_support.h).
// Input: a first line naming the operation, then the scripted answers ("%%" lines between them).
// Invariants: no exception escapes an API that returns a Result; a failed Result carries a
// message; a successful write call has one result per write; every captured event survives the
// canonical JSON codec the apply path reads it with.
#include <chrono>
#include <cstdint>

#include "connectors/http/retrying_client.h"
#include "connectors/salesforce/salesforce_capture.h"
#include "connectors/salesforce/salesforce_client.h"
#include "connectors/salesforce/salesforce_errors.h"
#include "connectors/salesforce/salesforce_record_sink.h"
#include "connectors/salesforce/salesforce_share_reader.h"
#include "daemon/salesforce_side_gateway.h"
#include "mapping/event_json.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace crmsync;
using namespace crmsync::connectors;
using mapping::CanonicalEvent;
using mapping::CrmRecordWrite;
using mapping::CrmShareWrite;
using mapping::FieldValue;
using mapping::ObjectKind;

const std::vector<std::string_view> kModes = {"upsert", "update", "delete", "grant", "revoke", "shares", "owners",
                                              "read",   "find",   "scan",   "capture", "token", "answer"};

template <typename T>
void check(const mapping::Result<T>& result, std::string_view where) {
  if (!result) fuzz::check_error(result.error(), where);
}

void check_writes(const mapping::Result<std::vector<mapping::CrmWriteResult>>& results, std::size_t expected,
                  std::string_view where) {
  check(results, where);
  if (results) CRMSYNC_FUZZ_CHECK(results.value().size() == expected, std::string(where) + ": one result per write");
}

CrmRecordWrite write_of(ObjectKind object, std::string prm_id, std::optional<std::string> crm_id,
                        CanonicalEvent::Operation op = CanonicalEvent::Operation::upsert) {
  CrmRecordWrite write;
  write.object = object;
  write.op = op;
  write.prm_id = std::move(prm_id);
  write.crm_id = std::move(crm_id);
  write.fields = {{"Name", FieldValue::string_value("Acme")}, {"Amount", FieldValue::number_value("120000.00")}};
  return write;
}

void capture_page(std::string_view body) {
  salesforce::SalesforceCapturedObject deals{ObjectKind::deal, {"Name", "Amount", "StageName", "OwnerId", "PRM_Id__c"}};
  auto page = salesforce::parse_capture_page(body, deals, "fuzz.my.salesforce.com");
  check(page, "parse_capture_page");
  if (!page) return;
  for (const auto& row : page.value().rows) {
    CRMSYNC_FUZZ_CHECK(row.event.salesforce_id == row.id, "a captured row's event names its Id");
    auto decoded = mapping::parse_event(mapping::to_json(row.event));
    if (!decoded) fuzz::invariant_failed("a captured event does not read back: " + decoded.error().message);
  }
}

void answers(const std::deque<http::HttpResponse>& script) {
  for (const auto& response : script) {
    auto verdict = salesforce::classify_salesforce_response(response);
    if (verdict.kind != http::ResponseVerdict::Kind::success) fuzz::check_error(verdict.error, "classify");
    CRMSYNC_FUZZ_CHECK(!salesforce::salesforce_error_text(response.body).empty(), "an empty error text");
    for (const std::string& text : {response.body, response.header("sforce-limit-info").value_or("")}) {
      if (auto usage = salesforce::parse_limit_info(text)) CRMSYNC_FUZZ_CHECK(usage->limit > 0, "a limit of 0");
    }
    if (auto after = http::parse_retry_after(response.body, std::chrono::system_clock::now())) {
      CRMSYNC_FUZZ_CHECK(after->count() >= 0, "a negative Retry-After");
    }
    (void)salesforce::parse_salesforce_datetime(response.body);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto [mode, rest] = fuzz::split_mode(fuzz::as_text(data, size), kModes);
  std::string_view name = kModes[mode];
  if (name == "capture") {
    capture_page(rest);
    return 0;
  }
  auto script = fuzz::parse_script(rest);
  if (name == "answer") {
    answers(script);
    return 0;
  }

  fuzz::ScriptedTransport transport(std::move(script), name == "token");
  fuzz::FixedSecrets secrets;
  salesforce::SalesforceSettings settings;
  settings.login_url = "https://login.fuzz.example";
  settings.client_id = "fuzz-client";
  salesforce::SalesforceClient client(settings, transport, secrets, fuzz::quiet_logger(),
                                      mapping::RetryPolicy{std::chrono::milliseconds(1), std::chrono::milliseconds(2), 2.0, 0.0},
                                      [] { return 0.5; }, [](std::chrono::milliseconds) { return true; });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::hours(1);
  salesforce::SalesforceRecordSink sink(client);
  salesforce::SalesforceShareReader shares(client);
  daemon::SalesforceSideGateway gateway(client, std::chrono::hours(1));
  const std::vector<std::string> fields = {"Name", "Amount", "StageName"};

  if (name == "upsert" || name == "token") {
    std::vector<CrmRecordWrite> writes = {write_of(ObjectKind::account, "A-1", std::nullopt),
                                          write_of(ObjectKind::account, "A-2", std::nullopt)};
    check_writes(sink.apply(writes, deadline), writes.size(), "apply (upsert)");
  } else if (name == "update") {
    std::vector<CrmRecordWrite> writes = {write_of(ObjectKind::deal, "D-1", "006000000000001AAA"),
                                          write_of(ObjectKind::deal, "D-2", "006000000000002AAA")};
    check_writes(sink.apply(writes, deadline), writes.size(), "apply (update)");
  } else if (name == "delete") {
    std::vector<CrmRecordWrite> writes = {
        write_of(ObjectKind::deal, "D-1", std::nullopt, CanonicalEvent::Operation::remove),
        write_of(ObjectKind::deal, "D-2", std::nullopt, CanonicalEvent::Operation::remove),
        write_of(ObjectKind::deal, "D-3", "006000000000003AAA", CanonicalEvent::Operation::remove)};
    check_writes(sink.apply(writes, deadline), writes.size(), "apply (delete)");
  } else if (name == "grant" || name == "revoke") {
    std::vector<CrmShareWrite> writes = {
        {ObjectKind::account, "001000000000001AAA", "005000000000001AAA", name == "grant", mapping::ShareGrant::Access::edit},
        {ObjectKind::deal, "006000000000001AAA", "00G000000000001AAA", name == "grant", mapping::ShareGrant::Access::read}};
    check_writes(sink.apply_shares(writes, deadline), writes.size(), "apply_shares");
  } else if (name == "shares") {
    check(shares.manual_shares(ObjectKind::account, deadline), "manual_shares");
  } else if (name == "owners") {
    check(shares.owners_of(ObjectKind::deal, {"006000000000001AAA", "006000000000002"}, deadline), "owners_of");
  } else if (name == "read") {
    check(gateway.read(ObjectKind::deal, {"D-1", "D-2"}, fields), "side gateway read");
  } else if (name == "find") {
    check(gateway.find_unmapped(ObjectKind::account, "Name", {"Acme", "Globex"}, {"Name", "Website"}), "find_unmapped");
  } else if (name == "scan") {
    auto scanned = gateway.scan(ObjectKind::account, {"Name", "Website"}, "2026-01-01T00:00:00Z",
                                [](std::vector<daemon::SideRecordState>) { return mapping::ok_status(); });
    if (!scanned) fuzz::check_error(scanned.error(), "side gateway scan");
  }
  return 0;
}
