#include "daemon/cli.h"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "daemon/commands.h"
#include "daemon/conflicts_cli.h"
#include "daemon/dead_letters_cli.h"
#include "daemon/journal_cli.h"
#include "daemon/reconcile_cli.h"
#include "daemon/replay_cli.h"
#include "daemon/secrets_cli.h"
#include "daemon/signal_waiter.h"
#include "daemon/status_cli.h"

namespace crmsync::daemon {

namespace {

std::string default_config_path() {
  const char* from_env = std::getenv("CRMSYNC_CONFIG");
  return from_env != nullptr && from_env[0] != '\0' ? from_env : "/etc/crmsync/crmsync.toml";
}

void add_config_option(CLI::App& command, CommonOptions& options) {
  command.add_option("-c,--config", options.config_path,
                     "configuration file (default: $CRMSYNC_CONFIG or /etc/crmsync/crmsync.toml)");
}

}  // namespace

int run_cli(int argc, char** argv) {
  // Block the shutdown and reload signals before any thread exists (see SignalWaiter).
  SignalWaiter signals;

  CLI::App app("crmsync: two-way, permission-aware sync between a partner portal and a CRM",
               "crmsync");
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("crmsync ") + CRMSYNC_VERSION);

  CommonOptions options;
  options.config_path = default_config_path();
  bool dry_run = false;

  CLI::App* run = app.add_subcommand("run", "run the sync daemon until SIGTERM");
  add_config_option(*run, options);

  CLI::App* migrate = app.add_subcommand("migrate", "bring the state database schema up to date");
  add_config_option(*migrate, options);
  migrate->add_flag("--dry-run", dry_run, "show what would be applied, change nothing");
  migrate->add_flag("--json", options.json, "machine-readable output");

  CLI::App* version = app.add_subcommand("version", "print the version");
  version->add_flag("--json", options.json, "machine-readable output");

  CLI::App* config = app.add_subcommand("config", "work with the configuration file");
  config->require_subcommand(1);
  CLI::App* check = config->add_subcommand("check", "validate a configuration file and exit");
  add_config_option(*check, options);
  check->add_flag("--json", options.json, "machine-readable output");

  SecretsCli secrets(app, options);
  JournalCli journal(app, options);
  DeadLettersCli dead_letters(app, options);
  ConflictsCli conflicts(app, options);
  StatusCli status(app, options);
  ReplayCli replay(app, options);
  ReconcileCli reconcile(app, options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);  // --help, --version
    std::cerr << "crmsync: " << error.what() << " (see crmsync --help)\n";
    return kExitUsage;
  }

  if (*run) return run_daemon_command(options, signals);
  if (*migrate) return migrate_command(options, dry_run);
  if (*version) return version_command(options.json);
  if (*check) return config_check_command(options);
  if (secrets.chosen()) return secrets.run();
  if (journal.chosen()) return journal.run();
  if (dead_letters.chosen()) return dead_letters.run();
  if (conflicts.chosen()) return conflicts.run();
  if (status.chosen()) return status.run();
  if (replay.chosen()) return replay.run();
  if (reconcile.chosen()) return reconcile.run();
  return kExitUsage;
}

}  // namespace crmsync::daemon
