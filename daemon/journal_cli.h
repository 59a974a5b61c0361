#pragma once

#include <memory>

namespace CLI {
class App;
}

namespace crmsync::daemon {

struct CommonOptions;

// `crmsync journal verify|show|explain`: read-only operator commands on the tamper-evident journal
// (state/journal.h). verify recomputes the hash chain with the journal key; show lists one
// record's entries; explain names the entry that gave a field its current value. Exit codes: 0
// ok, 1 broken chain / nothing found / database problem, 2 usage or configuration.
class JournalCli {
 public:
  // Registers the subcommands on `app`; `options` receives --config/--json.
  JournalCli(CLI::App& app, CommonOptions& options);
  ~JournalCli();

  bool chosen() const;
  int run();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace crmsync::daemon
