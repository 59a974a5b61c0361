#pragma once

// Internal to the sync engine (daemon/apply_*.cc): one event of a wave with everything decided
// about it, and the small id/version/JSON helpers the wave's steps share.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/apply_plan.h"
#include "mapping/record_merge.h"
#include "mapping/sharing_rules.h"
#include "state/sync_record_store.h"

namespace crmsync::daemon {

// One event of the wave and everything decided about it.
struct WaveItem {
  PendingEvent* pending = nullptr;
  std::string record_id;
  state::SyncRecord record;
  bool known = false;
  mapping::CanonicalFields incoming;
  std::optional<EventOutcome> outcome;  // decided early (duplicate, superseded, parked, …)
  std::string reason;
  std::map<mapping::Side, mapping::SideCopy> held;
  std::map<mapping::Side, std::string> read_versions;
  std::set<mapping::Side> missing;  // sides the id map says hold the record but that no longer do
  mapping::MergeResult merge;
  std::vector<std::string> failures;  // per-side permanent failures
  std::vector<mapping::Side> written;

  // Sharing (DESIGN §3): the record's sharing before and after this change.
  mapping::Sharing sharing_before;
  mapping::Sharing sharing_after;
  bool sharing_changed = false;
  // The inbound authorization of a partner's PRM change, when it denied something; `denied_values`
  // are the PRM values that were not propagated (written back to their base values on the PRM).
  std::optional<mapping::AuthorizationDecision> denial;
  std::string actor_org;  // the partner org of a partner user's PRM change, when known
  std::vector<std::string> denied_values;
  // Per CRM: what it holds (last written/seen), what it should hold, and what it holds after this
  // wave's writes (recorded as the record's side sharing).
  std::map<mapping::Side, mapping::SideSharing> side_before, side_desired, side_after;
  std::size_t share_writes_done = 0;  // grants and revocations written in this wave
};

// A sharing sweep's finding (daemon/sharing_sweep.h): a CRM's sharing changed, no field did.
bool is_sharing_sweep(const mapping::CanonicalEvent& event);
std::string sharing_json(const mapping::Sharing& sharing);

std::string side_name(mapping::Side side);
std::string object_name(mapping::ObjectKind object);
// The source's own id of the record an event is about.
const std::string& own_id(const mapping::CanonicalEvent& event);
std::optional<std::string> id_on(const state::SyncRecord& record, mapping::Side side);
void set_id_on(state::SyncRecord& record, mapping::Side side, const std::optional<std::string>& id);
// The record is no longer on `side` (its id there and the sharing last known there are dropped), so
// that the next write creates it again.
void forget_side(state::SyncRecord& record, mapping::Side side);
// The version a change carries: PRM row_version (the PRM event's column), the CRMs' source_version.
std::string version_of(const mapping::CanonicalEvent& event);
// a <= b in the side's version order (numbers for PRM row_version and Dataverse versionnumber,
// Salesforce SystemModstamp text, which sorts as time).
bool not_newer(std::string_view a, std::string_view b);
std::string actor_of(const mapping::CanonicalEvent& event);
std::string json_text(std::string_view text);
std::string json_value(const std::optional<mapping::FieldValue>& value);
// The key a parked deal waits for: "account:<side>:<id on that side>".
std::string waiting_key(mapping::Side side, const std::string& id);
// The key an account delete waits for while deals still refer to the account on a side:
// "deals-of:<canonical account id>", resolvable once no synced deal refers to it.
std::string referencing_deals_key(const std::string& account_id);

// Records the outcome of every item of an applied wave in the store (id map, base, versions,
// conflicts, parked events, applied events) and in `summary` (journal entries, counts, dead
// letters). Returns the waiting keys of the accounts the wave mapped.
mapping::Result<std::vector<std::string>> record_wave(state::SyncRecordStore& store, std::vector<WaveItem>& items,
                                                      WaveSummary& summary, spdlog::logger& logger);

}  // namespace crmsync::daemon
