#include "daemon/config.h"

#include <fmt/format.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "daemon/duration.h"
#include "daemon/toml_config_reader.h"
#include "state/migrations.h"
#include "state/secret_store.h"
#include "state/state_database.h"

namespace crmsync::daemon {

namespace {

using std::chrono::milliseconds;

std::string join(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) {
    if (!text.empty()) text += '\n';
    text += line;
  }
  return text;
}

std::string host_name() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0 || buffer[0] == '\0') return "crmsync";
  return buffer;
}

// Splits "host:port" (IPv6 as "[::1]:port"). Nothing when malformed.
std::optional<std::pair<std::string, std::uint16_t>> split_host_port(std::string_view text) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) return std::nullopt;
  std::string host(text.substr(0, colon));
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) return std::nullopt;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return std::nullopt;  // a bare IPv6 address needs brackets
  }
  unsigned port = 0;
  for (char c : text.substr(colon + 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + static_cast<unsigned>(c - '0');
    if (port > 65535) return std::nullopt;
  }
  return std::make_pair(host, static_cast<std::uint16_t>(port));
}

struct DurationRange {
  milliseconds min;
  milliseconds max;
};

void read_duration(TomlConfigReader& reader, std::string_view key, DurationRange range,
                   milliseconds& target) {
  auto text = reader.get_string(key, Requirement::optional);
  if (!text) return;
  auto value = parse_duration(*text);
  if (!value) {
    reader.add_problem(key, fmt::format("expected a duration such as \"500ms\", \"30s\", \"5m\" or "
                                        "\"1h\", got \"{}\"",
                                        *text));
    return;
  }
  if (*value < range.min || *value > range.max) {
    reader.add_problem(key, fmt::format("{} is out of range; allowed {} to {}", *text,
                                        format_duration(range.min), format_duration(range.max)));
    return;
  }
  target = *value;
}

void read_daemon(TomlConfigReader& reader, DaemonSection& daemon) {
  daemon.instance_id = reader.get_string("daemon.instance_id", Requirement::optional)
                           .value_or(host_name());
  if (daemon.instance_id.empty() || daemon.instance_id.size() > 128) {
    reader.add_problem("daemon.instance_id", "must be 1 to 128 characters");
  }
  read_duration(reader, "daemon.shutdown_grace", {milliseconds(100), std::chrono::minutes(10)},
                daemon.shutdown_grace);
  read_duration(reader, "daemon.health_check_interval",
                {milliseconds(100), std::chrono::minutes(5)}, daemon.health_check_interval);
  read_duration(reader, "daemon.dependency_timeout", {milliseconds(100), std::chrono::minutes(1)},
                daemon.dependency_timeout);
  read_duration(reader, "daemon.retry_initial_backoff",
                {milliseconds(10), std::chrono::minutes(1)}, daemon.retry_initial_backoff);
  read_duration(reader, "daemon.retry_max_backoff", {milliseconds(100), std::chrono::hours(1)},
                daemon.retry_max_backoff);
  read_duration(reader, "daemon.leader_retry_interval", {milliseconds(100), std::chrono::minutes(5)},
                daemon.leader_retry_interval);
  if (daemon.retry_max_backoff < daemon.retry_initial_backoff) {
    reader.add_problem("daemon.retry_max_backoff",
                       "must not be shorter than daemon.retry_initial_backoff");
  }
}

void read_log(TomlConfigReader& reader, LogSection& log) {
  if (auto level = reader.get_string("log.level", Requirement::optional)) {
    bool found = false;
    for (LogLevel candidate : {LogLevel::trace, LogLevel::debug, LogLevel::info, LogLevel::warn,
                               LogLevel::error, LogLevel::critical, LogLevel::off}) {
      if (to_string(candidate) == *level) {
        log.level = candidate;
        found = true;
      }
    }
    if (!found) {
      reader.add_problem("log.level", fmt::format("expected one of trace, debug, info, warn, error, "
                                                  "critical, off; got \"{}\"",
                                                  *level));
    }
  }
  if (auto format = reader.get_string("log.format", Requirement::optional)) {
    if (*format == "json") {
      log.format = LogFormat::json;
    } else if (*format == "text") {
      log.format = LogFormat::text;
    } else {
      reader.add_problem("log.format", fmt::format("expected \"json\" or \"text\", got \"{}\"",
                                                   *format));
    }
  }
}

