#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/emulators/http_message.h"

namespace crmsync::emulators {

// Flags shared by both emulators (see docs/emulators.md for the defaults).
struct EmulatorSettings {
  std::string client_id = "crmsync-emulator-client";
  std::string client_secret = "crmsync-emulator-secret";
  std::string user_password = "crmsync-emulator-password";  // Salesforce password grant
  int page_size = 0;                        // 0: the API's own default (2000 / 5000)
  std::int64_t daily_api_limit = 15000;     // Salesforce DailyApiRequests
  std::int64_t requests_per_window = 6000;  // Dataverse service protection, per 300 s
  int concurrent_requests = 52;             // Dataverse service protection; 0: unlimited
  std::chrono::seconds token_ttl{0};        // 0: the API's default (7200 s / 3599 s)
  bool rotate_refresh_tokens = false;       // Salesforce refresh-token rotation
  std::string jwt_public_key_pem;           // Salesforce JWT bearer flow; empty: flow refused
  std::string seed_json;                    // the --seed file, reloaded by reset
};

// Drift planted past change capture (POST /_emulator/drift), for reconcile tests: one row's
// fields set, or the row removed, leaving no trace in the API's change feeds.
struct DriftRequest {
  std::string object;    // Salesforce sObject name / Dataverse entity set or logical name
  std::string id;        // as the caller gave it
  std::string set_json;  // a JSON object of field values; empty when `remove`
  bool remove = false;
};

struct DriftOutcome {
  int status = 200;                  // 404: no such object or live row; 400: a bad field or value
  std::string error;                 // what failed, when status is not 200
  std::string id;                    // the row's id as the API spells it
  std::vector<std::string> changed;  // the fields set, as the API names them
};

// One emulated CRM API behind the shared server, admin API and fault rules. Implementations
// serialise their own state; every method may be called from any server thread.
class EmulatedApi {
 public:
  virtual ~EmulatedApi() = default;

  // An API request (anything not under /_emulator/). Sets nothing on fault rules.
  virtual HttpResponse handle(const HttpRequest& request) = 0;
  // The route name a request counts under in the call statistics, e.g. "GET sobjects/{id}".
  virtual std::string endpoint_name(const HttpRequest& request) const = 0;
  // The API's own answer to a request that arrives while `in_flight` requests (itself included)
  // are being served, when that is over its concurrency limit; nothing otherwise.
  virtual std::optional<HttpResponse> refuse_concurrent(const HttpRequest& request, int in_flight) const {
    (void)request;
    (void)in_flight;
    return std::nullopt;
  }
  // The API's own error answer for an injected status.
  virtual HttpResponse fault_response(int status, const std::string& code,
                                      const std::string& message,
                                      int retry_after_seconds) const = 0;

  // Admin operations.
  virtual void reset() = 0;
  virtual std::optional<std::string> load_seed(std::string_view json) = 0;  // error text on failure
  virtual std::optional<std::string> records_json(std::string_view object) = 0;
  virtual void expire_tokens() = 0;
  // Changes or removes a row without stamping it or recording it for change capture.
  virtual DriftOutcome plant_drift(const DriftRequest& request) = 0;
  // API-specific admin routes (/_emulator/<rest>); nothing when unknown.
  virtual std::optional<HttpResponse> admin(const HttpRequest& request, std::string_view rest) = 0;
};

}  // namespace crmsync::emulators
