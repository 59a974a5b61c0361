#include "daemon/operator_cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "daemon/cli.h"
#include "daemon/commands.h"
#include "daemon/journal_key.h"
#include "daemon/secrets_cli.h"
#include "daemon/settings_from_config.h"
#include "state/state_database.h"

namespace crmsync::daemon {

void add_output_options(CLI::App& command, CommonOptions& options) {
  command.add_option("-c,--config", options.config_path,
                     "configuration file (default: $CRMSYNC_CONFIG or /etc/crmsync/crmsync.toml)");
  command.add_flag("--json", options.json, "machine-readable output (one JSON document on stdout)");
}

void add_change_options(CLI::App& command, ChangeOptions& change) {
  if (change.operator_name.empty()) change.operator_name = default_operator_name();
  command.add_option("--operator", change.operator_name, "who does this (journaled; default: the Unix user)");
  command.add_flag("--dry-run", change.dry_run, "say what would change; change nothing");
}

int report_failure(std::string_view command, std::string_view message, int code) {
  std::string line(message);
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  std::cerr << "crmsync " << command << ": " << line << '\n';
  return code;
}

int exit_code_for(const mapping::SyncError& error) {
  return error.error_class == mapping::ErrorClass::invalid ? kExitUsage : kExitProblem;
}

state::JournalEntry operator_journal_entry(const ChangeOptions& change, std::string object, std::string record_id,
                                           std::string event_id, std::string detail_json) {
  return {"operator", "operator:" + change.operator_name, std::move(object), std::move(record_id), "operator",
          std::move(event_id), "", std::move(detail_json)};
}

OperatorSession::OperatorSession(std::string command, Config config)
    : command_(std::move(command)), config_(std::move(config)) {}

OperatorSession::~OperatorSession() = default;

std::unique_ptr<OperatorSession> OperatorSession::open(std::string command, const CommonOptions& options,
                                                       int& exit_code) {
  auto config = load_config_for_command(options);  // prints each problem
  if (!config) {
    exit_code = kExitUsage;
    return nullptr;
  }
  std::unique_ptr<OperatorSession> session(new OperatorSession(std::move(command), std::move(*config)));
  state::StateDatabaseSettings settings;
  try {
    settings = state_settings_from(session->config_, session->redactor_);
  } catch (const std::exception& error) {
    exit_code = session->fail(error.what(), kExitUsage);
    return nullptr;
  }
  settings.application_name = "crmsync-" + session->command_;
  auto connected = state::StateDatabase::connect(settings);
  if (!connected) {
    exit_code = session->fail(session->redactor_.redact(connected.error().message), kExitProblem);
    return nullptr;
  }
  session->database_ = std::move(connected).value();
  return session;
}

int OperatorSession::fail(std::string_view message, int code) const {
  return report_failure(command_, message, code);
}

int OperatorSession::fail(const mapping::SyncError& error) const {
  return fail(redactor_.redact(error.message), exit_code_for(error));
}

std::optional<int> OperatorSession::require_tables(std::initializer_list<std::string_view> tables) {
  for (std::string_view table : tables) {
    auto present = database_->execute("SELECT to_regclass($1) IS NOT NULL",
                                      {database_->schema() + "." + std::string(table)});
    if (!present) return fail(present.error());
    if (present.value().at(0).at(0) != "t") {
      return fail(fmt::format("the state schema {} has no {} table yet; run `crmsync migrate` (or start the "
                              "daemon once, which migrates)",
                              database_->schema(), table),
                  kExitProblem);
    }
  }
  return std::nullopt;
}

mapping::Result<mapping::SecretString> OperatorSession::journal_key() {
  return load_journal_key(config_, *database_);
}

}  // namespace crmsync::daemon
