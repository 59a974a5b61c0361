#pragma once

#include <functional>
#include <memory>
#include <vector>

namespace CLI {
class App;
}

namespace crmsync::daemon {

struct CommonOptions;
class OperatorSession;

// One subcommand of `crmsync conflicts`: its CLI11 app and what runs when it was chosen (with the
// configuration loaded and the state database connected).
struct ConflictCommand {
  CLI::App* app = nullptr;
  std::function<int(OperatorSession&)> run;
};

// Adds the subcommands of `crmsync conflicts` to `group`, each keeping its own options: `list
// [--status open|resolved|all] [--object account|deal] [--limit N]` and `show ID` (read-only, from
// the state table `conflicts`, DESIGN §4). The extension point for subcommands that change a
// conflict (`resolve ID (--take SIDE | --value JSON)`): register them here the same way, with
// add_change_options() (daemon/operator_cli.h) for --operator and --dry-run.
void register_conflict_commands(CLI::App& group, CommonOptions& options, std::vector<ConflictCommand>& commands);

// `crmsync conflicts …`: field conflicts under the `manual` policy, waiting for an operator.
// Exit codes: 0 ok (also when conflicts are listed: `crmsync status` is what counts open ones as
// a problem), 1 not found / database problem, 2 usage or configuration.
class ConflictsCli {
 public:
  ConflictsCli(CLI::App& app, CommonOptions& options);
  ~ConflictsCli();

  bool chosen() const;
  int run();

 private:
  CommonOptions& options_;
  CLI::App* group_ = nullptr;
  std::vector<ConflictCommand> commands_;
};

}  // namespace crmsync::daemon
