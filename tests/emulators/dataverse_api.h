#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/emulators/call_stats.h"
#include "tests/emulators/client_secrets.h"
#include "tests/emulators/emulated_api.h"
#include "tests/emulators/emulator_clock.h"
#include "tests/emulators/fault_rules.h"
#include "tests/emulators/record_store.h"

namespace crmsync::emulators {

// One Web API call below /api/data/v9.2/; $batch parts are calls too.
struct DataverseCall {
  std::string method;
  std::string path;       // after the version prefix, percent-decoded, e.g. "accounts(…)"
  std::string raw_query;  // still encoded
  std::map<std::string, std::string> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string api_base;  // scheme://host:port/api/data/v9.2/ as the client addressed us
  const std::map<std::string, std::string>* content_ids =
      nullptr;  // $batch change set: "$1" -> URL

  std::string header(std::string_view name) const;
};

// A principal's access to one record through GrantAccess/ModifyAccess.
struct DataverseShare {
  std::string principal_id;
  std::string principal_type;  // systemuser | team
  int mask = 0;
};

// The Dataverse emulator (docs/emulators.md): a v2.0-shaped token endpoint, accounts,
// opportunities, systemusers, teams and businessunits with OData queries, paging, change
// tracking, alternate-key upsert, ETag concurrency, $batch and the sharing actions. All state
// sits behind one mutex (a $batch change set is exact). Owned by main; used by every server thread.
class DataverseApi : public EmulatedApi {
 public:
  // `batch_faults`: the rules marked in_batch answer matching $batch parts (may be null).
  DataverseApi(EmulatorSettings settings, EmulatorClock& clock, CallStats& stats,
               FaultRules* batch_faults = nullptr);

  HttpResponse handle(const HttpRequest& request) override;
  std::string endpoint_name(const HttpRequest& request) const override;
  std::optional<HttpResponse> refuse_concurrent(const HttpRequest& request, int in_flight) const override;
  HttpResponse fault_response(int status, const std::string& code, const std::string& message,
                              int retry_after_seconds) const override;
  void reset() override;
  std::optional<std::string> load_seed(std::string_view json) override;
  std::optional<std::string> records_json(std::string_view object) override;
  void expire_tokens() override;
  DriftOutcome plant_drift(const DriftRequest& request) override;  // dataverse_drift.cc
  std::optional<HttpResponse> admin(const HttpRequest& request, std::string_view rest) override;

 private:
  struct Target {  // an addressed row: entity set + key
    ObjectTable* table = nullptr;
    std::string id;  // primary key, when the key was a GUID
    std::vector<std::pair<std::string, std::string>> alternate_key;  // field, value
    std::string property;                                            // accounts(…)/name
  };

  // dataverse_api.cc
  HttpResponse token(const HttpRequest& request, const std::string& tenant);
  HttpResponse openid_configuration(const HttpRequest& request, const std::string& tenant) const;
  HttpResponse dispatch(const DataverseCall& call);
  std::optional<HttpResponse> throttle();
  void reset_locked();
  std::optional<std::string> load_seed_locked(std::string_view json);
  std::string new_guid();
  void count_write(std::size_t records);

  // dataverse_entities.cc
  HttpResponse collection(const DataverseCall& call, ObjectTable& table);
  HttpResponse count(const DataverseCall& call, ObjectTable& table);
  std::optional<HttpResponse> parse_select(const DataverseCall& call, const ObjectDef& def,
                                           std::vector<std::string>& select) const;
  HttpResponse create(const DataverseCall& call, ObjectTable& table);
  HttpResponse entity(const DataverseCall& call, Target target);
  std::optional<HttpResponse> parse_target(const DataverseCall& call, const std::string& segment,
                                           Target& target);
  Record* find(Target& target);
  std::string owner_logical_name(const std::string& id) const;
  std::optional<HttpResponse> resolve_bind(const DataverseCall& call, const FieldDef& lookup,
                                           const std::string& value, std::string& id);
  std::optional<HttpResponse> apply_body(const DataverseCall& call, ObjectTable& table,
                                         Record& record, const std::string& body, bool creating);
  std::string entity_json(const DataverseCall& call, const ObjectTable& table, const Record& record,
                          const std::vector<std::string>& select, bool with_context) const;
  std::string entity_url(const DataverseCall& call, const ObjectTable& table,
                         const std::string& id) const;
  void touch(const ObjectDef& def, Record& record, bool creating);
  // Drops the shares on a row and, for a team or user, its team memberships.
  void forget_access(const ObjectDef& def, const std::string& id);
  HttpResponse delta(const DataverseCall& call, ObjectTable& table, const std::string& token);
  HttpResponse who_am_i(const DataverseCall& call);

  // dataverse_batch.cc
  HttpResponse batch(const DataverseCall& call);

  // dataverse_associations.cc
  HttpResponse association(const DataverseCall& call, Target target, const std::string& rest);

  // dataverse_sharing.cc
  HttpResponse sharing_action(const DataverseCall& call, const std::string& action);
  HttpResponse retrieve_shared(const DataverseCall& call);

  EmulatorSettings settings_;
  EmulatorClock& clock_;
  CallStats& stats_;
  FaultRules* batch_faults_;
  std::mutex mutex_;
  RecordStore store_;
  std::map<std::string, EpochMs> tokens_;  // access token -> expiry
  ClientSecrets client_secrets_;
  std::map<std::string, std::map<std::string, DataverseShare>>
      shares_;  // "accounts(<id>)" -> principal -> share
  std::map<std::string, std::set<std::string>> team_members_;  // teamid -> systemuserids
  std::deque<EpochMs> window_;                                 // request times in the last 300 s
  std::string org_id_;
  std::string root_business_unit_id_;
  std::string application_user_id_;
  std::string current_user_id_;
  bool in_batch_ = false;  // a $batch runs: its writes count as one write call
  std::size_t batch_writes_ = 0;
  std::mt19937_64 random_;
};

}  // namespace crmsync::emulators