void read_admin(TomlConfigReader& reader, AdminSection& admin) {
  auto listen = reader.get_string("admin.listen", Requirement::optional);
  if (!listen) return;
  auto parts = split_host_port(*listen);
  if (!parts) {
    reader.add_problem("admin.listen", fmt::format("expected host:port such as \"127.0.0.1:9464\" "
                                                   "or \"[::1]:9464\", got \"{}\"",
                                                   *listen));
    return;
  }
  admin.host = parts->first;
  admin.port = parts->second;
}

void read_state(TomlConfigReader& reader, StateSection& state) {
  if (auto url = reader.get_string("state.database_url", Requirement::required)) {
    if (!url->starts_with("postgresql://") && !url->starts_with("postgres://")) {
      reader.add_problem("state.database_url",
                         "expected a postgresql:// URL such as "
                         "\"postgresql://crmsync@db.example:5432/crmsync\"");
    } else if (state::url_has_password(*url)) {
      // Never echo the URL: it holds a password.
      reader.add_problem("state.database_url",
                         "must not contain a password; put the password in a file readable "
                         "only by crmsync and set state.password_file");
    } else {
      state.database_url = *url;
    }
  }
  if (auto path = reader.get_string("state.password_file", Requirement::optional)) {
    if (path->empty() || path->front() != '/') {
      reader.add_problem("state.password_file", fmt::format("expected an absolute path, got \"{}\"",
                                                            *path));
    } else {
      state.password_file = *path;
    }
  }
  if (auto schema = reader.get_string("state.schema", Requirement::optional)) {
    if (!state::is_valid_schema_name(*schema)) {
      reader.add_problem("state.schema",
                         fmt::format("expected a lower-case identifier (a-z, 0-9, _; not starting "
                                     "with a digit or pg_), got \"{}\"",
                                     *schema));
    } else {
      state.schema = *schema;
    }
  }
  read_duration(reader, "state.connect_timeout", {std::chrono::seconds(1), std::chrono::minutes(5)},
                state.connect_timeout);
}

void read_kafka(TomlConfigReader& reader, KafkaSection& kafka) {
  if (auto brokers = reader.get_string_list("kafka.brokers", Requirement::required)) {
    if (brokers->empty()) reader.add_problem("kafka.brokers", "expected at least one host:port");
    for (const auto& broker : *brokers) {
      if (!split_host_port(broker) || split_host_port(broker)->second == 0) {
        reader.add_problem("kafka.brokers",
                           fmt::format("expected a list of host:port, got \"{}\"", broker));
      }
    }
    kafka.brokers = *brokers;
  }
  auto read_name = [&](std::string_view key, std::string& target) {
    auto value = reader.get_string(key, Requirement::optional);
    if (!value) return;
    bool ok = !value->empty() && value->size() <= 200;
    for (char c : *value) {
      bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '.' || c == '_' || c == '-';
      ok = ok && allowed;
    }
    if (!ok) {
      reader.add_problem(key, fmt::format("expected 1 to 200 of a-z A-Z 0-9 . _ -, got \"{}\"",
                                          *value));
      return;
    }
    target = *value;
  };
  read_name("kafka.client_id", kafka.client_id);
  read_name("kafka.group_id", kafka.group_id);
  read_name("kafka.topic_prefix", kafka.topic_prefix);
  read_duration(reader, "kafka.request_timeout", {std::chrono::seconds(1), std::chrono::minutes(5)},
                kafka.request_timeout);
}

// Parses a byte size: a whole number with an optional binary unit, B, KiB, MiB or GiB.
std::optional<std::int64_t> parse_byte_size(std::string_view text) {
  std::int64_t number = 0;
  auto [rest, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || rest == text.data() || number < 0) return std::nullopt;
  std::string_view unit(rest, static_cast<std::size_t>(text.data() + text.size() - rest));
  std::int64_t factor = 0;
  if (unit.empty() || unit == "B") {
    factor = 1;
  } else if (unit == "KiB") {
    factor = 1LL << 10;
  } else if (unit == "MiB") {
    factor = 1LL << 20;
  } else if (unit == "GiB") {
    factor = 1LL << 30;
  } else {
    return std::nullopt;
  }
  if (number > std::numeric_limits<std::int64_t>::max() / factor) return std::nullopt;
  return number * factor;
}

