#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/apply_engine.h"
#include "daemon/side_gateway.h"
#include "mapping/canonical_event.h"
#include "mapping/mapping_definition.h"
#include "mapping/principal_map.h"
#include "state/journal.h"

namespace spdlog {
class logger;
}

namespace crmsync::state {
class SyncRecordStore;
}

namespace crmsync::daemon {

struct WaveItem;

// An event waiting to be applied, with its Kafka value (kept for parking and dead letters).
struct PendingEvent {
  mapping::CanonicalEvent event;
  std::string json;
  bool unparked = false;  // taken from the parked table: not a re-delivery even though it was seen
};

// What one wave did, recorded by the caller in the wave's transaction (journal) and report.
struct WaveSummary {
  std::vector<state::JournalEntry> journal;
  std::map<EventOutcome, std::size_t> outcomes;
  std::vector<DeadLetter> dead_letters;
  std::size_t conflicts = 0;
  std::size_t denied = 0;  // changes (wholly or in part) denied by the inbound authorization
  std::map<std::string, std::size_t> denied_by_partner;
};

// Applies one wave (at most one event per record) inside the caller's state transaction: resolves
// ids, locks, de-duplicates, reads the targets, merges, writes through the gateways and records
// the outcome in the store. See ApplyEngine for the whole flow. Used by the engine's thread only.
class WavePlanner {
 public:
  WavePlanner(const mapping::MappingDefinition& mapping, const std::vector<SideGateway*>& gateways,
              const ApplyEngineSettings& settings, std::shared_ptr<spdlog::logger> logger,
              const mapping::PrincipalMap& principals);

  // Takes the wave from the front of `pending` (the rest goes to `deferred`, in order) and applies
  // it. Returns the waiting keys ("account:<side>:<id>") of the accounts the wave mapped, for
  // un-parking the deals that wait for them.
  mapping::Result<std::vector<std::string>> apply_wave(state::SyncRecordStore& store, std::vector<PendingEvent>& pending,
                                                       std::vector<PendingEvent>& deferred, WaveSummary& summary);

 private:
  using CanonicalCopy = std::function<mapping::Result<mapping::CanonicalFields>(
      mapping::Side, mapping::ObjectKind, const SideRecordState&)>;

  SideGateway& gateway_for(mapping::Side side) const;
  // Step 5b of a wave (daemon/apply_matching.cc).
  mapping::Status match_first_sync(state::SyncRecordStore& store, std::vector<WaveItem>& items,
                                   const CanonicalCopy& canonical_copy);
  // Step 4b (daemon/apply_sharing.cc): the sharing each change leads to, and the inbound
  // authorization of partners' PRM changes.
  void decide_sharing_and_authorization(WaveItem& item) const;
  // Step 6b: owners and shares each side must get, and the PRM reverts of denied changes.
  void plan_sharing_writes(WaveItem& item, std::map<mapping::Side, std::vector<mapping::CrmRecordWrite>>& writes,
                           std::map<mapping::Side, std::vector<WaveItem*>>& writers) const;
  // Step 7 around the record writes: revocations before, grants after (so a record is never more
  // visible while it changes than after).
  mapping::Status write_shares(std::vector<WaveItem>& items, bool grants_phase);

  const mapping::MappingDefinition& mapping_;
  const mapping::PrincipalMap& principals_;
  std::vector<SideGateway*> gateways_;
  const ApplyEngineSettings& settings_;
  std::shared_ptr<spdlog::logger> logger_;
  std::map<mapping::ObjectKind, std::vector<const mapping::FieldMapping*>> references_;  // reference fields per object
};

}  // namespace crmsync::daemon
