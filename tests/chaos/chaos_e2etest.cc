// The chaos suite (issue #11, DESIGN §9): a workload of creates, updates, deletes and share
// changes on the PRM, Salesforce and Dataverse while faults are injected — kill -9 of the daemon,
// Kafka and PostgreSQL restarts, CRM 429 storms, 5xx bursts, latency spikes, dropped connections
// and expired tokens. After the workload stops and the daemon catches up, every intended change
// must be present exactly once on every side (checked against the workload's ledger), reconcile
// must report zero drift, the journal must verify, and no partner may read another's records.
//
// Profile: CRMSYNC_CHAOS_PROFILE=short|full (default short); seed: CRMSYNC_CHAOS_SEED (default:
// from the clock, printed). Run it with deploy/dev/chaos. It restarts the shared PostgreSQL and
// Kafka: never run it alongside other tests.

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>

#include "tests/chaos/chaos_ledger.h"
#include "tests/chaos/service_restarts.h"
#include "tests/integration/operator_cli_support.h"
#include "tests/integration/permissions_fixture.h"

namespace crmsync {
namespace {

using mapping::ObjectKind;
using mapping::Side;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::LedgerCheck;
using testing::LedgerRecord;
using Clock = std::chrono::steady_clock;

enum class Fault { kill, kafka, postgres, too_many_requests, server_errors, latency, dropped_connections, expired_tokens };

struct Profile {
  std::string name;
  seconds duration{100};  // of the workload
  int changes = 300;
  int kills = 3;
  int kafka_restarts = 1;
  int postgres_restarts = 1;
  int crm_bursts = 1;     // of each CRM fault kind, on each CRM
  seconds catch_up{240};
};

Profile profile_from_env() {
  const char* chosen = std::getenv("CRMSYNC_CHAOS_PROFILE");
  std::string name = chosen ? chosen : "short";
  if (name == "short") return Profile{"short"};
  if (name == "full") return Profile{"full", seconds(900), 3000, 24, 4, 4, 3, seconds(600)};
  throw std::runtime_error("CRMSYNC_CHAOS_PROFILE: expected short or full, got \"" + name + "\"");
}

std::string fault_name(Fault fault) {
  switch (fault) {
    case Fault::kill: return "kill";
    case Fault::kafka: return "kafka_restart";
    case Fault::postgres: return "postgres_restart";
    case Fault::too_many_requests: return "429_storm";
    case Fault::server_errors: return "5xx_burst";
    case Fault::latency: return "latency_spike";
    case Fault::dropped_connections: return "dropped_connections";
    case Fault::expired_tokens: return "expired_tokens";
  }
  return "?";
}

class Chaos : public testing::PermissionsFixture {
 protected:
  // The full profile makes more Salesforce API calls than the emulator's default daily limit
  // (15,000): at half of it crmsync's budget share pauses writes, the workload's included. The
  // budget is tested elsewhere; here it would only end the run early.
  Chaos() { salesforce_emulator_args = {"--daily-api-limit", "10000000"}; }

  // ---- the daemon ---------------------------------------------------------------------------
  void launch() {
    keep_daemon_output();
    crmsync = std::make_unique<testing::ChildProcess>(CRMSYNC_BINARY, std::vector<std::string>{"run", "--config", cfg});
  }
  // CRMSYNC_CHAOS_LOG_DIR=DIR keeps each daemon's whole output as DIR/daemon-N.log (the failure
  // message shows only the last daemon's tail), to follow a change across kills.
  void keep_daemon_output() {
    const char* log_dir = std::getenv("CRMSYNC_CHAOS_LOG_DIR");
    if (log_dir == nullptr || *log_dir == '\0' || !crmsync) return;
    std::filesystem::create_directories(log_dir);
    std::ofstream(std::filesystem::path(log_dir) / fmt::format("daemon-{}.log", ++daemons_logged)) << crmsync->output();
  }
  int daemons_logged = 0;
  // A daemon that exited on its own (e.g. its database went away) is started again, as systemd's
  // Restart= would; counted, not hidden.
  void relaunch_if_exited() {
    if (!crmsync) return launch();
    if (auto code = crmsync->wait_for_exit(milliseconds(0))) {
      ++daemon_exits;
      exit_codes.push_back(*code);
      launch();
    }
  }
  void kill_daemon() {
    crmsync->send_signal(SIGKILL);
    (void)crmsync->wait_for_exit(seconds(10));
    ++kills;
    launch();
  }