void read_prm(TomlConfigReader& reader, std::optional<PrmSection>& target) {
  if (!reader.has_table("prm")) return;
  PrmSection prm;
  if (auto url = reader.get_string("prm.database_url", Requirement::required)) {
    if (!url->starts_with("postgresql://") && !url->starts_with("postgres://")) {
      reader.add_problem("prm.database_url", "expected a postgresql:// URL such as "
                                             "\"postgresql://crmsync_prm@portal-db:5432/prm\"");
    } else if (state::url_has_password(*url)) {
      reader.add_problem("prm.database_url", "must not contain a password; put the password in a "
                                             "file readable only by crmsync and set prm.password_file");
    } else {
      prm.database_url = *url;
    }
  }
  if (auto path = reader.get_string("prm.password_file", Requirement::optional)) {
    if (path->empty() || path->front() != '/') {
      reader.add_problem("prm.password_file", fmt::format("expected an absolute path, got \"{}\"", *path));
    } else {
      prm.password_file = *path;
    }
  }
  for (auto [key, field] : {std::pair{"prm.slot", &prm.slot}, std::pair{"prm.publication", &prm.publication}}) {
    auto value = reader.get_string(key, Requirement::optional);
    if (!value) continue;
    bool ok = !value->empty() && value->size() <= 63;
    for (char c : *value) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
    if (!ok) {
      reader.add_problem(key, fmt::format("expected 1 to 63 of a-z 0-9 _, got \"{}\"", *value));
    } else {
      *field = *value;
    }
  }
  read_duration(reader, "prm.status_interval", {milliseconds(100), std::chrono::seconds(30)},
                prm.status_interval);
  read_duration(reader, "prm.connect_timeout", {std::chrono::seconds(1), std::chrono::minutes(5)},
                prm.connect_timeout);
  if (auto rows = reader.get_integer("prm.snapshot_batch_rows", Requirement::optional)) {
    if (*rows < 100 || *rows > 1'000'000) {
      reader.add_problem("prm.snapshot_batch_rows", fmt::format("{} is out of range; allowed 100 to 1000000", *rows));
    } else {
      prm.snapshot_batch_rows = *rows;
    }
  }
  if (auto size = reader.get_string("prm.retained_wal_warning", Requirement::optional)) {
    auto bytes = parse_byte_size(*size);
    if (!bytes || *bytes < (1LL << 20)) {
      reader.add_problem("prm.retained_wal_warning",
                         fmt::format("expected a size of at least 1MiB such as \"512MiB\" or \"2GiB\", "
                                     "got \"{}\"", *size));
    } else {
      prm.retained_wal_warning_bytes = *bytes;
    }
  }
  target = std::move(prm);
}

void read_secrets(TomlConfigReader& reader, std::optional<SecretsSection>& target) {
  if (!reader.has_table("secrets")) return;
  SecretsSection secrets;
  if (auto path = reader.get_string("secrets.master_key_file", Requirement::required)) {
    if (path->empty() || path->front() != '/') {
      reader.add_problem("secrets.master_key_file",
                         fmt::format("expected an absolute path to the master key file, got \"{}\"", *path));
    } else {
      secrets.master_key_file = *path;
    }
  }
  read_duration(reader, "secrets.previous_grace", {milliseconds(0), std::chrono::hours(24 * 30)},
                secrets.previous_grace);
  read_duration(reader, "secrets.reload_interval", {std::chrono::seconds(1), std::chrono::minutes(10)},
                secrets.reload_interval);
  const DurationRange max_age_range{std::chrono::hours(1), std::chrono::hours(24 * 3650)};
  read_duration(reader, "secrets.max_age", max_age_range, secrets.max_age);
  if (auto overrides = reader.get_string_table("secrets.max_age_overrides", Requirement::optional)) {
    for (const auto& [secret, text] : *overrides) {
      auto value = parse_duration(text);
      if (!value) {
        reader.add_entry_problem("secrets.max_age_overrides", secret,
                                 fmt::format("expected a duration such as \"30d\" or \"12h\", got \"{}\"", text));
      } else if (*value < max_age_range.min || *value > max_age_range.max) {
        reader.add_entry_problem("secrets.max_age_overrides", secret,
                                 fmt::format("{} is out of range; allowed {} to {}", text,
                                             format_duration(max_age_range.min), format_duration(max_age_range.max)));
      } else {
        secrets.max_age_overrides[secret] = *value;
      }
    }
  }
  target = std::move(secrets);
}

