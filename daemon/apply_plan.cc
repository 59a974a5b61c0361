#include "daemon/apply_plan.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "mapping/event_json.h"
#include "mapping/record_merge.h"
#include "state/sync_record_store.h"

namespace crmsync::daemon {

using mapping::CanonicalEvent;
using mapping::CanonicalFields;
using mapping::FieldValue;
using mapping::ObjectKind;
using mapping::Side;

namespace {

std::string side_name(Side side) { return std::string(mapping::to_string(side)); }
std::string object_name(ObjectKind object) { return std::string(mapping::to_string(object)); }

const std::string& own_id(const CanonicalEvent& event) {
  static const std::string none;
  const std::optional<std::string>& id = event.source == Side::prm          ? event.prm_id
                                         : event.source == Side::salesforce ? event.salesforce_id
                                                                            : event.dynamics_id;
  return id ? *id : none;
}

std::optional<std::string> id_on(const state::SyncRecord& record, Side side) {
  switch (side) {
    case Side::prm: return record.on_prm ? std::optional<std::string>(record.record_id) : std::nullopt;
    case Side::salesforce: return record.salesforce_id;
    case Side::dynamics: return record.dynamics_id;
  }
  return std::nullopt;
}

void set_id_on(state::SyncRecord& record, Side side, const std::optional<std::string>& id) {
  switch (side) {
    case Side::prm: record.on_prm = true; break;
    case Side::salesforce:
      if (id) record.salesforce_id = id;
      break;
    case Side::dynamics:
      if (id) record.dynamics_id = id;
      break;
  }
}

// The version a change carries: PRM row_version (the PRM event's column), the CRMs' source_version.
std::string version_of(const CanonicalEvent& event) {
  if (event.source == Side::prm) {
    for (const auto& field : event.fields) {
      if (field.name == "row_version") return field.value.text;
    }
    return "";
  }
  return event.source_version;
}

// a <= b in the side's version order (numbers for PRM row_version and Dataverse versionnumber,
// Salesforce SystemModstamp text, which sorts as time).
bool not_newer(std::string_view a, std::string_view b) {
  long long x = 0, y = 0;
  auto [end_a, error_a] = std::from_chars(a.data(), a.data() + a.size(), x);
  auto [end_b, error_b] = std::from_chars(b.data(), b.data() + b.size(), y);
  if (error_a == std::errc() && error_b == std::errc() && end_a == a.data() + a.size() &&
      end_b == b.data() + b.size()) {
    return x <= y;
  }
  return a <= b;
}

std::string actor_of(const CanonicalEvent& event) {
  return fmt::format("{}:{}", mapping::to_string(event.actor.kind), event.actor.id);
}

std::string json_text(std::string_view text) { return mapping::to_json_value(FieldValue::string_value(std::string(text))); }

std::string json_value(const std::optional<FieldValue>& value) {
  return value ? mapping::to_json_value(*value) : "null";
}

// The reference fields of an object (deal.account).
std::vector<const mapping::FieldMapping*> references_of(const mapping::ObjectMapping& object) {
  std::vector<const mapping::FieldMapping*> fields;
  for (const auto& field : object.fields) {
    if (field.type == mapping::FieldType::reference && field.references) fields.push_back(&field);
  }
  return fields;
}

std::string waiting_key(Side side, const std::string& id) { return fmt::format("account:{}:{}", side_name(side), id); }

// One event of the wave and everything decided about it.
struct Item {
  PendingEvent* pending = nullptr;
  std::string record_id;
  state::SyncRecord record;
  bool known = false;
  CanonicalFields incoming;
  std::optional<EventOutcome> outcome;  // decided early (duplicate, superseded, parked, …)
  std::string reason;
  std::map<Side, mapping::SideCopy> held;
  std::map<Side, std::string> read_versions;
  std::set<Side> missing;  // sides the id map says hold the record but that no longer do
  mapping::MergeResult merge;
  std::map<Side, std::size_t> write_slot;  // side -> index in that side's write list
  std::vector<std::string> failures;       // per-side permanent failures
  std::vector<Side> written;
};

}  // namespace

WavePlanner::WavePlanner(const mapping::MappingDefinition& mapping, const std::vector<SideGateway*>& gateways,
                         const ApplyEngineSettings& settings, std::shared_ptr<spdlog::logger> logger)
    : mapping_(mapping), gateways_(gateways), settings_(settings), logger_(std::move(logger)) {}

mapping::Result<std::vector<std::string>> WavePlanner::apply_wave(state::SyncRecordStore& store,
                                                                 std::vector<PendingEvent>& pending,
                                                                 std::vector<PendingEvent>& deferred,
                                                                 WaveSummary& summary) {
  // ---- 1. Canonical ids: the PRM id; for a CRM record, the id map, its external id, or a
  // name-based id derived from its CRM id (the same on every re-delivery).
  std::map<std::pair<ObjectKind, Side>, std::vector<std::string>> crm_ids;
  for (const auto& p : pending) {
    if (p.event.source != Side::prm) crm_ids[{p.event.object, p.event.source}].push_back(own_id(p.event));
  }
  std::map<std::pair<ObjectKind, Side>, std::map<std::string, std::string>> mapped;
  for (const auto& [key, ids] : crm_ids) {
    auto found = store.find_by_side_ids(key.first, key.second, ids);
    if (!found) return found.error();
    mapped[key] = std::move(found).value();
  }
  auto record_id_of = [&](const CanonicalEvent& event) -> std::string {
    if (event.source == Side::prm) return own_id(event);
    const auto& ids = mapped[{event.object, event.source}];
    if (auto found = ids.find(own_id(event)); found != ids.end()) return found->second;
    if (event.prm_id && !event.prm_id->empty()) return *event.prm_id;
    return mapping::stable_event_id(fmt::format("{}:{}:{}", side_name(event.source), object_name(event.object),
                                                own_id(event)));
  };

  // ---- 2. The wave: one event per record; a deal waits for an account event of the same wave.
  std::vector<Item> items;
  std::set<std::string> wave_keys;
  std::set<std::pair<Side, std::string>> wave_accounts;  // (source, own id) of the wave's account events
  const auto deal_references = references_of(mapping_.deal);
  for (auto& p : pending) {
    std::string record_id = record_id_of(p.event);
    std::string key = object_name(p.event.object) + ":" + record_id;
    bool wait = wave_keys.count(key) != 0;
    if (!wait && p.event.object == ObjectKind::deal) {
      for (const auto* reference : deal_references) {
        const auto& binding = reference->on(p.event.source);
        if (!binding) continue;
        for (const auto& field : p.event.fields) {
          const auto* mapped_field = mapping_.deal.field_for_native(p.event.source, field.name);
          if (mapped_field == reference && wave_accounts.count({p.event.source, field.value.text}) != 0) wait = true;
        }
      }
    }
    if (wait) {
      deferred.push_back(std::move(p));
      continue;
    }
    wave_keys.insert(key);
    if (p.event.object == ObjectKind::account) {
      wave_accounts.insert({p.event.source, own_id(p.event)});
      wave_accounts.insert({p.event.source, record_id});
    }
    Item item;
    item.pending = &p;
    item.record_id = std::move(record_id);
    items.push_back(std::move(item));
  }

  // ---- 3. Lock, de-duplicate, load.
  if (auto locked = store.lock({wave_keys.begin(), wave_keys.end()}); !locked) return locked.error();
  std::vector<std::string> event_ids;
  for (const auto& item : items) {
    if (!item.pending->unparked) event_ids.push_back(item.pending->event.event_id);
  }
  auto applied = store.already_applied(event_ids);
  if (!applied) return applied.error();
  std::map<ObjectKind, std::vector<std::string>> to_load;
  for (auto& item : items) {
    if (!item.pending->unparked && applied.value().count(item.pending->event.event_id) != 0) {
      item.outcome = EventOutcome::duplicate;
      continue;
    }
    to_load[item.pending->event.object].push_back(item.record_id);
  }
  std::map<ObjectKind, std::map<std::string, state::SyncRecord>> records;
  for (const auto& [object, ids] : to_load) {
    auto loaded = store.load(object, ids);
    if (!loaded) return loaded.error();
    records[object] = std::move(loaded).value();
  }

  // ---- 4. Per event: staleness, translation, references, deletes.
  std::map<Side, std::vector<std::string>> account_refs;  // raw account ids to resolve, per side
  for (auto& item : items) {
    if (item.outcome) continue;
    const CanonicalEvent& event = item.pending->event;
    auto& by_id = records[event.object];
    if (auto found = by_id.find(item.record_id); found != by_id.end()) {
      item.record = found->second;
      item.known = true;
    } else {
      item.record.object = event.object;
      item.record.record_id = item.record_id;
    }
    std::string version = version_of(event);
    auto seen = item.record.versions.find(side_name(event.source));
    if (item.known && !version.empty() && seen != item.record.versions.end() && not_newer(version, seen->second) &&
        !item.pending->unparked) {
      item.outcome = EventOutcome::superseded;
      item.reason = "an equal or newer version of the record was already seen from this side";
      continue;
    }
    if (event.op == CanonicalEvent::Operation::remove) continue;  // handled with the writes
    if (item.known && item.record.deleted) {
      item.outcome = EventOutcome::superseded;
      item.reason = "the record was deleted; a change read before the delete is not re-applied";
      continue;
    }
    auto translation = mapping::to_canonical(mapping_.of(event.object), event.source, event.fields);
    if (!translation.problems.empty()) {
      item.outcome = EventOutcome::dead_lettered;
      item.reason = "field values cannot be translated: " + fmt::format("{}", fmt::join(translation.problems, "; "));
      continue;
    }
    item.incoming = std::move(translation.fields);
    for (const auto* reference : references_of(mapping_.of(event.object))) {
      auto value = item.incoming.find(reference->name);
      if (value != item.incoming.end() && value->second.kind != FieldValue::Kind::null) {
        account_refs[event.source].push_back(value->second.text);
      }
    }
  }

  // Account ids on each side -> canonical ids (and the account records, for their ids elsewhere).
  std::map<Side, std::map<std::string, std::string>> account_canonical;
  auto resolve_accounts = [&](Side side, const std::vector<std::string>& raw) -> mapping::Status {
    std::vector<std::string> unknown;
    for (const auto& id : raw) {
      if (account_canonical[side].count(id) == 0) unknown.push_back(id);
    }
    if (unknown.empty()) return mapping::ok_status();
    auto found = store.find_by_side_ids(ObjectKind::account, side, unknown);
    if (!found) return found.error();
    for (auto& [id, canonical] : found.value()) account_canonical[side][id] = canonical;
    return mapping::ok_status();
  };
  for (const auto& [side, raw] : account_refs) {
    if (auto resolved = resolve_accounts(side, raw); !resolved) return resolved.error();
  }
  for (auto& item : items) {
    if (item.outcome || item.pending->event.op == CanonicalEvent::Operation::remove) continue;
    Side source = item.pending->event.source;
    for (const auto* reference : references_of(mapping_.of(item.pending->event.object))) {
      auto value = item.incoming.find(reference->name);
      if (value == item.incoming.end() || value->second.kind == FieldValue::Kind::null) continue;
      auto canonical = account_canonical[source].find(value->second.text);
      if (canonical == account_canonical[source].end()) {
        item.outcome = EventOutcome::parked;
        item.reason = waiting_key(source, value->second.text);
        break;
      }
      value->second = FieldValue::string_value(canonical->second);
    }
  }

  // ---- 5. Read the targets' current copies (records the id map says they hold).
  std::map<std::pair<Side, ObjectKind>, std::vector<std::string>> reads;
  for (auto& item : items) {
    if (item.outcome || !item.known) continue;
    for (SideGateway* gateway : gateways_) {
      Side side = gateway->side();
      if (side == item.pending->event.source || !id_on(item.record, side)) continue;
      reads[{side, item.pending->event.object}].push_back(item.record_id);
    }
  }
  std::map<std::pair<Side, ObjectKind>, std::map<std::string, SideRecordState>> copies;
  for (const auto& [key, ids] : reads) {
    SideGateway* gateway = nullptr;
    for (SideGateway* candidate : gateways_) {
      if (candidate->side() == key.first) gateway = candidate;
    }
    const auto& object_mapping = mapping_.of(key.second);
    auto read = gateway->read(key.second, ids, object_mapping.native_read_names(key.first));
    if (!read) return read.error();
    std::vector<std::string> raw_refs;
    for (auto& copy : read.value()) {
      for (const auto* reference : references_of(object_mapping)) {
        for (const auto& field : copy.fields) {
          if (object_mapping.field_for_native(key.first, field.name) == reference && field.value.kind != FieldValue::Kind::null) {
            raw_refs.push_back(field.value.text);
          }
        }
      }
      copies[key][copy.prm_id] = std::move(copy);
    }
    if (auto resolved = resolve_accounts(key.first, raw_refs); !resolved) return resolved.error();
  }
  for (auto& item : items) {
    if (item.outcome || !item.known) continue;
    for (SideGateway* gateway : gateways_) {
      Side side = gateway->side();
      if (side == item.pending->event.source || !id_on(item.record, side)) continue;
      auto& by_id = copies[{side, item.pending->event.object}];
      auto found = by_id.find(item.record_id);
      if (found == by_id.end()) {
        item.missing.insert(side);  // its delete is on the way; do not resurrect the record
        continue;
      }
      const auto& object_mapping = mapping_.of(item.pending->event.object);
      auto translation = mapping::to_canonical(object_mapping, side, found->second.fields);
      for (const auto* reference : references_of(object_mapping)) {
        auto value = translation.fields.find(reference->name);
        if (value == translation.fields.end() || value->second.kind == FieldValue::Kind::null) continue;
        auto canonical = account_canonical[side].find(value->second.text);
        if (canonical != account_canonical[side].end()) value->second = FieldValue::string_value(canonical->second);
      }
      item.held[side] = {std::move(translation.fields), found->second.modified_at};
      item.read_versions[side] = found->second.version;
    }
  }

  // ---- 6. Merge, and the writes per side.
  std::map<Side, std::vector<mapping::CrmRecordWrite>> writes;
  std::map<Side, std::vector<Item*>> writers;
  // Account records referenced by deals, for their ids on the target sides.
  std::set<std::string> referenced;
  for (auto& item : items) {
    if (item.outcome || item.pending->event.object != ObjectKind::deal) continue;
    for (const auto* reference : deal_references) {
      auto value = item.incoming.find(reference->name);
      if (value != item.incoming.end() && value->second.kind != FieldValue::Kind::null) referenced.insert(value->second.text);
    }
  }
  auto accounts = store.load(ObjectKind::account, {referenced.begin(), referenced.end()});
  if (!accounts) return accounts.error();

  for (auto& item : items) {
    if (item.outcome) continue;
    const CanonicalEvent& event = item.pending->event;
    const auto& object_mapping = mapping_.of(event.object);
    if (event.op == CanonicalEvent::Operation::remove) {
      if (!item.known || item.record.deleted) {
        item.outcome = EventOutcome::echo_skipped;
        item.reason = item.known ? "already deleted" : "the record was never synced";
        continue;
      }
      auto recent = store.recent_deletes(event.source, settings_.delete_guard_window);
      if (!recent) return recent.error();
      if (recent.value() >= settings_.delete_guard_max) {
        item.outcome = EventOutcome::delete_held;
        item.reason = fmt::format("{} deletes from {} within the guard window (limit {}): held for an operator",
                                  recent.value(), side_name(event.source), settings_.delete_guard_max);
        if (auto held = store.hold_delete(event.event_id, event.source, event.object, item.record_id, item.pending->json);
            !held) {
          return held.error();
        }
        continue;
      }
      if (auto counted = store.record_delete(event.source); !counted) return counted.error();
      for (SideGateway* gateway : gateways_) {
        Side side = gateway->side();
        auto id = id_on(item.record, side);
        if (side == event.source || !id) continue;
        mapping::CrmRecordWrite write;
        write.object = event.object;
        write.op = CanonicalEvent::Operation::remove;
        write.prm_id = item.record_id;
        if (side != Side::prm) write.crm_id = id;
        item.write_slot[side] = writes[side].size();
        writes[side].push_back(std::move(write));
        writers[side].push_back(&item);
      }
      continue;
    }

    auto open = store.open_conflict_fields(event.object, item.record_id);
    if (!open) return open.error();
    mapping::MergeInput input;
    input.mapping = &object_mapping;
    input.base = item.record.base;
    input.source = event.source;
    input.incoming = item.incoming;
    input.incoming_at = event.occurred_at;
    for (SideGateway* gateway : gateways_) {
      if (gateway->side() != event.source && item.missing.count(gateway->side()) == 0) {
        input.targets.push_back(gateway->side());
      }
    }
    input.held = item.held;
    input.open_conflicts = std::move(open).value();
    item.merge = mapping::merge_record(input);

    // A CRM record that does not carry its PRM id yet gets it (with any write back) by its CRM id.
    bool needs_external_id = event.source != Side::prm && (!event.prm_id || event.prm_id->empty());
    if (needs_external_id && item.merge.writes.count(event.source) == 0) item.merge.writes[event.source] = {};

    for (auto& [side, values] : item.merge.writes) {
      if (item.missing.count(side) != 0) continue;
      // References: canonical account id -> that side's id (left out when the account is not there).
      for (const auto* reference : references_of(object_mapping)) {
        auto value = values.find(reference->name);
        if (value == values.end() || value->second.kind == FieldValue::Kind::null) continue;
        auto account = accounts.value().find(value->second.text);
        std::optional<std::string> side_id;
        if (account != accounts.value().end()) side_id = id_on(account->second, side);
        if (!side_id) {
          values.erase(value);
          continue;
        }
        value->second = FieldValue::string_value(*side_id);
      }
      auto native = mapping::to_side_checked(object_mapping, side, values);
      if (!native.problems.empty()) {
        item.failures.push_back(fmt::format("{}: {}", side_name(side), fmt::join(native.problems, "; ")));
        continue;
      }
      mapping::CrmRecordWrite write;
      write.object = event.object;
      write.prm_id = item.record_id;
      if (side != Side::prm) write.crm_id = id_on(item.record, side);
      if (side == event.source && side != Side::prm) write.crm_id = own_id(event);
      write.fields = std::move(native.fields);
      item.write_slot[side] = writes[side].size();
      writes[side].push_back(std::move(write));
      writers[side].push_back(&item);
    }
  }

  // ---- 7. Write, side by side, in batches.
  std::string origin = fmt::format("crmsync:{}", settings_.instance_id);
  for (auto& [side, side_writes] : writes) {
    SideGateway* gateway = nullptr;
    for (SideGateway* candidate : gateways_) {
      if (candidate->side() == side) gateway = candidate;
    }
    auto results = gateway->write(side_writes, origin);
    if (!results) return results.error();  // nothing known: the wave is re-applied later
    for (std::size_t i = 0; i < side_writes.size(); ++i) {
      Item& item = *writers[side][i];
      const auto& result = results.value()[i];
      if (result.error) {
        if (mapping::is_retryable(result.error->error_class) || result.error->error_class == mapping::ErrorClass::conflict ||
            result.error->error_class == mapping::ErrorClass::auth) {
          return mapping::SyncError{result.error->error_class,
                                    fmt::format("{} write of {} {}: {}", side_name(side), object_name(item.record.object),
                                                item.record_id, result.error->message)};
        }
        item.failures.push_back(fmt::format("{}: {}", side_name(side), result.error->message));
        continue;
      }
      item.written.push_back(side);
      if (side_writes[i].op == CanonicalEvent::Operation::upsert) set_id_on(item.record, side, result.crm_id);
    }
  }

  // ---- 8. Record: id map, base, versions, conflicts, parked events, journal.
  std::vector<std::string> mapped_accounts;
  for (auto& item : items) {
    const CanonicalEvent& event = item.pending->event;
    std::string actor = actor_of(event);
    auto journal = [&](std::string kind, std::string policy, std::string detail) {
      summary.journal.push_back({std::move(kind), actor, object_name(event.object), item.record_id,
                                 side_name(event.source), event.event_id, std::move(policy), std::move(detail)});
    };
    if (item.outcome == EventOutcome::duplicate) {
      ++summary.outcomes[EventOutcome::duplicate];
      continue;
    }
    if (item.outcome == EventOutcome::parked) {
      if (auto parked = store.park(event.event_id, event.object, item.reason, "reference not mapped yet", item.pending->json);
          !parked) {
        return parked.error();
      }
      journal("parked", "", fmt::format(R"({{"waiting_for":{}}})", json_text(item.reason)));
    } else if (item.outcome == EventOutcome::superseded || item.outcome == EventOutcome::echo_skipped ||
               item.outcome == EventOutcome::delete_held) {
      journal(std::string(to_string(*item.outcome)), "", fmt::format(R"({{"reason":{}}})", json_text(item.reason)));
    } else if (item.outcome == EventOutcome::dead_lettered) {
      journal("dead_lettered", "", fmt::format(R"({{"reason":{}}})", json_text(item.reason)));
      summary.dead_letters.push_back({mapping::kafka_key(event.object, item.record_id), item.pending->json, item.reason});
    } else {
      // Applied (possibly with per-side failures, dead-lettered for that side).
      state::SyncRecord& record = item.record;
      std::string version = version_of(event);
      if (!version.empty()) record.versions[side_name(event.source)] = version;
      set_id_on(record, event.source, own_id(event));
      std::string fields_detail;
      if (event.op == CanonicalEvent::Operation::remove) {
        record.deleted = true;
      } else {
        // A target's copy read now is "seen" (its older change events are superseded) only when
        // it holds no change of its own that this merge left for its own event to bring.
        CanonicalFields after = record.base;
        for (const auto& [name, value] : item.merge.agreed) after[name] = value;
        for (const auto& [side, read_version] : item.read_versions) {
          bool settled = true;
          const auto& writes_to_side = item.merge.writes[side];
          for (const auto& [name, value] : item.held[side].values) {
            auto written = writes_to_side.find(name);
            const FieldValue& now = written != writes_to_side.end() ? written->second : value;
            auto agreed = after.find(name);
            if (agreed == after.end() || agreed->second != now) settled = false;
          }
          if (!settled) continue;
          auto& stored = record.versions[side_name(side)];
          if (stored.empty() || not_newer(stored, read_version)) stored = read_version;
        }
        for (const auto& name : item.merge.changed) {
          auto before = record.base.find(name);
          std::optional<FieldValue> before_value;
          if (before != record.base.end()) before_value = before->second;
          if (!fields_detail.empty()) fields_detail += ',';
          fields_detail += fmt::format(R"({}:{{"before":{},"after":{}}})", json_text(name), json_value(before_value),
                                       mapping::to_json_value(item.merge.agreed.at(name)));
        }
        for (const auto& [name, value] : item.merge.agreed) record.base[name] = value;
      }
      for (const auto& conflict : item.merge.conflicts) {
        ++summary.conflicts;
        std::map<std::string, FieldValue> values;
        for (const auto& [side, value] : conflict.values) values[side_name(side)] = value;
        std::string detail = fmt::format(R"({{"field":{},"base":{},"values":{},"winner":{}}})", json_text(conflict.field),
                                         json_value(conflict.base), mapping::fields_to_json(values),
                                         conflict.winner ? json_text(side_name(*conflict.winner)) : "null");
        if (!conflict.winner) {
          state::ConflictRecord queued{event.object, item.record_id, conflict.field,
                                       std::string(mapping::to_string(conflict.policy)), conflict.base, values,
                                       event.event_id};
          if (auto stored = store.queue_conflict(queued); !stored) return stored.error();
          journal("conflict", std::string(mapping::to_string(conflict.policy)), detail);
        } else {
          std::string resolved = fmt::format(
              R"({{"field":{},"base":{},"values":{},"winner":{},"fields":{{{}:{{"before":{},"after":{}}}}}}})",
              json_text(conflict.field), json_value(conflict.base), mapping::fields_to_json(values),
              json_text(side_name(*conflict.winner)), json_text(conflict.field), json_value(conflict.base),
              mapping::to_json_value(conflict.values.at(*conflict.winner)));
          journal("conflict_resolved", std::string(mapping::to_string(conflict.policy)), resolved);
        }
      }
      std::vector<std::string> written;
      for (Side side : item.written) written.push_back(json_text(side_name(side)));
      bool nothing = event.op != CanonicalEvent::Operation::remove && item.merge.changed.empty() &&
                     item.merge.conflicts.empty() && item.written.empty() && item.failures.empty();
      if (nothing) {
        item.outcome = EventOutcome::echo_skipped;
        journal("echo_skipped", "", R"({"reason":"no field differs from the agreed values"})");
      } else {
        item.outcome = EventOutcome::applied;
        journal("applied", "",
                fmt::format(R"({{"op":{},"fields":{{{}}},"written":[{}]}})",
                            json_text(event.op == CanonicalEvent::Operation::remove ? "delete" : "upsert"), fields_detail,
                            fmt::join(written, ",")));
      }
      for (const auto& failure : item.failures) {
        journal("dead_lettered", "", fmt::format(R"({{"reason":{}}})", json_text(failure)));
        summary.dead_letters.push_back({mapping::kafka_key(event.object, item.record_id), item.pending->json, failure});
        ++summary.outcomes[EventOutcome::dead_lettered];
      }
      if (auto saved = store.save(record); !saved) return saved.error();
      if (event.object == ObjectKind::account && event.op == CanonicalEvent::Operation::upsert) {
        for (Side side : {Side::prm, Side::salesforce, Side::dynamics}) {
          if (auto id = id_on(record, side)) mapped_accounts.push_back(waiting_key(side, *id));
        }
      }
    }
    if (item.pending->unparked && item.outcome != EventOutcome::parked) {
      if (auto removed = store.unpark(event.event_id); !removed) return removed.error();
    }
    if (auto marked = store.mark_applied(event.event_id, to_string(*item.outcome)); !marked) return marked.error();
    ++summary.outcomes[*item.outcome];
    logger_->debug("event {} object={} id={} source={} event_id={}", to_string(*item.outcome), object_name(event.object),
                   item.record_id, side_name(event.source), event.event_id);
  }
  return mapped_accounts;
}

}  // namespace crmsync::daemon
