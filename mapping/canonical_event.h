#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mapping/record_ids.h"

namespace crmsync::mapping {

// Who made a change (DESIGN §2 "actor").
struct Actor {
  // operator_user: a person running an operator command (`crmsync conflicts resolve`), by name.
  enum class Kind { partner_user, internal_user, integration, operator_user };
  Kind kind = Kind::integration;
  std::string id;
  std::string partner_org;  // for partner users, when known
};

// One access grant on a record: `principal` is "partner_org:<id>" or "partner_user:<id>".
struct ShareGrant {
  enum class Access { read, edit };
  std::string principal;
  Access access = Access::read;
  friend bool operator==(const ShareGrant&, const ShareGrant&) = default;
};

// The sharing metadata that travels with every record.
struct Sharing {
  std::optional<std::string> owner_partner_org;
  std::optional<std::string> owner_user;
  std::vector<ShareGrant> grants;  // sorted by principal
  std::string record_type;
  friend bool operator==(const Sharing&, const Sharing&) = default;
};

// What one change did to a record's sharing (DESIGN §3: sharing changes are ordinary events in the
// record's order). The engine applies it to its base, so that sharing changes made on different
// sides between two syncs all survive, and a change read before another side's change never
// undoes it.
struct SharingChange {
  bool owner_partner_org_changed = false;
  std::optional<std::string> owner_partner_org;  // the new owner org (none: no partner owns it)
  bool owner_user_changed = false;
  std::optional<std::string> owner_user;
  std::vector<ShareGrant> granted;   // added, or access changed
  std::vector<std::string> revoked;  // principals
  bool empty() const {
    return !owner_partner_org_changed && !owner_user_changed && granted.empty() && revoked.empty();
  }
  friend bool operator==(const SharingChange&, const SharingChange&) = default;
};

// `sharing` with `change` applied (grants kept sorted by principal).
Sharing apply_sharing_change(Sharing sharing, const SharingChange& change);
// The change that turns `before` into `after`.
SharingChange sharing_difference(const Sharing& before, const Sharing& after);

// A field value as captured. Numbers keep their exact decimal text (money must not pass through a
// double); `json_number` marks them so that they are written as JSON numbers.
struct FieldValue {
  enum class Kind { null, string, number, boolean };
  Kind kind = Kind::null;
  std::string text;

  static FieldValue null_value() { return {}; }
  static FieldValue string_value(std::string value) { return {Kind::string, std::move(value)}; }
  static FieldValue number_value(std::string decimal) { return {Kind::number, std::move(decimal)}; }
  static FieldValue boolean_value(bool value) { return {Kind::boolean, value ? "true" : "false"}; }
  friend bool operator==(const FieldValue&, const FieldValue&) = default;
};

struct Field {
  std::string name;
  FieldValue value;
};

// One record change, as every capture produces it and every apply worker consumes it (the Kafka
// value, DESIGN §2). `event_id` is derived from the change's position in its source, so a change
// captured twice (after a crash) carries the same identity.
struct CanonicalEvent {
  enum class Operation { upsert, remove };
  int schema = 1;
  std::string event_id;
  Side source = Side::prm;
  ObjectKind object = ObjectKind::account;
  Operation op = Operation::upsert;
  std::optional<std::string> prm_id;
  std::optional<std::string> salesforce_id;
  std::optional<std::string> dynamics_id;
  std::string source_version;  // LSN / SystemModstamp / versionnumber
  std::string occurred_at;     // RFC 3339, UTC
  Actor actor;
  std::vector<Field> fields;    // in column order
  std::vector<std::string> changed;
  Sharing sharing;                           // the record's whole sharing after the change
  std::optional<SharingChange> sharing_change;  // set when the change touched the sharing
  // A sharing sweep's finding only: what the CRM held when it was read (the per-side sharing JSON
  // of mapping/sharing_rules.h), so that the engine writes what is missing there too.
  std::string observed_side_sharing;
  bool snapshot = false;        // read by an initial or recovery snapshot, not a live change
  // An operator's decision of a manual conflict (`crmsync conflicts resolve`): the id of the
  // conflict; the event's fields hold the decided value, which every side is to hold.
  std::optional<std::int64_t> resolves_conflict;
  // A drift repair of `crmsync reconcile --fix` (DESIGN §6): the drift found, one entry per kind
  // ("field_differs:<side>:<field>", "missing_on:<side>", "sharing_differs:<side>"). The event holds
  // what the source side holds now, read by reconcile; the engine applies it although the record's
  // version did not move (drift is a change no capture saw), re-creates the record on a side that
  // lost it, and journals the repair as `reconcile`. A PRM repair carries the row's own actor, so a
  // partner's change is authorized as any other; a CRM repair the operator's.
  std::vector<std::string> repairs_drift;
};

// A field value as JSON text: strings quoted and escaped, numbers as their exact decimal text (a
// non-finite numeric such as NaN, which JSON cannot hold, as a string), booleans, null. The one
// place every writer (events, CRM request bodies) turns a FieldValue into JSON.
std::string to_json_value(const FieldValue& value);

// A name-based id in UUID layout (SHA-256 of `parts`, version 8, RFC 4122 variant): the same
// change read twice, by any capture, carries the same identity.
std::string stable_event_id(std::string_view parts);

// Serialises an event as the canonical JSON document (one line, no insignificant whitespace).
std::string to_json(const CanonicalEvent& event);

// The Kafka key of an event: "object:canonical_id", so every change of a record lands in one
// partition and stays in order.
std::string kafka_key(ObjectKind object, const std::string& canonical_id);

// The Kafka key the source side's own capture gives `event`'s record (PRM: its PRM id; Salesforce:
// its PRM id, "sf:<Id>" before it has one; Dataverse: "dynamics:<GUID>"), for events produced
// besides the captures (operator decisions, reconcile repairs) so that they stay in the record's
// order on that topic.
std::string capture_key(const CanonicalEvent& event);

std::string_view to_string(Actor::Kind kind);
std::string_view to_string(ShareGrant::Access access);

}  // namespace crmsync::mapping
