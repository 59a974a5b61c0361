#pragma once

#include <memory>

namespace CLI {
class App;
}

namespace crmsync::daemon {

struct CommonOptions;

// `crmsync dead-letters list|show ID|retry ID|discard ID`: the events the apply workers could not
// apply, read from the dead-letter topic `<kafka.topic_prefix>.deadletter` with a reader of its
// own (no consumer group joined, nothing committed: the live daemon is undisturbed), and the
// operators' decisions on them (state table dead_letter_decisions, migration 0009).
//
// A dead letter's ID is "<partition>:<offset>" on the topic (daemon/dead_letter.h). `list` hides
// the ones already retried or discarded (--all shows them). `retry` hands the original event back
// to the apply workers through the parked-events path (state/dead_letter_decisions.h), which
// re-applies it with the normal engine, and refuses a letter whose record has since changed on the
// same side (re-applying it would undo that change). `retry` and `discard` are journaled as
// `operator` entries and take --dry-run. Exit codes: 0 ok, 1 not found / refused / Kafka or
// database problem, 2 usage or configuration.
class DeadLettersCli {
 public:
  DeadLettersCli(CLI::App& app, CommonOptions& options);
  ~DeadLettersCli();

  bool chosen() const;
  int run();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace crmsync::daemon
