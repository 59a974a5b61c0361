#pragma once

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/config.h"
#include "daemon/log_redactor.h"
#include "mapping/secret.h"
#include "mapping/sync_error.h"
#include "state/journal.h"

namespace CLI {
class App;
}

namespace crmsync::state {
class StateDatabase;
}

namespace crmsync::daemon {

struct CommonOptions;

// The conventions every operator command follows (docs/operations.md "Operator commands"):
// --help, --config, human output by default and --json for scripts, exit 0 on success, 1 when the
// command found or hit a problem it reports, 2 on usage or configuration errors, each failure as
// one line "crmsync <command>: <reason>" on stderr. Commands that change anything take
// --operator NAME (default: the Unix user), journal what they did as kind `operator`, and take
// --dry-run (say what would change, change nothing).

// What a command that changes something takes besides --config and --json.
struct ChangeOptions {
  std::string operator_name;  // defaults to default_operator_name()
  bool dry_run = false;
};

// Adds --config and --json to `command`.
void add_output_options(CLI::App& command, CommonOptions& options);
// Adds --operator and --dry-run to `command` (and sets the default operator name).
void add_change_options(CLI::App& command, ChangeOptions& change);

// Writes "crmsync <command>: <message>" as one line on stderr; returns `code`.
int report_failure(std::string_view command, std::string_view message, int code);
// kExitUsage for an `invalid` error (bad input or configuration), kExitProblem otherwise.
int exit_code_for(const mapping::SyncError& error);

// An `operator` journal entry: actor "operator:<name>", source "operator"; `detail_json` must be
// a JSON object naming the action ({"action":"dead_letter_discard",...}).
state::JournalEntry operator_journal_entry(const ChangeOptions& change, std::string object, std::string record_id,
                                           std::string event_id, std::string detail_json);

// The configuration and state database connection of one run of an operator command. Opening it
// loads the configuration and connects; on failure it prints the one-line reason and gives the
// exit code instead.
class OperatorSession {
 public:
  // `command` names the command in messages ("dead-letters", "conflicts", …).
  static std::unique_ptr<OperatorSession> open(std::string command, const CommonOptions& options, int& exit_code);
  ~OperatorSession();

  const Config& config() const { return config_; }
  state::StateDatabase& database() { return *database_; }
  const LogRedactor& redactor() const { return redactor_; }

  int fail(std::string_view message, int code) const;
  int fail(const mapping::SyncError& error) const;  // redacted; code from exit_code_for()

  // Nothing when the state schema has every table; else the exit code after reporting that the
  // schema must be migrated (`crmsync migrate`) or the database could not be asked.
  std::optional<int> require_tables(std::initializer_list<std::string_view> tables);

  // The journal's HMAC key (journal.key_file, or the secret store with [secrets]).
  mapping::Result<mapping::SecretString> journal_key();

 private:
  OperatorSession(std::string command, Config config);
  std::string command_;
  Config config_;
  LogRedactor redactor_;
  std::unique_ptr<state::StateDatabase> database_;
};

}  // namespace crmsync::daemon
