#include "daemon/commands.h"

#include <fmt/format.h>

#include <iostream>

#include "daemon/cli.h"
#include "daemon/daemon_process.h"
#include "daemon/engine_mapping.h"
#include "daemon/principal_directory.h"
#include "daemon/json_text.h"
#include "daemon/log_redactor.h"
#include "daemon/logging.h"
#include "daemon/settings_from_config.h"
#include "state/migrator.h"

namespace crmsync::daemon {

std::optional<Config> load_config_for_command(const CommonOptions& options) {
  try {
    return load_config(options.config_path);
  } catch (const ConfigError& error) {
    for (const auto& problem : error.problems()) std::cerr << problem << '\n';
    return std::nullopt;
  }
}

int run_daemon_command(const CommonOptions& options, SignalWaiter& signals) {
  auto config = load_config_for_command(options);
  if (!config) return kExitUsage;
  Logging logging(config->log.format, config->log.level, std::make_shared<LogRedactor>());
  logging.install_as_default();
  DaemonProcess process(std::move(*config), logging, signals);
  return process.run();
}

int migrate_command(const CommonOptions& options, bool dry_run) {
  auto config = load_config_for_command(options);
  if (!config) return kExitUsage;
  auto redactor = std::make_shared<LogRedactor>();
  state::StateDatabaseSettings settings;
  try {
    settings = state_settings_from(*config, *redactor);
  } catch (const std::exception& error) {
    std::cerr << "crmsync migrate: " << error.what() << '\n';
    return kExitUsage;
  }
  auto database = state::StateDatabase::connect(settings);
  if (!database) {
    std::cerr << "crmsync migrate: " << redactor->redact(database.error().message) << '\n';
    return kExitProblem;
  }
  auto report = state::migrate(*database.value(), state::embedded_migrations(),
                               dry_run ? state::DryRun::yes : state::DryRun::no);
  if (!report) {
    std::cerr << "crmsync migrate: " << redactor->redact(report.error().message) << '\n';
    return kExitProblem;
  }
  const auto& r = report.value();
  if (options.json) {
    std::string applied;
    for (int version : r.applied) applied += (applied.empty() ? "" : ",") + std::to_string(version);
    std::cout << fmt::format(
        "{{\"schema\":{},\"dry_run\":{},\"version_before\":{},\"version_after\":{},"
        "\"applied\":[{}]}}\n",
        json_quote(settings.schema), dry_run, r.version_before, r.version_after, applied);
  } else if (r.applied.empty()) {
    std::cout << fmt::format("state schema {} is up to date at version {}\n", settings.schema,
                             r.version_after);
  } else {
    std::cout << fmt::format("state schema {}: {} {} migration(s), version {} -> {}\n",
                             settings.schema, dry_run ? "would apply" : "applied",
                             r.applied.size(), r.version_before, r.version_after);
  }
  return kExitOk;
}

int version_command(bool json) {
  if (json) {
    std::cout << fmt::format("{{\"version\":{}}}\n", json_quote(CRMSYNC_VERSION));
  } else {
    std::cout << "crmsync " << CRMSYNC_VERSION << '\n';
  }
  return kExitOk;
}

int config_check_command(const CommonOptions& options) {
  try {
    Config config = load_config(options.config_path);
    (void)load_engine_mapping(config);  // the mapping file, when [engine] names one, is part of the configuration
    check_principal_file(config);       // so is the principals file
    if (options.json) {
      std::cout << fmt::format("{{\"valid\":true,\"file\":{}}}\n", json_quote(options.config_path));
    } else {
      std::cout << options.config_path << ": valid\n";
    }
    return kExitOk;
  } catch (const ConfigError& error) {
    if (options.json) {
      std::string problems;
      for (const auto& problem : error.problems()) {
        problems += (problems.empty() ? "" : ",") + json_quote(problem);
      }
      std::cout << fmt::format("{{\"valid\":false,\"file\":{},\"problems\":[{}]}}\n",
                               json_quote(options.config_path), problems);
    }
    for (const auto& problem : error.problems()) std::cerr << problem << '\n';
    return kExitUsage;
  }
}

}  // namespace crmsync::daemon
