// Step 5b of a wave: first-sync matching (issue: "First sync of two populated systems").
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "daemon/apply_item.h"
#include "daemon/apply_plan.h"

namespace crmsync::daemon {

using mapping::CanonicalEvent;
using mapping::CanonicalFields;
using mapping::FieldValue;
using mapping::ObjectKind;
using mapping::Side;

namespace {

// The match keys of an object, and the one (a text field) that side queries are filtered by.
struct MatchKeys {
  std::vector<const mapping::FieldMapping*> fields;
  const mapping::FieldMapping* query = nullptr;
};

MatchKeys match_keys_of(const mapping::ObjectMapping& object) {
  MatchKeys keys;
  for (const auto& field : object.fields) {
    if (!field.match_key) continue;
    keys.fields.push_back(&field);
    if (keys.query == nullptr && field.type == mapping::FieldType::string) keys.query = &field;
  }
  return keys;
}

bool keys_bound_on(const MatchKeys& keys, Side side) {
  return std::all_of(keys.fields.begin(), keys.fields.end(), [&](const auto* field) { return field->on(side).has_value(); });
}

bool same_keys(const MatchKeys& keys, const CanonicalFields& a, const CanonicalFields& b) {
  for (const auto* field : keys.fields) {
    auto x = a.find(field->name);
    auto y = b.find(field->name);
    if (x == a.end() || y == b.end() || x->second.kind == FieldValue::Kind::null || x->second != y->second) return false;
  }
  return true;
}

struct Candidate {
  SideRecordState copy;
  CanonicalFields values;
};

}  // namespace

mapping::Status WavePlanner::match_first_sync(state::SyncRecordStore& store, std::vector<WaveItem>& items,
                                              const CanonicalCopy& canonical_copy) {
  // Only changes that can meet an unmapped twin: snapshot reads (the first sync of the PRM or a
  // Dataverse baseline) and records born in a CRM. Live PRM changes of mapped records need no query.
  std::map<std::pair<Side, ObjectKind>, std::set<std::string>> wanted;
  std::vector<WaveItem*> matching;
  for (auto& item : items) {
    const CanonicalEvent& event = item.pending->event;
    if (item.outcome || event.op != CanonicalEvent::Operation::upsert || item.known) continue;
    if (!event.snapshot && event.source == Side::prm) continue;
    MatchKeys keys = match_keys_of(mapping_.of(event.object));
    if (keys.query == nullptr || !same_keys(keys, item.incoming, item.incoming)) continue;
    matching.push_back(&item);
    for (SideGateway* gateway : gateways_) {
      if (keys_bound_on(keys, gateway->side())) {
        wanted[{gateway->side(), event.object}].insert(item.incoming.at(keys.query->name).text);
      }
    }
  }
  if (matching.empty()) return mapping::ok_status();

  // Unmapped records on every side (the sources too: a second unmapped twin there is ambiguity).
  std::map<std::pair<Side, ObjectKind>, std::vector<Candidate>> found;
  for (const auto& [key, values] : wanted) {
    const auto& object_mapping = mapping_.of(key.second);
    MatchKeys keys = match_keys_of(object_mapping);
    auto rows = gateway_for(key.first).find_unmapped(key.second, keys.query->on(key.first)->name,
                                                     {values.begin(), values.end()},
                                                     object_mapping.native_read_names(key.first));
    if (!rows) return rows.error();
    std::vector<std::string> side_ids;
    for (const auto& row : rows.value()) side_ids.push_back(row.side_id);
    auto mapped = store.find_by_side_ids(key.second, key.first, side_ids);
    if (!mapped) return mapped.error();
    for (auto& row : rows.value()) {
      if (mapped.value().count(row.side_id) != 0) continue;
      auto values_of_row = canonical_copy(key.first, key.second, row);
      if (!values_of_row) return values_of_row.error();
      found[key].push_back({std::move(row), std::move(values_of_row).value()});
    }
  }

  // Pair each change with at most one twin per side; anything else waits for an operator.
  std::map<std::pair<Side, std::string>, int> claims;
  std::map<WaveItem*, std::map<Side, const Candidate*>> pairs;
  for (WaveItem* item : matching) {
    const CanonicalEvent& event = item->pending->event;
    MatchKeys keys = match_keys_of(mapping_.of(event.object));
    for (SideGateway* gateway : gateways_) {
      Side side = gateway->side();
      std::vector<const Candidate*> twins;
      for (const auto& candidate : found[{side, event.object}]) {
        if (side == event.source && candidate.copy.side_id == own_id(event)) continue;
        if (same_keys(keys, item->incoming, candidate.values)) twins.push_back(&candidate);
      }
      if (twins.empty()) continue;
      if (side == event.source || twins.size() > 1) {
        item->outcome = EventOutcome::parked;
        item->reason = "operator:ambiguous-match";
        break;
      }
      pairs[item][side] = twins.front();
      ++claims[{side, twins.front()->copy.side_id}];
    }
  }
  for (auto& [item, twins] : pairs) {
    if (item->outcome) continue;
    bool shared = std::any_of(twins.begin(), twins.end(), [&](const auto& twin) {
      return claims[{twin.first, twin.second->copy.side_id}] > 1;
    });
    if (shared) {  // two changes of this wave claim one record: not guessed
      item->outcome = EventOutcome::parked;
      item->reason = "operator:ambiguous-match";
      continue;
    }
    for (const auto& [side, twin] : twins) {
      if (side == Side::prm) {
        // A CRM-born record meets its PRM twin: the twin's PRM id becomes the canonical id.
        item->record_id = twin->copy.prm_id;
        item->record.record_id = twin->copy.prm_id;
        if (auto locked = store.lock({object_name(item->pending->event.object) + ":" + item->record_id}); !locked) {
          return locked.error();
        }
      }
      set_id_on(item->record, side, twin->copy.side_id);
      item->held[side] = {twin->values, twin->copy.modified_at};
      item->read_versions[side] = twin->copy.version;
    }
  }
  return mapping::ok_status();
}

}  // namespace crmsync::daemon
