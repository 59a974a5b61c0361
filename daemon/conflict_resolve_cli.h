#pragma once

#include <vector>

namespace CLI {
class App;
}

namespace crmsync::daemon {

struct CommonOptions;
struct ConflictCommand;

// `crmsync conflicts resolve ID (--take prm|salesforce|dynamics | --value JSON)`: an operator
// decides a manual conflict (DESIGN §4). The decision travels the normal apply path: it is
// produced as a change event (actor "operator", `resolves_conflict`) to the change topic of a side
// that binds the field — the PRM's when it does — keyed like that side's captured changes so that
// it stays in the record's order; the apply workers write the value to every side that holds
// something else, close the conflict and journal `conflict_resolved` (policy "operator"). The
// command journals the request (kind `operator`), then waits (unless --no-wait) until an apply
// worker recorded the event, and reports what became of it.
//
// Exit codes: 0 resolved; 1 no such open conflict, a side the conflict does not name, Kafka or the
// state database failing, or no apply worker applying the decision within --timeout; 2 usage.
void register_conflict_resolve(CLI::App& group, CommonOptions& options, std::vector<ConflictCommand>& commands);

}  // namespace crmsync::daemon