  // ---- services and emulators ---------------------------------------------------------------
  void reconnect_prm() {
    auto deadline = Clock::now() + seconds(60);
    while (Clock::now() < deadline) {
      state::StateDatabaseSettings prm_admin;
      prm_admin.url = testing::require_service_env("CRMSYNC_PRM_PG_URL");
      state::StateDatabaseSettings state_settings;
      state_settings.url = testing::require_service_env("CRMSYNC_PG_URL");
      auto prm_db = state::StateDatabase::connect(prm_admin);
      auto state_db = state::StateDatabase::connect(state_settings);
      if (prm_db && state_db) {
        prm = std::move(prm_db).value();
        state = std::move(state_db).value();
        connectors::prm::PrmConnectionSettings prm_settings;
        prm_settings.url = testing::require_service_env("CRMSYNC_PRM_DAEMON_URL");
        prm_reader = std::make_unique<daemon::PrmSideGateway>(prm_settings, connectors::prm::reference_schema_bindings());
        return;
      }
      std::this_thread::sleep_for(milliseconds(500));
    }
    throw std::runtime_error("chaos: PostgreSQL did not come back within 60 s");
  }

  mapping::Result<connectors::http::HttpResponse> admin(Side side, const std::string& method, const std::string& path,
                                                        const std::string& body = "") {
    auto& emulator = side == Side::salesforce ? *salesforce_emulator : *dynamics_emulator;
    auto& transport = side == Side::salesforce ? *sf_transport : *dv_transport;
    return transport.send({method, emulator.base_url() + "/_emulator/" + path, {{"Content-Type", "application/json"}}, body,
                           "emulator admin"},
                          Clock::now() + seconds(30));
  }
  void add_fault_rule(Side side, const std::string& rule) {
    auto added = admin(side, "POST", "faults", rule);
    if (!added || added.value().status != 200) throw std::runtime_error("chaos: fault rule refused: " + rule);
  }

  // Opens a CRM fault window: rules on the API paths (never the token endpoint, so that the
  // daemon can log in again), the workload leaving that CRM alone until it closes.
  void open_crm_window(Side side, Fault fault) {
    std::string path = side == Side::salesforce ? "/services/data/*" : "/api/data/*";
    int seed = static_cast<int>(rng() % 100000);
    switch (fault) {
      case Fault::too_many_requests:
        add_fault_rule(side, fmt::format(R"({{"method":"*","path":"{}","status":429,"retry_after":1,"probability":0.7,"seed":{}}})", path, seed));
        break;
      case Fault::server_errors:
        add_fault_rule(side, fmt::format(R"({{"method":"*","path":"{}","status":503,"probability":0.5,"seed":{}}})", path, seed));
        break;
      case Fault::latency:
        add_fault_rule(side, fmt::format(R"({{"method":"*","path":"{}","latency_ms":2500,"probability":0.5,"seed":{}}})", path, seed));
        break;
      case Fault::dropped_connections:
        add_fault_rule(side, fmt::format(R"({{"method":"*","path":"{}","drop_connection":true,"probability":0.4,"seed":{}}})", path, seed));
        break;
      case Fault::expired_tokens:
        add_fault_rule(side, fmt::format(R"({{"method":"*","path":"{}","expire_tokens":true,"probability":0.2,"seed":{}}})", path, seed));
        (void)admin(side, "POST", "tokens/expire");
        break;
      default:
        break;
    }
    window_side = side;
    window_ends = Clock::now() + seconds(5);
  }
  void close_crm_window() {
    if (!window_side) return;
    (void)admin(*window_side, "DELETE", "faults");
    window_side.reset();
  }

  void inject(Fault fault, Side crm) {
    ++faults;
    ++fault_counts[fault_name(fault)];
    switch (fault) {
      case Fault::kill:
        return kill_daemon();
      case Fault::kafka:
        return restarts->restart(testing::LocalService::kafka, milliseconds(500 + rng() % 2500));
      case Fault::postgres:
        restarts->restart(testing::LocalService::postgres, milliseconds(500 + rng() % 2500));
        return reconnect_prm();
      default:
        return open_crm_window(crm, fault);
    }
  }

  // ---- the workload's writes, each retried until it is known to have happened ------------------
  // An attempt answers true when done; a failed attempt is retried after reconnecting. A create
  // first looks for its record by name, so that a create whose answer was lost is not repeated.
  void until_done(const std::string& what, const std::function<bool()>& attempt) {
    auto deadline = Clock::now() + seconds(120);
    while (Clock::now() < deadline) {
      try {
        if (attempt()) return;
      } catch (const std::exception& error) {
        last_error = error.what();
      }
      std::this_thread::sleep_for(milliseconds(500));
      try {
        if (!prm->ping()) reconnect_prm();
      } catch (const std::exception&) {
      }
    }
    throw std::runtime_error("chaos: the workload could not " + what + " within 120 s; last error: " + last_error);
  }