void read_salesforce(TomlConfigReader& reader, std::optional<SalesforceSection>& target) {
  if (!reader.has_table("salesforce")) return;
  SalesforceSection sf;
  if (auto url = reader.get_string("salesforce.login_url", Requirement::required)) {
    if (!url->starts_with("https://")) {
      reader.add_problem("salesforce.login_url", fmt::format("expected an https:// URL such as "
                                                             "\"https://login.salesforce.com\", got \"{}\"", *url));
    } else {
      while (!url->empty() && url->back() == '/') url->pop_back();
      sf.login_url = *url;
      std::string host = url->substr(8);
      sf.org = host.substr(0, host.find_first_of(":/"));
    }
  }
  if (auto org = reader.get_string("salesforce.org", Requirement::optional)) sf.org = *org;
  if (auto version = reader.get_string("salesforce.api_version", Requirement::optional)) {
    bool ok = version->size() >= 4 && version->find('.') != std::string::npos &&
              version->find_first_not_of("0123456789.") == std::string::npos;
    if (!ok) {
      reader.add_problem("salesforce.api_version", fmt::format("expected a version such as \"59.0\", got \"{}\"", *version));
    } else {
      sf.api_version = *version;
    }
  }
  if (auto flow = reader.get_string("salesforce.auth_flow", Requirement::optional)) {
    if (*flow != "client_credentials" && *flow != "jwt_bearer" && *flow != "refresh_token") {
      reader.add_problem("salesforce.auth_flow", fmt::format("expected client_credentials, jwt_bearer or refresh_token, "
                                                             "got \"{}\"", *flow));
    } else {
      sf.auth_flow = *flow;
    }
  }
  if (auto id = reader.get_string("salesforce.client_id", Requirement::required)) sf.client_id = *id;
  if (auto user = reader.get_string("salesforce.username", Requirement::optional)) sf.username = *user;
  if (sf.auth_flow == "jwt_bearer" && sf.username.empty()) {
    reader.add_problem("salesforce.username", "required when salesforce.auth_flow is jwt_bearer");
  }
  auto read_path = [&](std::string_view key, std::optional<std::filesystem::path>& field) {
    auto path = reader.get_string(key, Requirement::optional);
    if (!path) return;
    if (path->empty() || path->front() != '/') {
      reader.add_problem(key, fmt::format("expected an absolute path, got \"{}\"", *path));
    } else {
      field = *path;
    }
  };
  read_path("salesforce.client_secret_file", sf.client_secret_file);
  read_path("salesforce.private_key_file", sf.private_key_file);
  read_path("salesforce.refresh_token_file", sf.refresh_token_file);
  read_path("salesforce.ca_bundle", sf.ca_bundle);
  if (auto client = reader.get_string("salesforce.call_options_client", Requirement::optional)) sf.call_options_client = *client;
  if (auto share = reader.get_string("salesforce.api_budget_share", Requirement::optional)) {
    // A percentage as text keeps TOML integers and floats out of the way: "50%".
    std::string text = *share;
    bool ok = text.size() >= 2 && text.back() == '%';
    int percent = ok ? std::atoi(text.substr(0, text.size() - 1).c_str()) : 0;
    if (!ok || percent < 1 || percent > 100 || text.substr(0, text.size() - 1).find_first_not_of("0123456789") != std::string::npos) {
      reader.add_problem("salesforce.api_budget_share", fmt::format("expected a percentage from \"1%\" to \"100%\", got \"{}\"", text));
    } else {
      sf.api_budget_share = percent / 100.0;
    }
  }
  if (auto capture = reader.get_bool("salesforce.capture", Requirement::optional)) sf.capture = *capture;
  read_duration(reader, "salesforce.poll_interval", {milliseconds(500), std::chrono::minutes(10)}, sf.poll_interval);
  read_duration(reader, "salesforce.overlap", {std::chrono::seconds(0), std::chrono::hours(1)}, sf.overlap);
  target = std::move(sf);
}

