#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include "daemon/side_gateway.h"
#include "mapping/mapping_definition.h"
#include "mapping/secret.h"
#include "mapping/sync_error.h"

namespace spdlog {
class logger;
}

namespace crmsync::state {
class StateDatabase;
}

namespace crmsync::mapping {
class PrincipalMap;
}

namespace crmsync::daemon {

struct ApplyEngineSettings {
  std::string instance_id{"crmsync"};
  std::int64_t delete_guard_max = 100;  // deletes from one side within the window before further ones are held
  std::chrono::milliseconds delete_guard_window{std::chrono::minutes(5)};
  // Partner orgs whose PRM changes are held for an operator (parked, journaled) instead of applied.
  std::set<std::string> quarantined_partner_orgs;
};

// What became of one event.
enum class EventOutcome { applied, duplicate, echo_skipped, superseded, parked, dead_lettered, delete_held, denied };
std::string_view to_string(EventOutcome outcome);

// An event that failed permanently, for the dead-letter topic.
struct DeadLetter {
  std::string key;
  std::string event_json;
  std::string reason;
};

struct ApplyReport {
  std::map<EventOutcome, std::size_t> outcomes;
  std::vector<DeadLetter> dead_letters;  // produce these before committing the offsets
  std::size_t waves = 0;
  std::size_t conflicts = 0;
  std::size_t denied = 0;  // partners' changes denied wholly or in part
  std::map<std::string, std::size_t> denied_by_partner;  // partner org -> denials ("" when unknown)
};

// The sync engine (DESIGN §2 "Apply", §4): turns captured change events into writes on the other
// sides. Events are applied in waves of at most one event per record: for a wave, one state
// transaction locks the records (advisory locks, so several workers and replicas never merge one
// record at once), drops events already applied, loads id map and base snapshots, reads the target
// sides' current copies, merges field by field (mapping/record_merge.h), writes to every other side
// in batches through the gateways, then records id map, base, applied events, conflicts, parked
// events and the journal, and commits. A re-delivered event finds itself applied and changes
// nothing. Deals whose account is not mapped yet are parked and applied when the account arrives.
//
// Owned by one apply worker thread; the gateways and the state connection are its own.
class ApplyEngine {
 public:
  ApplyEngine(const mapping::MappingDefinition& mapping, std::vector<SideGateway*> gateways,
              state::StateDatabase& state, mapping::SecretString journal_key, ApplyEngineSettings settings,
              std::shared_ptr<spdlog::logger> logger);
  ~ApplyEngine();
  ApplyEngine(const ApplyEngine&) = delete;
  ApplyEngine& operator=(const ApplyEngine&) = delete;

  // Applies Kafka values in their order. An error (transient, auth, rate_limited) means that the
  // waves not yet committed are not recorded: call again with the same values later (the effect
  // is exactly-once either way).
  mapping::Result<ApplyReport> apply(const std::vector<std::string>& event_jsons);

  // Applies parked events whose reference has arrived since they were parked (periodic sweep).
  mapping::Result<ApplyReport> retry_parked();

  // The principal map the next waves translate sharing and authorize partners with (DESIGN §3).
  // Until one is set, no partner is known: every partner change is denied and no record is shared
  // with any partner (deny by default).
  void set_principal_map(std::shared_ptr<const mapping::PrincipalMap> principals);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crmsync::daemon