  std::string prm_find(ObjectKind object, const std::string& record_name) {
    auto rows = prm->execute(object == ObjectKind::account ? "SELECT id::text FROM prm.accounts WHERE name = $1"
                                                           : "SELECT id::text FROM prm.deals WHERE name = $1",
                             {record_name});
    if (!rows) throw std::runtime_error(rows.error().message);
    return rows.value().empty() ? "" : rows.value()[0][0].value_or("");
  }
  bool prm_do(const std::string& sql, const state::QueryRow& params) {
    auto done = prm->execute(sql, params);
    if (!done) last_error = done.error().message;
    return done.ok();
  }

  std::string sf_find(ObjectKind object, const std::string& record_name) {
    auto answer = sf_client->request(
        "GET", "query?q=" + connectors::http::percent_encode(fmt::format("SELECT Id FROM {} WHERE Name = '{}'",
                                                                         object == ObjectKind::account ? "Account" : "Opportunity",
                                                                         record_name)),
        "", "find", Clock::now() + seconds(30), false);
    if (!answer) throw std::runtime_error(answer.error().message);
    auto at = answer.value().body.find("\"Id\":\"");
    return at == std::string::npos ? "" : answer.value().body.substr(at + 6, 18);
  }
  bool sf_do(const std::string& method, const std::string& path, const std::string& body) {
    auto answer = sf_client->request(method, path, body, "chaos workload", Clock::now() + seconds(30), true);
    if (!answer) last_error = answer.error().message;
    return answer.ok() || (method == "DELETE" && answer.error().message.find("ENTITY_IS_DELETED") != std::string::npos);
  }
  std::string sf_create(const std::string& object, const std::string& body) {
    auto created = sf_client->request("POST", "sobjects/" + object, body, "chaos create", Clock::now() + seconds(30), true);
    if (!created) throw std::runtime_error(created.error().message);
    return created.value().body.substr(created.value().body.find("\"id\":\"") + 6, 18);
  }

  std::string dv_find(ObjectKind object, const std::string& record_name) {
    std::string set = object == ObjectKind::account ? "accounts" : "opportunities";
    std::string key = object == ObjectKind::account ? "accountid" : "opportunityid";
    connectors::dynamics::DataverseRequest find{"GET", set + "?$select=" + key + "&$filter=" +
                                                           connectors::http::percent_encode("name eq '" + record_name + "'"),
                                                {}, "", "find"};
    auto answer = dv_client->send(find, Clock::now() + seconds(30));
    if (!answer) throw std::runtime_error(answer.error().message);
    auto at = answer.value().body.find("\"" + key + "\":\"");
    return at == std::string::npos ? "" : answer.value().body.substr(at + key.size() + 4, 36);
  }
  bool dv_do(const std::string& method, const std::string& target, const std::string& body,
             std::vector<std::pair<std::string, std::string>> headers = {}) {
    headers.emplace_back("Content-Type", "application/json");
    auto answer = dv_client->send({method, target, headers, body, "chaos workload"}, Clock::now() + seconds(30));
    if (!answer) last_error = answer.error().message;
    return answer.ok() || (method == "DELETE" && answer.error().message.find("Does Not Exist") != std::string::npos);
  }

  std::string org_of(char partner) const { return partner == 'a' ? org_a : org_b; }
  std::string sf_group_of(char partner) const { return partner == 'a' ? sf_group_a : sf_group_b; }
  std::string next_marker(ObjectKind object) {
    ++token;
    return object == ObjectKind::account ? fmt::format("https://m{}.example", token) : fmt::format("{}.00", token);
  }

  // ---- the workload's changes -----------------------------------------------------------------
  void create(ObjectKind object, Side side, int account);
  void update(LedgerRecord& record);
  void toggle_share(LedgerRecord& record);
  void remove(LedgerRecord& record);
  void one_change();

  // ---- the checks -----------------------------------------------------------------------------
  LedgerCheck check_ledger();
  void check_leaks(LedgerCheck& check);
  int reconcile_drift();

