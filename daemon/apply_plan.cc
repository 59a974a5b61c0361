#include "daemon/apply_plan.h"

#include "daemon/apply_item.h"

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

WavePlanner::WavePlanner(const mapping::MappingDefinition& mapping, const std::vector<SideGateway*>& gateways,
                         const ApplyEngineSettings& settings, std::shared_ptr<spdlog::logger> logger,
                         const mapping::PrincipalMap& principals)
    : mapping_(mapping), principals_(principals), gateways_(gateways), settings_(settings), logger_(std::move(logger)) {
  for (const auto* object : {&mapping_.account, &mapping_.deal}) {
    auto& fields = references_[object->object];
    for (const auto& field : object->fields) {
      if (field.type == mapping::FieldType::reference && field.references) fields.push_back(&field);
    }
  }
}

SideGateway& WavePlanner::gateway_for(Side side) const {
  for (SideGateway* gateway : gateways_) {
    if (gateway->side() == side) return *gateway;
  }
  throw std::logic_error("no gateway for side " + std::string(mapping::to_string(side)));
}

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
  std::vector<WaveItem> items;
  std::set<std::string> wave_keys;
  std::set<std::string> deferred_keys;  // records with a deferred event: their later events wait too
  std::set<std::pair<Side, std::string>> wave_accounts;  // (source, own id) of the wave's account events
  const auto deal_references = references_.at(ObjectKind::deal);
  for (auto& p : pending) {
    std::string record_id = record_id_of(p.event);
    std::string key = object_name(p.event.object) + ":" + record_id;
    bool wait = wave_keys.count(key) != 0 || deferred_keys.count(key) != 0;
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
      deferred_keys.insert(key);
      deferred.push_back(std::move(p));
      continue;
    }
    wave_keys.insert(key);
    if (p.event.object == ObjectKind::account) {
      wave_accounts.insert({p.event.source, own_id(p.event)});
      wave_accounts.insert({p.event.source, record_id});
    }
    WaveItem item;
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
    // A reconcile repair holds what its side held when reconcile read it, although no version moved
    // (drift is a change no capture saw): it gives way only to a strictly newer version seen since.
    bool repair = !event.repairs_drift.empty();
    bool stale = seen != item.record.versions.end() &&
                 (repair ? not_newer(version, seen->second) && version != seen->second : not_newer(version, seen->second));
    if (item.known && !version.empty() && stale && !item.pending->unparked) {
      item.outcome = EventOutcome::superseded;
      item.reason = "an equal or newer version of the record was already seen from this side";
      continue;
    }
    if (event.op == CanonicalEvent::Operation::remove) continue;  // handled with the writes
    if (event.resolves_conflict && (!item.known || item.record.deleted)) {
      item.outcome = EventOutcome::dead_lettered;
      item.reason = fmt::format("conflict {} is about a record that is not synced (any more)", *event.resolves_conflict);
      continue;
    }
    if (item.known && item.record.deleted) {
      item.outcome = EventOutcome::superseded;
      item.reason = "the record was deleted; a change read before the delete is not re-applied";
      continue;
    }
    if (is_sharing_sweep(event)) {
      // The sweep compared the CRM with one version of the record's sharing; if it moved since,
      // the finding may be the CRM not having caught up yet: the next sweep reads again.
      if (!item.known || event.source_version != fmt::format("sharing:{}", item.record.sharing_version)) {
        item.outcome = EventOutcome::superseded;
        item.reason = "the record's sharing changed since the sharing sweep read it";
        continue;
      }
    }
    auto translation = mapping::to_canonical(mapping_.of(event.object), event.source, event.fields);
    if (!translation.problems.empty()) {
      item.outcome = EventOutcome::dead_lettered;
      item.reason = "field values cannot be translated: " + fmt::format("{}", fmt::join(translation.problems, "; "));
      continue;
    }
    item.incoming = std::move(translation.fields);
    for (const auto* reference : references_.at(event.object)) {
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
    for (const auto* reference : references_.at(item.pending->event.object)) {
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

  // ---- 4b. Sharing and the inbound authorization of partners' changes (DESIGN §3).
  for (auto& item : items) {
    if (item.outcome || item.pending->event.op == CanonicalEvent::Operation::remove) continue;
    decide_sharing_and_authorization(item);
  }

  // ---- 5. Read the targets' current copies (records the id map says they hold).
  // An operator's decision is written to every side that holds something else, its source too.
  auto reads_side = [](const WaveItem& item, Side side) {
    return (side != item.pending->event.source || item.pending->event.resolves_conflict) && id_on(item.record, side);
  };
  std::map<std::pair<Side, ObjectKind>, std::vector<std::string>> reads;
  for (auto& item : items) {
    if (item.outcome || !item.known) continue;
    for (SideGateway* gateway : gateways_) {
      Side side = gateway->side();
      if (!reads_side(item, side)) continue;
      reads[{side, item.pending->event.object}].push_back(item.record_id);
    }
  }
  // A side's copy in canonical form, its account references resolved to canonical ids (left raw
  // when the account is not mapped).
  auto canonical_copy = [&](Side side, ObjectKind object,
                            const SideRecordState& copy) -> mapping::Result<CanonicalFields> {
    const auto& object_mapping = mapping_.of(object);
    auto translation = mapping::to_canonical(object_mapping, side, copy.fields);
    std::vector<std::string> raw_refs;
    for (const auto* reference : references_.at(object)) {
      auto value = translation.fields.find(reference->name);
      if (value != translation.fields.end() && value->second.kind != FieldValue::Kind::null) {
        raw_refs.push_back(value->second.text);
      }
    }
    if (auto resolved = resolve_accounts(side, raw_refs); !resolved) return resolved.error();
    for (const auto* reference : references_.at(object)) {
      auto value = translation.fields.find(reference->name);
      if (value == translation.fields.end() || value->second.kind == FieldValue::Kind::null) continue;
      auto canonical = account_canonical[side].find(value->second.text);
      if (canonical != account_canonical[side].end()) value->second = FieldValue::string_value(canonical->second);
    }
    return std::move(translation.fields);
  };
  std::map<std::pair<Side, ObjectKind>, std::map<std::string, SideRecordState>> copies;
  for (const auto& [key, ids] : reads) {
    auto read = gateway_for(key.first).read(key.second, ids, mapping_.of(key.second).native_read_names(key.first));
    if (!read) return read.error();
    for (auto& copy : read.value()) copies[key][copy.prm_id] = std::move(copy);
  }
  for (auto& item : items) {
    if (item.outcome || !item.known) continue;
    for (SideGateway* gateway : gateways_) {
      Side side = gateway->side();
      if (!reads_side(item, side)) continue;
      auto& by_id = copies[{side, item.pending->event.object}];
      auto found = by_id.find(item.record_id);
      if (found == by_id.end()) {
        const auto& drift = item.pending->event.repairs_drift;
        if (std::find(drift.begin(), drift.end(), "missing_on:" + side_name(side)) != drift.end()) {
          // Reconcile found the record gone from this side without a delete any capture saw (reconcile
          // never deletes): it is created there again, with the agreed values and sharing.
          forget_side(item.record, side);
          continue;
        }
        item.missing.insert(side);  // its delete is on the way; do not resurrect the record
        continue;
      }
      auto values = canonical_copy(side, item.pending->event.object, found->second);
      if (!values) return values.error();
      item.held[side] = {std::move(values).value(), found->second.modified_at};
      item.read_versions[side] = found->second.version;
    }
  }

  // ---- 5b. First sync of populated systems: records that exist on a side without an id mapping
  // are paired by the mapping's match keys, never duplicated; ambiguity is parked for an operator.
  if (auto matched = match_first_sync(store, items, canonical_copy); !matched) return matched.error();

  // ---- 6. Merge, and the writes per side.
  std::map<Side, std::vector<mapping::CrmRecordWrite>> writes;
  std::map<Side, std::vector<WaveItem*>> writers;
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
  // Fields with a manual conflict waiting for an operator, for the wave's known records.
  std::map<ObjectKind, std::vector<std::string>> known_ids;
  for (const auto& item : items) {
    if (!item.outcome && item.known) known_ids[item.pending->event.object].push_back(item.record_id);
  }
  std::map<ObjectKind, std::map<std::string, std::set<std::string>>> open_conflicts;
  for (const auto& [object, ids] : known_ids) {
    auto open = store.open_conflicts(object, ids);
    if (!open) return open.error();
    open_conflicts[object] = std::move(open).value();
  }

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
      // A delete taken from the parked events passed the guard (and was counted) when it came.
      auto recent = item.pending->unparked ? mapping::Result<long long>(0)
                                           : store.recent_deletes(event.source, settings_.delete_guard_window);
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
      if (!item.pending->unparked) {
        if (auto counted = store.record_delete(event.source); !counted) return counted.error();
      }
      for (SideGateway* gateway : gateways_) {
        Side side = gateway->side();
        auto id = id_on(item.record, side);
        if (side == event.source || !id) continue;
        mapping::CrmRecordWrite write;
        write.object = event.object;
        write.op = CanonicalEvent::Operation::remove;
        write.prm_id = item.record_id;
        if (side != Side::prm) write.crm_id = id;
        writes[side].push_back(std::move(write));
        writers[side].push_back(&item);
      }
      continue;
    }

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
    input.open_conflicts = open_conflicts[event.object][item.record_id];
    if (event.resolves_conflict) {
      for (const auto& [field, value] : item.incoming) input.operator_decided.insert(field);
    }
    item.merge = mapping::merge_record(input);

    // A CRM record that does not carry its PRM id yet gets it (with any write back) by its CRM id.
    bool needs_external_id = event.source != Side::prm && (!event.prm_id || event.prm_id->empty());
    if (needs_external_id && item.merge.writes.count(event.source) == 0) item.merge.writes[event.source] = {};

    for (auto& [side, values] : item.merge.writes) {
      if (item.missing.count(side) != 0) continue;
      // References: canonical account id -> that side's id (left out when the account is not there).
      for (const auto* reference : references_.at(object_mapping.object)) {
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
      // Optimistic concurrency where the CRM offers it (Dataverse ETags; Salesforce's collections
      // have none): the write applies only to the version read in step 5, so an edit made there
      // since, which its capture has not delivered yet, fails it with 412 (`conflict`) and the wave
      // is read and merged again instead of overwriting that edit.
      if (side == Side::dynamics) {
        auto read = item.read_versions.find(side);
        if (read != item.read_versions.end() && !read->second.empty()) {
          write.etag = fmt::format("W/\"{}\"", read->second);
        } else if (write.crm_id) {
          // An update of a row not read in this wave (the event's own side, given its PRM id):
          // Dataverse's PATCH is an upsert, and without If-Match a row deleted there since the
          // capture came back to life (found by the chaos suite). `*` makes it answer 404: gone.
          write.etag = "*";
        }
      }
      writes[side].push_back(std::move(write));
      writers[side].push_back(&item);
    }
  }

  // ---- 6b. Owners and shares on every side; PRM reverts of denied changes.
  for (auto& item : items) {
    if (!item.outcome || item.outcome == EventOutcome::denied) plan_sharing_writes(item, writes, writers);
  }

  // ---- 7. Write, side by side, in batches: revocations, records, grants.
  if (auto revoked = write_shares(items, false); !revoked) return revoked.error();
  std::string origin = fmt::format("crmsync:{}", settings_.instance_id);
  for (auto& [side, side_writes] : writes) {
    auto results = gateway_for(side).write(side_writes, origin);
    if (!results) return results.error();  // nothing known: the wave is re-applied later
    for (std::size_t i = 0; i < side_writes.size(); ++i) {
      WaveItem& item = *writers[side][i];
      const auto& result = results.value()[i];
      if (result.error && result.gone) {
        // Deleted on that side since the wave read it (or since the source captured it): nothing
        // to write there any more, and no share either; the side's delete event follows.
        logger_->info("apply: {} {} is gone from {} ({}); its delete follows from that side", object_name(item.record.object),
                      item.record_id, side_name(side), result.error->message);
        item.missing.insert(side);
        continue;
      }
      if (result.error && result.still_referenced) {
        // An account whose deals the PRM still holds: their deletes are usually still on their
        // way (found by the chaos suite: a Salesforce account delete overtook its opportunities'
        // deletes and was dead-lettered, so the PRM kept the account for good). Parked until no
        // synced deal refers to it; the sides written already stay written.
        logger_->info("apply: {} {} is still referenced on {} ({}); parked until its deals are gone",
                      object_name(item.record.object), item.record_id, side_name(side), result.error->message);
        item.outcome = EventOutcome::parked;
        item.reason = referencing_deals_key(item.record_id);
        continue;
      }
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
      if (side_writes[i].op == CanonicalEvent::Operation::upsert) {
        set_id_on(item.record, side, result.crm_id);
        if (auto desired = item.side_desired.find(side); desired != item.side_desired.end()) {
          item.side_after[side].owner = desired->second.owner;
        }
      }
    }
  }
  if (auto granted = write_shares(items, true); !granted) return granted.error();

  // ---- 8. Record: id map, base, versions, conflicts, parked events, journal.
  return record_wave(store, items, summary, *logger_);
}

}  // namespace crmsync::daemon
