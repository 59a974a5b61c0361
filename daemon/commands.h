#pragma once

#include <string>

#include "daemon/config.h"

namespace crmsync::daemon {

// Options every subcommand that reads the configuration shares.
struct CommonOptions {
  std::string config_path;
  bool json = false;
};

class SignalWaiter;

int run_daemon_command(const CommonOptions& options, SignalWaiter& signals);
int migrate_command(const CommonOptions& options, bool dry_run);
int version_command(bool json);
int config_check_command(const CommonOptions& options);

// Loads the configuration for a command, printing each problem to stderr. Nothing on failure.
std::optional<Config> load_config_for_command(const CommonOptions& options);

}  // namespace crmsync::daemon
