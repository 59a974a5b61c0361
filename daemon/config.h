#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace crmsync::daemon {

enum class LogFormat { json, text };
enum class LogLevel { trace, debug, info, warn, error, critical, off };

// [daemon]
struct DaemonSection {
  std::string instance_id;  // defaults to the host name
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(30)};
  std::chrono::milliseconds health_check_interval{std::chrono::seconds(5)};
  std::chrono::milliseconds dependency_timeout{std::chrono::seconds(5)};
  std::chrono::milliseconds retry_initial_backoff{500};
  std::chrono::milliseconds retry_max_backoff{std::chrono::seconds(30)};
  // How often a replica that does not hold the capture lock tries to take it (daemon/capture_leadership.h).
  std::chrono::milliseconds leader_retry_interval{std::chrono::seconds(5)};
};

// [log]
struct LogSection {
  LogLevel level = LogLevel::info;
  LogFormat format = LogFormat::json;
};

// [admin]
struct AdminSection {
  std::string host{"127.0.0.1"};
  std::uint16_t port = 9464;
};

// [state]
struct StateSection {
  std::string database_url;                          // required; no password in it
  std::optional<std::filesystem::path> password_file;
  std::string schema{"crmsync"};
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
};

// [kafka]
struct KafkaSection {
  std::vector<std::string> brokers;  // required; host:port
  std::string client_id{"crmsync"};
  std::string group_id{"crmsync-apply"};
  std::string topic_prefix{"crmsync"};
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
};

// [prm] — the partner portal's PostgreSQL database. Capture runs when this section is present.
struct PrmSection {
  std::string database_url;  // required in the section; the daemon's PRM role, no password in it
  std::optional<std::filesystem::path> password_file;
  std::string slot{"crmsync_prm"};
  std::string publication{"crmsync_prm"};
  std::chrono::milliseconds status_interval{std::chrono::seconds(10)};
  std::int64_t snapshot_batch_rows = 5000;
  std::int64_t retained_wal_warning_bytes = 1LL << 30;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
};

// [salesforce] — one Salesforce org (optional). Secret values come from the secret store
// ([secrets]) by name, or from the credential files named here.
struct SalesforceSection {
  std::string login_url;  // required
  std::string org;        // names the org in cursors and event ids; default: login_url's host
  std::string api_version{"59.0"};
  std::string auth_flow{"client_credentials"};  // client_credentials | jwt_bearer | refresh_token
  std::string client_id;  // required
  std::string username;   // jwt_bearer
  std::optional<std::filesystem::path> client_secret_file;
  std::optional<std::filesystem::path> private_key_file;
  std::optional<std::filesystem::path> refresh_token_file;
  std::optional<std::filesystem::path> ca_bundle;
  std::string call_options_client{"crmsync"};
  double api_budget_share = 0.5;
  bool capture = true;
  std::chrono::milliseconds poll_interval{std::chrono::seconds(5)};
  std::chrono::milliseconds overlap{std::chrono::minutes(2)};
};

// [dynamics] — one Dataverse environment (optional).
struct DynamicsSection {
  std::string org_url;  // required: https://contoso.crm.dynamics.com
  std::string authority_url{"https://login.microsoftonline.com"};
  std::string tenant;     // required
  std::string client_id;  // required
  std::optional<std::filesystem::path> client_secret_file;
  std::optional<std::filesystem::path> ca_bundle;
  std::int64_t batch_size = 100;
  // Requests in flight at once from this process (capture, sharing sweep and apply share them).
  // Dataverse allows 52 per user across every client of that user: replicas x this must stay under it.
  std::int64_t max_concurrent_requests = 8;
  bool capture = true;
  std::chrono::milliseconds poll_interval{std::chrono::seconds(5)};
};

// [secrets] — the encrypted secret store in the state database (optional).
struct SecretsSection {
  std::filesystem::path master_key_file;  // required in the section
  std::chrono::milliseconds previous_grace{std::chrono::hours(24)};
  std::chrono::milliseconds reload_interval{std::chrono::seconds(10)};
  std::chrono::milliseconds max_age{std::chrono::hours(24 * 90)};
  // [secrets.max_age_overrides]: secret name → its own maximum age, e.g.
  // `"salesforce.client_secret" = "30d"` (quoted: names contain dots).
  std::map<std::string, std::chrono::milliseconds> max_age_overrides;
};

// [journal] — the tamper-evident journal's HMAC key (DESIGN §4). The key is base64 of at least 32
// random bytes, from key_file or, when that is not set, from the secret store ([secrets]) under
// key_secret (daemon/journal_key.h loads it).
struct JournalSection {
  std::optional<std::filesystem::path> key_file;
  std::string key_secret{"journal-hmac-key"};
};

// [engine] — the apply workers (optional: when absent, this instance runs none, e.g. capture only).
struct EngineSection {
  std::optional<std::filesystem::path> mapping_file;  // default: the built-in default mapping
  std::int64_t batch_max_events = 500;
  std::chrono::milliseconds linger{200};
  std::int64_t delete_guard_max = 100;  // deletes from one side within the window before more are held
  std::chrono::milliseconds delete_guard_window{std::chrono::minutes(5)};
  bool enabled = true;
};

// [permissions] (DESIGN §3, docs/security.md): who partners are on the CRMs and how often crmsync
// looks again.
struct PermissionsSection {
  // The principals file: each partner org's Salesforce group and Dataverse team, each partner
  // user's Salesforce user and Dataverse systemuser. Without it no partner has a CRM counterpart
  // and records reach the CRMs shared with no partner (deny by default).
  std::optional<std::filesystem::path> principals_file;
  std::chrono::milliseconds directory_refresh{std::chrono::seconds(30)};  // re-read the PRM's partners
  std::chrono::milliseconds sharing_sweep_interval{std::chrono::seconds(60)};  // re-read the CRMs' shares
  std::int64_t anomaly_changes_per_minute = 5000;  // 0: off
  std::int64_t anomaly_denied_per_hour = 20;       // 0: off
  std::vector<std::string> quarantined_partner_orgs;  // PRM ids whose changes wait for an operator
};

// The validated configuration of one crmsync process (docs/configuration.md documents each key).
// Built only by load_config(): a Config that exists is valid.
struct Config {
  std::filesystem::path source_file;
  DaemonSection daemon;
  LogSection log;
  AdminSection admin;
  StateSection state;
  KafkaSection kafka;
  std::optional<PrmSection> prm;
  std::optional<SecretsSection> secrets;
  std::optional<SalesforceSection> salesforce;
  std::optional<DynamicsSection> dynamics;
  std::optional<JournalSection> journal;
  std::optional<EngineSection> engine;  // requires a journal key (journal.key_file or [secrets])
  PermissionsSection permissions;
};

// Everything wrong with a configuration file, one line per problem, each naming the key and the
// file position: `config: kafka.brokers: expected a list of host:port, got "x" (crmsync.toml:12)`.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

// Reads and validates a configuration file. Throws ConfigError listing every problem found
// (syntax, unknown keys, wrong types, out-of-range values, missing required keys).
Config load_config(const std::filesystem::path& file);

// Same, from text (for tests and `crmsync config check -`); `display_name` appears in messages.
Config parse_config(std::string_view toml_text, const std::string& display_name);

std::string_view to_string(LogLevel level);
std::string_view to_string(LogFormat format);

}  // namespace crmsync::daemon
