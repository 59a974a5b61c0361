#pragma once

#include <optional>
#include <string>

#include "mapping/sync_error.h"

namespace crmsync::state {
class StateDatabase;
}

namespace crmsync::connectors::dynamics {

// Reads and writes `<schema>.dynamics_capture` (migration 0004): the delta link of each entity
// set of one Dataverse environment. Uses the connection it is given; the capture owns both.
class DeltaLinkStore {
 public:
  explicit DeltaLinkStore(state::StateDatabase& database);

  mapping::Result<std::optional<std::string>> load(const std::string& org,
                                                   const std::string& entity_set);
  // After Kafka acknowledged everything read up to `delta_link`. `baseline`: it ends a full read.
  mapping::Status save(const std::string& org, const std::string& entity_set,
                       const std::string& delta_link, bool baseline);
  // The stored link was refused; a new baseline follows. Forgets the link, keeps the reason.
  mapping::Status record_rebaseline(const std::string& org, const std::string& entity_set,
                                    const std::string& reason);
  // How many re-baselines this entity set went through.
  mapping::Result<int> rebaseline_count(const std::string& org, const std::string& entity_set);

 private:
  state::StateDatabase& database_;
};

}  // namespace crmsync::connectors::dynamics