void read_dynamics(TomlConfigReader& reader, std::optional<DynamicsSection>& target) {
  if (!reader.has_table("dynamics")) return;
  DynamicsSection dv;
  auto read_https = [&](std::string_view key, std::string& field, Requirement requirement) {
    auto url = reader.get_string(key, requirement);
    if (!url) return;
    if (!url->starts_with("https://")) {
      reader.add_problem(key, fmt::format("expected an https:// URL, got \"{}\"", *url));
      return;
    }
    while (!url->empty() && url->back() == '/') url->pop_back();
    field = *url;
  };
  read_https("dynamics.org_url", dv.org_url, Requirement::required);
  read_https("dynamics.authority_url", dv.authority_url, Requirement::optional);
  if (auto tenant = reader.get_string("dynamics.tenant", Requirement::required)) dv.tenant = *tenant;
  if (auto id = reader.get_string("dynamics.client_id", Requirement::required)) dv.client_id = *id;
  for (auto [key, field] : {std::pair{"dynamics.client_secret_file", &dv.client_secret_file},
                            std::pair{"dynamics.ca_bundle", &dv.ca_bundle}}) {
    auto path = reader.get_string(key, Requirement::optional);
    if (!path) continue;
    if (path->empty() || path->front() != '/') {
      reader.add_problem(key, fmt::format("expected an absolute path, got \"{}\"", *path));
    } else {
      *field = *path;
    }
  }
  if (auto size = reader.get_integer("dynamics.batch_size", Requirement::optional)) {
    if (*size < 1 || *size > 1000) {
      reader.add_problem("dynamics.batch_size", fmt::format("{} is out of range; allowed 1 to 1000 (Dataverse's limit)", *size));
    } else {
      dv.batch_size = *size;
    }
  }
  if (auto cap = reader.get_integer("dynamics.max_concurrent_requests", Requirement::optional)) {
    if (*cap < 1 || *cap > 52) {
      reader.add_problem("dynamics.max_concurrent_requests",
                         fmt::format("{} is out of range; allowed 1 to 52 (Dataverse's concurrent requests per user; "
                                     "with several replicas, divide 52 among them)",
                                     *cap));
    } else {
      dv.max_concurrent_requests = *cap;
    }
  }
  if (auto capture = reader.get_bool("dynamics.capture", Requirement::optional)) dv.capture = *capture;
  read_duration(reader, "dynamics.poll_interval", {milliseconds(500), std::chrono::minutes(10)}, dv.poll_interval);
  target = std::move(dv);
}

void read_journal(TomlConfigReader& reader, std::optional<JournalSection>& target) {
  if (!reader.has_table("journal")) {
    for (const char* key : {"journal.key_file", "journal.key_secret"}) reader.declare_known(key);
    return;
  }
  JournalSection journal;
  if (auto path = reader.get_string("journal.key_file", Requirement::optional)) {
    if (path->empty() || path->front() != '/') {
      reader.add_problem("journal.key_file", fmt::format("expected an absolute path to the journal key file, got \"{}\"", *path));
    } else {
      journal.key_file = *path;
    }
  }
  if (auto name = reader.get_string("journal.key_secret", Requirement::optional)) {
    if (!state::SecretStore::is_valid_name(*name)) {
      reader.add_problem("journal.key_secret", fmt::format("expected a secret name (a-z 0-9, then also . _ -; at most "
                                                           "128), got \"{}\"", *name));
    } else {
      journal.key_secret = *name;
    }
  }
  target = std::move(journal);
}

void read_permissions(TomlConfigReader& reader, PermissionsSection& permissions) {
  if (auto path = reader.get_string("permissions.principals_file", Requirement::optional)) {
    if (path->empty() || path->front() != '/') {
      reader.add_problem("permissions.principals_file", fmt::format("expected an absolute path, got \"{}\"", *path));
    } else {
      permissions.principals_file = *path;
    }
  }
  read_duration(reader, "permissions.directory_refresh", {std::chrono::seconds(1), std::chrono::hours(1)},
                permissions.directory_refresh);
  read_duration(reader, "permissions.sharing_sweep_interval", {std::chrono::seconds(1), std::chrono::hours(24)},
                permissions.sharing_sweep_interval);
  for (auto [key, target] : {std::pair{"permissions.anomaly_changes_per_minute", &permissions.anomaly_changes_per_minute},
                             std::pair{"permissions.anomaly_denied_per_hour", &permissions.anomaly_denied_per_hour}}) {
    if (auto value = reader.get_integer(key, Requirement::optional)) {
      if (*value < 0 || *value > 100'000'000) {
        reader.add_problem(key, fmt::format("{} is out of range; allowed 0 (off) to 100000000", *value));
      } else {
        *target = *value;
      }
    }
  }
  if (auto orgs = reader.get_string_list("permissions.quarantined_partner_orgs", Requirement::optional)) {
    permissions.quarantined_partner_orgs = *orgs;
  }
}

