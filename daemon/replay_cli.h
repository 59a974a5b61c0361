#pragma once

#include <memory>

namespace CLI {
class App;
}

namespace crmsync::daemon {

struct CommonOptions;

// `crmsync replay --source prm|salesforce|dynamics (--from-offset N | --from-time T) [--until
// N|T] [--object account|deal] [--record ID]` (DESIGN §6): re-delivers captured change events
// through the normal apply path. It reads the source's change topic without joining any consumer
// group (partitions assigned by hand, nothing committed), so the live daemon's group is not
// disturbed. Idempotent by event id, as the engine is: an event the engine already recorded
// (applied_events: applied, skipped, parked, dead-lettered, …) is counted and not sent — the engine
// would drop it as a duplicate. Every other selected event (lost, or skipped by a moved offset) is
// produced again, byte for byte, to the same topic under the same key, so it is applied in the
// record's order with live changes. Events keep their ids on purpose: a copy under a new id would
// be applied again, and an old PRM change would overwrite newer values (PRM events carry no
// version the engine could compare). The command journals the run (kind `operator`), waits until
// the apply workers recorded every re-delivered event (unless --no-wait) and prints what became of
// them.
//
// Exit codes: 0 replayed (or nothing matched); 1 Kafka or the state database failing, or events
// not applied within --timeout; 2 usage or configuration.
class ReplayCli {
 public:
  ReplayCli(CLI::App& app, CommonOptions& options);
  ~ReplayCli();

  bool chosen() const;
  int run();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace crmsync::daemon
