#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "tests/emulators/call_stats.h"
#include "tests/emulators/client_secrets.h"
#include "tests/emulators/emulated_api.h"
#include "tests/emulators/emulator_clock.h"
#include "tests/emulators/record_store.h"

namespace crmsync::emulators {

// One Salesforce REST API call after the version prefix (/services/data/vNN.N/<path>); composite
// subrequests are calls too.
struct SalesforceCall {
  std::string method;
  std::vector<std::string> segments;  // <path> split on '/', decoded
  std::map<std::string, std::string> query;
  std::string body;
  double version = 59.0;
  const HttpRequest* outer = nullptr;  // headers come from the outer request
};

// A per-record error ({statusCode|errorCode, message, fields}).
struct SalesforceError {
  std::string code;
  std::string message;
  std::vector<std::string> fields;
};

// The Salesforce emulator (docs/emulators.md): OAuth token endpoint, REST sObject rows, SOQL,
// getUpdated/getDeleted, sObject Collections, composite, limits. All state sits behind one
// mutex: requests from many connections are served one at a time, which keeps composite and
// allOrNone semantics exact. Owned by main; used by every server thread.
class SalesforceApi : public EmulatedApi {
 public:
  SalesforceApi(EmulatorSettings settings, EmulatorClock& clock, CallStats& stats);

  HttpResponse handle(const HttpRequest& request) override;
  std::string endpoint_name(const HttpRequest& request) const override;
  HttpResponse fault_response(int status, const std::string& code, const std::string& message,
                              int retry_after_seconds) const override;
  void reset() override;
  std::optional<std::string> load_seed(std::string_view json) override;
  std::optional<std::string> records_json(std::string_view object) override;
  void expire_tokens() override;
  DriftOutcome plant_drift(const DriftRequest& request) override;  // salesforce_drift.cc
  std::optional<HttpResponse> admin(const HttpRequest& request, std::string_view rest) override;

 private:
  struct AccessToken {
    std::string user_id;
    EpochMs expires_at = 0;
    std::string refresh_token;  // the refresh token it came from, if any
  };
  struct QueryLocator {
    std::string object;
    std::vector<std::string> fields;
    std::vector<std::string> ids;
    bool include_deleted = false;
    EpochMs last_used = 0;
  };
  struct WriteOutcome {
    std::string id;
    bool created = false;
    std::vector<SalesforceError> errors;
    int status = 200;                  // for single-row answers: 300 / 404 on upsert
    std::vector<std::string> matches;  // 300: the matching ids
  };

  // salesforce_auth.cc
  HttpResponse oauth_token(const HttpRequest& request);
  HttpResponse oauth_revoke(const HttpRequest& request);
  HttpResponse identity(const HttpRequest& request, const std::string& user_id);
  HttpResponse token_success(const HttpRequest& request, const std::string& user_id,
                             bool with_refresh, const std::string& refresh_token);
  std::optional<std::string> jwt_user(const std::string& assertion, const HttpRequest& request,
                                      std::string& error);
  std::string random_token(std::size_t length);
  const AccessToken* session(const HttpRequest& request);

  // salesforce_api.cc
  HttpResponse rest(const HttpRequest& request, const std::string& path);
  HttpResponse dispatch(const SalesforceCall& call);
  HttpResponse resource_map(const SalesforceCall& call);
  HttpResponse limits();
  void reset_locked();
  std::optional<std::string> load_seed_locked(std::string_view json);

  // salesforce_rows.cc
  HttpResponse sobjects(const SalesforceCall& call);
  HttpResponse global_describe(const SalesforceCall& call);
  HttpResponse describe(const SalesforceCall& call, ObjectTable& table);
  HttpResponse row(const SalesforceCall& call, ObjectTable& table, const std::string& id_text);
  HttpResponse by_external_id(const SalesforceCall& call, ObjectTable& table,
                              const std::string& field, const std::string& value);
  WriteOutcome create(ObjectTable& table, const std::string& body_json, bool from_seed = false);
  WriteOutcome update(ObjectTable& table, const std::string& id, const std::string& body_json);
  WriteOutcome remove(const std::string& id);
  void remove_shares_of(const std::string& id);  // the AccountShare/OpportunityShare rows on it
  // Live rows by lower-cased external id value, built once for a collection call (the rows it
  // writes are added as they are created), so a 200-record upsert scans the table once, not 200
  // times.
  using ExternalIdIndex = std::map<std::string, std::vector<std::string>>;
  ExternalIdIndex index_external_id(ObjectTable& table, const std::string& field);
  WriteOutcome upsert(ObjectTable& table, const std::string& field, const std::string& value,
                      const std::string& body_json, bool update_only, ExternalIdIndex* index = nullptr);
  ObjectTable* table_for_id(const std::string& id18);
  void count_write(std::size_t records);  // into the statistics, or the running composite's tally
  void stamp(const ObjectDef& def, Record& record, bool creating);
  // `from_seed`: a seed stands for the org's state and may hold system-maintained share rows.
  std::vector<SalesforceError> validate_write(ObjectTable& table, Record& record,
                                              const Record* before, Record** existing_share,
                                              bool from_seed);
  std::string record_json(const ObjectTable& table, const Record& record,
                          const std::vector<std::string>& fields, double version) const;
  std::string etag(const Record& record) const;

  // salesforce_query.cc
  HttpResponse query(const SalesforceCall& call, bool include_deleted);
  HttpResponse query_more(const SalesforceCall& call, const std::string& locator);
  HttpResponse query_page(const SalesforceCall& call, const std::string& locator_id,
                          std::size_t offset);
  HttpResponse updated(const SalesforceCall& call, ObjectTable& table);
  HttpResponse deleted(const SalesforceCall& call, ObjectTable& table);

  // salesforce_composite.cc
  HttpResponse collections(const SalesforceCall& call);
  HttpResponse composite(const SalesforceCall& call);
  HttpResponse finish_collection(const SalesforceCall& call, std::vector<WriteOutcome>& outcomes,
                                 bool all_or_none, RecordStore& saved, bool with_created);

  EmulatorSettings settings_;
  EmulatorClock& clock_;
  CallStats& stats_;
  std::mutex mutex_;
  RecordStore store_;
  std::int64_t id_sequence_ = 0;
  std::string org_id_;
  std::string integration_user_id_;
  std::string current_user_id_;
  std::map<std::string, AccessToken> access_tokens_;
  std::map<std::string, std::string> refresh_tokens_;  // token -> user id
  ClientSecrets client_secrets_;
  std::map<std::string, QueryLocator> locators_;
  std::int64_t api_usage_ = 0;
  bool force_all_or_none_ = false;  // a composite allOrNone overrides nested collections
  bool in_composite_ = false;       // a composite runs: its writes count as one write call
  std::size_t composite_writes_ = 0;
  std::mt19937_64 random_;
};

}  // namespace crmsync::emulators