void read_engine(TomlConfigReader& reader, std::optional<EngineSection>& target) {
  if (!reader.has_table("engine")) {
    for (const char* key : {"engine.mapping_file", "engine.batch_max_events", "engine.linger", "engine.delete_guard_max",
                            "engine.delete_guard_window", "engine.enabled"}) {
      reader.declare_known(key);
    }
    return;
  }
  EngineSection engine;
  if (auto path = reader.get_string("engine.mapping_file", Requirement::optional)) {
    if (path->empty() || path->front() != '/') {
      reader.add_problem("engine.mapping_file", fmt::format("expected an absolute path, got \"{}\"", *path));
    } else {
      engine.mapping_file = *path;
    }
  }
  auto read_count = [&](std::string_view key, std::int64_t min, std::int64_t max, std::int64_t& field) {
    auto value = reader.get_integer(key, Requirement::optional);
    if (!value) return;
    if (*value < min || *value > max) {
      reader.add_problem(key, fmt::format("{} is out of range; allowed {} to {}", *value, min, max));
    } else {
      field = *value;
    }
  };
  read_count("engine.batch_max_events", 1, 10'000, engine.batch_max_events);
  read_duration(reader, "engine.linger", {milliseconds(0), std::chrono::minutes(1)}, engine.linger);
  read_count("engine.delete_guard_max", 1, 1'000'000, engine.delete_guard_max);
  read_duration(reader, "engine.delete_guard_window", {std::chrono::seconds(1), std::chrono::hours(24 * 7)},
                engine.delete_guard_window);
  if (auto enabled = reader.get_bool("engine.enabled", Requirement::optional)) engine.enabled = *enabled;
  target = std::move(engine);
}

// The journal key must come from somewhere: journal.key_file, or the secret store.
void check_journal_key_source(TomlConfigReader& reader, const Config& config) {
  if (config.secrets || (config.journal && config.journal->key_file)) return;
  if (config.journal) {
    reader.add_problem("journal", fmt::format("has no key: set journal.key_file, or configure [secrets] so that the "
                                              "key is read from the secret store as \"{}\"",
                                              config.journal->key_secret));
  } else if (config.engine) {
    reader.add_problem("engine", "needs the journal key: set journal.key_file in a [journal] section, or configure "
                                 "[secrets] and store the key with `crmsync secrets put journal-hmac-key --from-file F`");
  }
}

}  // namespace

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error(join(problems)), problems_(std::move(problems)) {}

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::trace: return "trace";
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    case LogLevel::critical: return "critical";
    case LogLevel::off: return "off";
  }
  return "info";
}

std::string_view to_string(LogFormat format) {
  return format == LogFormat::json ? "json" : "text";
}

Config parse_config(std::string_view toml_text, const std::string& display_name) {
  toml::table root;
  try {
    root = toml::parse(toml_text, display_name);
  } catch (const toml::parse_error& error) {
    throw ConfigError({fmt::format("config: syntax error: {} ({}:{}:{})", error.description(),
                                   display_name, error.source().begin.line,
                                   error.source().begin.column)});
  }

  Config config;
  TomlConfigReader reader(root, display_name);
  read_daemon(reader, config.daemon);
  read_log(reader, config.log);
  read_admin(reader, config.admin);
  read_state(reader, config.state);
  read_kafka(reader, config.kafka);
  read_prm(reader, config.prm);
  read_secrets(reader, config.secrets);
  read_salesforce(reader, config.salesforce);
  read_dynamics(reader, config.dynamics);
  read_journal(reader, config.journal);
  read_engine(reader, config.engine);
  read_permissions(reader, config.permissions);
  check_journal_key_source(reader, config);
  reader.report_unknown_keys();
  if (!reader.problems().empty()) throw ConfigError(reader.problems());
  return config;
}

Config load_config(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw ConfigError({fmt::format("config: cannot read {}: {}; pass --config PATH or set "
                                   "CRMSYNC_CONFIG",
                                   file.string(), std::strerror(errno))});
  }
  std::ostringstream text;
  text << in.rdbuf();
  Config config = parse_config(text.str(), file.string());
  config.source_file = file;
  return config;
}

}  // namespace crmsync::daemon