  std::string cfg;
  std::unique_ptr<testing::ServiceRestarts> restarts;
  std::mt19937_64 rng;
  std::vector<LedgerRecord> ledger;
  long long token = 0;
  int changes = 0, faults = 0, kills = 0, daemon_exits = 0;
  std::vector<int> exit_codes;
  std::map<std::string, int> fault_counts;
  std::optional<Side> window_side;
  Clock::time_point window_ends;
  std::string last_error;  // of the workload's last failed write
  std::string since;  // reconcile compares the run's records only (the PRM database is shared)
};

void Chaos::create(ObjectKind object, Side side, int account) {
  LedgerRecord record;
  record.object = object;
  record.editor = side;
  record.account = account;
  record.name = fmt::format("{} {}{}", name, object == ObjectKind::account ? "a" : "d", ledger.size());
  record.marker = next_marker(object);
  if (side == Side::prm) record.owner = object == ObjectKind::deal ? ledger[account].owner : (rng() % 2 ? 'a' : 'b');
  const LedgerRecord* parent = object == ObjectKind::deal ? &ledger[account] : nullptr;
  until_done("create " + record.name, [&] {
    if (side == Side::prm) {
      record.id = prm_find(object, record.name);
      if (record.id.empty()) {
        record.id = object == ObjectKind::account
                        ? scalar("INSERT INTO prm.accounts (name, website, billing_country, owner_partner_org_id, "
                                 "modified_by_kind) VALUES ($1, $2, 'DE', $3, 'internal_user') RETURNING id",
                                 {record.name, record.marker, org_of(record.owner)})
                        : scalar("INSERT INTO prm.deals (account_id, name, amount, stage, close_date, owner_partner_org_id, "
                                 "modified_by_kind) VALUES ($1, $2, $3::numeric, 'Prospecting', '2027-03-31', $4, "
                                 "'internal_user') RETURNING id",
                                 {parent->id, record.name, record.marker, org_of(record.owner)});
      }
    } else if (side == Side::salesforce) {
      record.id = sf_find(object, record.name);
      if (record.id.empty()) {
        record.id = object == ObjectKind::account
                        ? sf_create("Account", fmt::format(R"({{"Name":"{}","Website":"{}","BillingCountry":"FR"}})",
                                                           record.name, record.marker))
                        : sf_create("Opportunity", fmt::format(R"({{"Name":"{}","StageName":"Prospecting","CloseDate":"2027-03-31",)"
                                                               R"("AccountId":"{}","Amount":{}}})",
                                                               record.name, parent->id, record.marker));
      }
    } else {
      record.id = dv_find(object, record.name);
      if (record.id.empty()) {
        bool created = object == ObjectKind::account
                           ? dv_do("POST", "accounts", fmt::format(R"({{"name":"{}","websiteurl":"{}","address1_country":"NL"}})",
                                                                   record.name, record.marker))
                           : dv_do("POST", "opportunities",
                                   fmt::format(R"({{"name":"{}","estimatedvalue":{},"stepname":"Prospecting",)"
                                               R"x("estimatedclosedate":"2027-03-31","parentaccountid@odata.bind":"/accounts({})"}})x",
                                               record.name, record.marker, parent->id));
        if (!created) return false;
        record.id = dv_find(object, record.name);
      }
    }
    return !record.id.empty();
  });
  if (object == ObjectKind::deal) ++ledger[account].live_deals;
  ledger.push_back(record);
}

void Chaos::update(LedgerRecord& record) {
  std::string marker = next_marker(record.object);
  bool account = record.object == ObjectKind::account;
  until_done("update " + record.name, [&] {
    switch (record.editor) {
      case Side::prm:
        return prm_do(account ? "UPDATE prm.accounts SET website = $2, modified_by_kind = 'internal_user' WHERE id = $1"
                              : "UPDATE prm.deals SET amount = $2::numeric, modified_by_kind = 'internal_user' WHERE id = $1",
                      {record.id, marker});
      case Side::salesforce:
        return sf_do("PATCH", fmt::format("sobjects/{}/{}", account ? "Account" : "Opportunity", record.id),
                     account ? fmt::format(R"({{"Website":"{}"}})", marker) : fmt::format(R"({{"Amount":{}}})", marker));
      case Side::dynamics:
        return dv_do("PATCH", fmt::format("{}({})", account ? "accounts" : "opportunities", record.id),
                     account ? fmt::format(R"({{"websiteurl":"{}"}})", marker) : fmt::format(R"({{"estimatedvalue":{}}})", marker),
                     {{"If-Match", "*"}});
    }
    return false;
  });
  record.marker = marker;
}

void Chaos::toggle_share(LedgerRecord& record) {
  bool share = !record.shared;
  bool account = record.object == ObjectKind::account;
  until_done("share " + record.name, [&] {
    if (record.editor == Side::prm) {
      return share ? prm_do("INSERT INTO prm.shares (object_type, record_id, principal_type, principal_id, access) "
                            "VALUES ($1, $2, 'partner_org', $3, 'read') ON CONFLICT DO NOTHING",
                            {account ? "account" : "deal", record.id, org_of(record.other())})
                   : prm_do("DELETE FROM prm.shares WHERE object_type = $1 AND record_id = $2 AND principal_type = "
                            "'partner_org' AND principal_id = $3",
                            {account ? "account" : "deal", record.id, org_of(record.other())});
    }
    // Salesforce: a Manual share row to the other partner's group (re-sharing updates the row).
    std::string object = account ? "AccountShare" : "OpportunityShare";
    std::string parent = account ? "AccountId" : "OpportunityId";
    if (share) {
      return sf_do("POST", "sobjects/" + object,
                   fmt::format(R"({{"{}":"{}","UserOrGroupId":"{}",{},"RowCause":"Manual"}})", parent, record.id,
                               sf_group_of(record.other()),
                               account ? R"("AccountAccessLevel":"Read","OpportunityAccessLevel":"None","CaseAccessLevel":"None",)"
                                         R"("ContactAccessLevel":"None")"
                                       : R"("OpportunityAccessLevel":"Read")"));
    }
    auto rows = sf_client->request(
        "GET", "query?q=" + connectors::http::percent_encode(fmt::format("SELECT Id FROM {} WHERE {} = '{}' AND UserOrGroupId = '{}' "
                                                                         "AND RowCause = 'Manual'",
                                                                         object, parent, record.id, sf_group_of(record.other()))),
        "", "find share", Clock::now() + seconds(30), false);
    if (!rows) return false;
    auto at = rows.value().body.find("\"Id\":\"");
    if (at == std::string::npos) return true;  // already gone
    return sf_do("DELETE", "sobjects/" + object + "/" + rows.value().body.substr(at + 6, 18), "");
  });
  record.shared = share;
}

void Chaos::remove(LedgerRecord& record) {
  bool account = record.object == ObjectKind::account;
  until_done("delete " + record.name, [&] {
    switch (record.editor) {
      case Side::prm:
        return prm_do(account ? "DELETE FROM prm.accounts WHERE id = $1" : "DELETE FROM prm.deals WHERE id = $1", {record.id});
      case Side::salesforce:
        return sf_do("DELETE", fmt::format("sobjects/{}/{}", account ? "Account" : "Opportunity", record.id), "");
      case Side::dynamics:
        return dv_do("DELETE", fmt::format("{}({})", account ? "accounts" : "opportunities", record.id), "");
    }
    return false;
  });
  record.deleted = true;
  if (!account) --ledger[record.account].live_deals;
}

// One change on a side whose CRM is not in a fault window: a create (a fifth of the changes, and
// always while there are few records), an update of the marker, a share toggle (PRM and
// Salesforce records) or a delete (a deal, or an account without deals).
void Chaos::one_change() {
  auto side_ok = [&](Side side) { return !window_side || *window_side != side; };
  std::vector<int> live;
  for (int i = 0; i < static_cast<int>(ledger.size()); ++i) {
    if (!ledger[i].deleted && side_ok(ledger[i].editor)) live.push_back(i);
  }
  int dice = static_cast<int>(rng() % 100);
  if (live.size() < 6 || dice < 20) {
    std::vector<Side> sides;
    for (Side side : {Side::prm, Side::prm, Side::salesforce, Side::dynamics}) {
      if (side_ok(side)) sides.push_back(side);
    }
    Side side = sides[rng() % sides.size()];
    std::vector<int> accounts;
    for (int i : live) {
      if (ledger[i].object == ObjectKind::account && ledger[i].editor == side) accounts.push_back(i);
    }
    if (accounts.empty() || rng() % 3 == 0) return create(ObjectKind::account, side, -1);
    return create(ObjectKind::deal, side, accounts[rng() % accounts.size()]);
  }
  LedgerRecord& record = ledger[live[rng() % live.size()]];
  if (dice < 70) return update(record);
  if (dice < 85 && record.editor != Side::dynamics) return toggle_share(record);
  if (record.object == ObjectKind::deal || record.live_deals == 0) return remove(record);
  return update(record);
}

// The JSON array an emulator's GET /_emulator/records/{object} answers.
rapidjson::Document records_of(const mapping::Result<connectors::http::HttpResponse>& answer, const std::string& what) {
  if (!answer || answer.value().status != 200) throw std::runtime_error("chaos: cannot read " + what + " from the emulator");
  rapidjson::Document doc;
  doc.Parse(answer.value().body.c_str());
  if (doc.HasParseError() || !doc.IsArray()) throw std::runtime_error("chaos: " + what + ": not a JSON array");
  return doc;
}

std::string text_of(const rapidjson::Value& row, const char* field) {
  if (!row.HasMember(field)) return "";
  const auto& value = row[field];
  if (value.IsString()) return value.GetString();
  if (value.IsNumber()) return fmt::format("{:.2f}", value.GetDouble());
  return "";
}

LedgerCheck Chaos::check_ledger() {
  LedgerCheck check;
  std::string prefix = name + " ";
  // name -> rows on each side: [side][name] = list of (id, marker)
  struct Row {
    std::string id, marker;
  };
  std::map<std::string, std::vector<Row>> held[3];
  std::map<std::string, std::set<std::string>> prm_shares;  // prm id -> partner orgs
  std::map<std::string, std::set<std::string>> sf_shares_by_id;
  for (ObjectKind object : {ObjectKind::account, ObjectKind::deal}) {
    bool account = object == ObjectKind::account;
    auto rows = prm->execute(account ? "SELECT name, id::text, website FROM prm.accounts WHERE name LIKE $1"
                                     : "SELECT name, id::text, to_char(amount, 'FM999999999990.00') FROM prm.deals WHERE name LIKE $1",
                             {prefix + "%"});
    if (!rows) throw std::runtime_error(rows.error().message);
    for (const auto& row : rows.value()) held[0][row[0].value_or("")].push_back({row[1].value_or(""), row[2].value_or("")});
    auto sf = records_of(admin(Side::salesforce, "GET", account ? "records/Account" : "records/Opportunity"), "Salesforce records");
    for (const auto& row : sf.GetArray()) {
      std::string row_name = text_of(row, "Name");
      if (row_name.rfind(prefix, 0) != 0 || (row.HasMember("IsDeleted") && row["IsDeleted"].IsBool() && row["IsDeleted"].GetBool())) continue;
      held[1][row_name].push_back({text_of(row, "Id"), text_of(row, account ? "Website" : "Amount")});
    }
    auto dv = records_of(admin(Side::dynamics, "GET", account ? "records/accounts" : "records/opportunities"), "Dataverse records");
    for (const auto& row : dv.GetArray()) {
      std::string row_name = text_of(row, "name");
      if (row_name.rfind(prefix, 0) != 0) continue;
      held[2][row_name].push_back({text_of(row, account ? "accountid" : "opportunityid"), text_of(row, account ? "websiteurl" : "estimatedvalue")});
    }
    auto shares = records_of(admin(Side::salesforce, "GET", account ? "records/AccountShare" : "records/OpportunityShare"), "shares");
    for (const auto& row : shares.GetArray()) {
      if (text_of(row, "RowCause") != "Manual" || (row.HasMember("IsDeleted") && row["IsDeleted"].IsBool() && row["IsDeleted"].GetBool())) {
        continue;
      }
      sf_shares_by_id[text_of(row, account ? "AccountId" : "OpportunityId").substr(0, 15)].insert(text_of(row, "UserOrGroupId").substr(0, 15));
    }
  }
  auto share_rows = prm->execute("SELECT record_id::text, principal_id::text FROM prm.shares WHERE principal_type = 'partner_org' "
                                 "AND principal_id IN ($1::uuid, $2::uuid)",
                                 {org_a, org_b});
  if (!share_rows) throw std::runtime_error(share_rows.error().message);
  for (const auto& row : share_rows.value()) prm_shares[row[0].value_or("")].insert(row[1].value_or(""));

  std::set<std::string> ledger_names;
  for (const auto& record : ledger) {
    ledger_names.insert(record.name);
    for (int side = 0; side < 3; ++side) {
      std::string where = fmt::format("{} on {}", record.name, mapping::to_string(static_cast<Side>(side)));
      const auto found = held[side].find(record.name);
      std::size_t count = found == held[side].end() ? 0 : found->second.size();
      if (record.deleted) {
        if (count != 0) check.note(check.losses, where + ": deleted, still there");
        continue;
      }
      if (count == 0) {
        check.note(check.losses, where + ": missing");
        continue;
      }
      if (count > 1) check.note(check.duplicates, fmt::format("{}: {} copies", where, count));
      const Row& row = found->second[0];
      if (row.marker != record.marker) check.note(check.losses, where + ": marker " + row.marker + ", intended " + record.marker);
      // Sharing with the other partner, as the ledger intends it.
      bool shared = false;
      std::string other = org_of(record.other());
      if (side == 0) {
        shared = prm_shares[row.id].count(other) != 0;
      } else if (side == 1) {
        shared = sf_shares_by_id[row.id.substr(0, 15)].count(sf_group_of(record.other()).substr(0, 15)) != 0;
      } else {
        shared = dv_shared_with(record.object, row.id, std::string("team:") + (record.other() == 'a' ? kTeamA : kTeamB));
      }
      if (shared != record.shared) {
        check.note(check.losses, where + (record.shared ? ": share to the other partner missing" : ": share to the other partner not revoked"));
      }
    }
  }
  for (int side = 0; side < 3; ++side) {
    for (const auto& [row_name, rows] : held[side]) {
      if (ledger_names.count(row_name) == 0) {
        check.note(check.duplicates, fmt::format("{} on {}: not in the ledger", row_name, mapping::to_string(static_cast<Side>(side))));
      }
    }
  }
  check_leaks(check);
  return check;
}

// Reads the PRM as each partner's portal session (row-level security) and counts every row the
// ledger does not let that partner see, and any privilege of the portal role on internal fields.
void Chaos::check_leaks(LedgerCheck& check) {
  std::map<std::string, const LedgerRecord*> by_name;
  for (const auto& record : ledger) by_name[record.name] = &record;
  for (char partner : {'a', 'b'}) {
    std::vector<std::string> seen;
    auto read = prm->in_transaction([&](const state::StateDatabase::Executor& execute) -> mapping::Status {
      if (auto done = execute("SET LOCAL ROLE prm_portal", {}); !done) return done.error();
      if (auto done = execute("SELECT set_config('prm.partner_org', $1, true)", {org_of(partner)}); !done) return done.error();
      for (const char* table : {"prm.accounts", "prm.deals"}) {
        auto rows = execute(std::string("SELECT name FROM ") + table + " WHERE name LIKE $1", {name + " %"});
        if (!rows) return rows.error();
        for (const auto& row : rows.value()) seen.push_back(row[0].value_or(""));
      }
      return mapping::ok_status();
    });
    if (!read) throw std::runtime_error("chaos: reading as partner " + std::string(1, partner) + ": " + read.error().message);
    for (const auto& row_name : seen) {
      auto found = by_name.find(row_name);
      const LedgerRecord* record = found == by_name.end() ? nullptr : found->second;
      bool allowed = record && !record->deleted && (record->owner == partner || (record->shared && record->other() == partner));
      if (!allowed) check.note(check.leaks, fmt::format("partner {} reads {}", partner, row_name));
    }
  }
  for (const char* table : {"prm.account_internal", "prm.deal_internal"}) {
    if (scalar("SELECT has_table_privilege('prm_portal', $1, 'SELECT')", {table}) != "f") {
      check.note(check.leaks, std::string("the portal role can read ") + table);
    }
  }
}

// `crmsync reconcile --json` for both objects over the run's records: the drifted count.
int Chaos::reconcile_drift() {
  int drifted = 0;
  for (const char* object : {"account", "deal"}) {
    auto result = testing::crmsync_cli({"reconcile", "--config", cfg, "--object", object, "--since", since, "--json"});
    if (result.code != 0 && result.code != 1) throw std::runtime_error("chaos: reconcile failed:\n" + result.all);
    auto report = testing::parse_json(result.out);
    drifted += report["summary"]["drifted"].GetInt();
    if (report["summary"]["drifted"].GetInt() != 0) std::cerr << "reconcile " << object << ":\n" << result.out << "\n";
  }
  return drifted;
}

TEST_F(Chaos, EveryIntendedChangeArrivesOnceThroughFaults) {
  Profile profile = profile_from_env();
  const char* seed_text = std::getenv("CRMSYNC_CHAOS_SEED");
  unsigned long long seed = seed_text ? std::stoull(seed_text)
                                      : static_cast<unsigned long long>(Clock::now().time_since_epoch().count() % 1000000);
  rng.seed(seed);
  std::cout << "profile=" << profile.name << "\nseed=" << seed << std::endl;
  restarts = std::make_unique<testing::ServiceRestarts>(CRMSYNC_SOURCE_DIR);
  since = fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", std::chrono::floor<seconds>(std::chrono::system_clock::now() - seconds(2)));
  cfg = config(seconds(2));
  auto started = Clock::now();
  ASSERT_NO_FATAL_FAILURE(start(cfg));

  // The fault schedule: each fault in a slot of its own, at a random moment within the slot.
  std::vector<std::pair<Fault, Side>> planned;
  for (int i = 0; i < profile.kills; ++i) planned.emplace_back(Fault::kill, Side::prm);
  for (int i = 0; i < profile.kafka_restarts; ++i) planned.emplace_back(Fault::kafka, Side::prm);
  for (int i = 0; i < profile.postgres_restarts; ++i) planned.emplace_back(Fault::postgres, Side::prm);
  for (int i = 0; i < profile.crm_bursts; ++i) {
    for (Fault fault : {Fault::too_many_requests, Fault::server_errors, Fault::latency, Fault::dropped_connections,
                        Fault::expired_tokens}) {
      planned.emplace_back(fault, Side::salesforce);
      planned.emplace_back(fault, Side::dynamics);
    }
  }
  std::shuffle(planned.begin(), planned.end(), rng);
  auto slot = profile.duration / static_cast<int>(planned.size() + 1);
  std::vector<Clock::time_point> fault_at;
  auto workload_start = Clock::now();
  for (std::size_t i = 0; i < planned.size(); ++i) {
    fault_at.push_back(workload_start + slot * static_cast<int>(i + 1) +
                       milliseconds(rng() % static_cast<unsigned>(std::chrono::duration_cast<milliseconds>(slot).count() / 2 + 1)));
  }

  // The workload, with the faults at their moments.
  auto pace = std::chrono::duration_cast<milliseconds>(profile.duration) / profile.changes;
  std::size_t next_fault = 0;
  for (int i = 0; i < profile.changes; ++i) {
    auto due = workload_start + pace * i;
    while (Clock::now() < due) std::this_thread::sleep_for(milliseconds(10));
    if (window_side && Clock::now() >= window_ends) close_crm_window();
    if (next_fault < planned.size() && Clock::now() >= fault_at[next_fault] && !window_side) {
      inject(planned[next_fault].first, planned[next_fault].second);
      ++next_fault;
    }
    relaunch_if_exited();
    one_change();
    ++changes;
  }
  close_crm_window();
  while (next_fault < planned.size()) {  // faults the workload outran still happen
    inject(planned[next_fault].first, planned[next_fault].second);
    ++next_fault;
    close_crm_window();
  }
  auto workload_seconds = std::chrono::duration_cast<seconds>(Clock::now() - started).count();

  // Catching up: until every side holds what the ledger intends, or the bound passes.
  relaunch_if_exited();
  LedgerCheck check;
  auto catch_up_until = Clock::now() + profile.catch_up;
  do {
    std::this_thread::sleep_for(seconds(3));
    relaunch_if_exited();
    check = check_ledger();
  } while ((check.losses != 0 || check.duplicates != 0) && Clock::now() < catch_up_until);
  int drift = reconcile_drift();
  for (int attempt = 0; drift != 0 && attempt < 3; ++attempt) {  // a change still on its way
    std::this_thread::sleep_for(seconds(10));
    drift = reconcile_drift();
  }
  check = check_ledger();
  auto verified = testing::crmsync_cli({"journal", "verify", "--config", cfg});

  std::cout << "changes=" << changes << "\nfaults=" << faults << "\nkills=" << kills << "\ndrift=" << drift
            << "\nduplicates=" << check.duplicates << "\nlosses=" << check.losses << "\nleaks=" << check.leaks
            << "\njournal=" << (verified.code == 0 ? "verified" : "broken") << "\nrecords=" << ledger.size()
            << "\ndaemon_exits=" << daemon_exits << "\nworkload_seconds=" << workload_seconds
            << "\nseconds=" << std::chrono::duration_cast<seconds>(Clock::now() - started).count() << "\n";
  for (const auto& [kind, count] : fault_counts) std::cout << "fault." << kind << "=" << count << "\n";
  std::cout << std::flush;
  keep_daemon_output();
  for (const auto& finding : check.findings) ADD_FAILURE() << finding;
  EXPECT_EQ(drift, 0);
  EXPECT_EQ(check.duplicates, 0);
  EXPECT_EQ(check.losses, 0);
  EXPECT_EQ(check.leaks, 0);
  EXPECT_EQ(verified.code, 0) << verified.all;
  if (HasFailure()) {
    std::string exits;
    for (int code : exit_codes) exits += std::to_string(code) + " ";
    ADD_FAILURE() << "seed " << seed << "; daemon exit codes: " << exits << "\nlast daemon output:\n"
                  << crmsync->output().substr(crmsync->output().size() > 20000 ? crmsync->output().size() - 20000 : 0);
  }
  stop();
}

}  // namespace
}  // namespace crmsync
