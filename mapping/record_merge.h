#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mapping/mapping_definition.h"

namespace crmsync::mapping {

// One side's copy of a record as the engine read it just before writing (DESIGN §4): its values
// in canonical form and when that side last changed the record.
struct SideCopy {
  CanonicalFields values;
  std::string modified_at;  // RFC 3339
};

// Everything the three-way merge of one incoming change needs. No I/O: the engine gathers it.
struct MergeInput {
  const ObjectMapping* mapping = nullptr;
  CanonicalFields base;      // the last values every side agreed on (empty for a record never synced)
  Side source = Side::prm;   // where the change comes from
  CanonicalFields incoming;  // the source's values (the fields bound on the source side)
  std::string incoming_at;   // when the source changed it (RFC 3339)
  std::vector<Side> targets;             // the other configured sides
  std::map<Side, SideCopy> held;         // targets that already hold the record, as read now
  std::set<std::string> open_conflicts;  // fields with a manual conflict waiting for an operator
  // Fields an operator decided (`crmsync conflicts resolve`): the incoming value is taken as it is,
  // without comparing with the base or the other sides, and written to every side that holds
  // something else — the source too, when `held` has its copy.
  std::set<std::string> operator_decided;
};

// A field changed on two sides to different values since the base.
struct FieldConflict {
  std::string field;
  ConflictPolicy policy = ConflictPolicy::manual;
  std::optional<FieldValue> base;
  std::map<Side, FieldValue> values;  // each party's value
  std::optional<Side> winner;         // nothing: `manual`, queued for an operator
};

// What to do: new agreed values, per-side writes, and the conflicts met.
struct MergeResult {
  CanonicalFields agreed;                  // fields whose agreed value is (re)decided by this change
  std::map<Side, CanonicalFields> writes;  // per side (the source too, when another side's value won)
  std::vector<FieldConflict> conflicts;
  std::vector<std::string> changed;        // fields whose agreed value differs from the base
  std::vector<std::string> held_open;      // fields left alone because a manual conflict is open
};

// The field-level three-way merge (DESIGN §4). For each field the source holds:
//  - unchanged since the base on the source: nothing to do for it;
//  - changed on the source only: taken, written to every side whose value differs;
//  - changed on the source and, differently, on a target (read just now, so an edit whose change
//    event has not arrived yet is not overwritten): a conflict, decided by the field's policy —
//    `prm_wins`, `crm_wins` (the latest CRM party if two), `latest_wins` (modification times; the
//    source on a tie) — or, for `manual`, left as it is on every side and reported without winner.
//    A policy whose side is not a party falls back to `latest_wins`.
// A target that does not hold the record yet receives every agreed field bound on it (a create).
MergeResult merge_record(const MergeInput& input);

// RFC 3339 date-time as microseconds since the epoch (fraction of any length, Z or ±hh:mm); nothing
// if malformed.
std::optional<long long> rfc3339_micros(std::string_view text);

}  // namespace crmsync::mapping
