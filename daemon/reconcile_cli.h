#pragma once

#include <memory>

namespace CLI {
class App;
}

namespace crmsync::daemon {

struct CommonOptions;

// `crmsync reconcile --object account|deal [--side salesforce|dynamics] [--since T] [--fix]`
// (DESIGN §6): reads every record of the object on the PRM and on each CRM (or the one --side
// names) and reports drift by kind — missing on one side, a field that differs, sharing that
// differs (a partner share or owner on one side only is flagged as a possible exposure). It
// streams: the PRM's rows are read in one read-only snapshot, a batch of 200 at a time, each batch
// compared with the CRM's copies and sharing read by id (the engine's own reads); then the CRM's
// records are listed page by page to find those the PRM lacks. Memory stays at one batch or page
// plus the PRM's share rows. --since T compares only records changed at or after T on either side.
//
// --fix sends repair events through the normal apply path (DriftScanner says which), journaled by
// the engine as `reconcile`, and waits until the apply workers recorded them (unless --no-wait);
// with --dry-run it says what it would send. Progress goes to stderr every few seconds.
//
// Exit codes: 0 no drift (or, with --fix, every drift repaired; with --no-wait, the repairs sent);
// 1 drift found and not (all) repaired, or the PRM, a CRM, Kafka or the state database failing;
// 2 usage or configuration.
class ReconcileCli {
 public:
  ReconcileCli(CLI::App& app, CommonOptions& options);
  ~ReconcileCli();

  bool chosen() const;
  int run();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace crmsync::daemon
