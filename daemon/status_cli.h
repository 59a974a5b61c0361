#pragma once

#include <memory>

namespace CLI {
class App;
}

namespace crmsync::daemon {

struct CommonOptions;

// `crmsync status`: per pipeline whether it runs, capture cursors and lag, the apply group's lag
// per partition, last errors, API budget, open conflicts, held deletes, parked events, dead
// letters, denied changes and partner flags of the last 24 h, secrets nearing their maximum age
// (daemon/status_report.h). Works whether the daemon runs or not. Exit codes: 0 nothing needs
// attention, 1 problems listed (docs/operations.md says which), 2 usage or configuration.
class StatusCli {
 public:
  StatusCli(CLI::App& app, CommonOptions& options);
  ~StatusCli();

  bool chosen() const;
  int run();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace crmsync::daemon
