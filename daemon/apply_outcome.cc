#include "daemon/apply_item.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "mapping/event_json.h"

namespace crmsync::daemon {

using mapping::CanonicalEvent;
using mapping::CanonicalFields;
using mapping::FieldValue;
using mapping::ObjectKind;
using mapping::Side;

namespace {

// A change the inbound authorization denied (wholly or in part): journaled with its reason and the
// fields concerned (names, never values), and listed for `crmsync status`.
template <typename Journal>
mapping::Status record_denial(state::SyncRecordStore& store, const WaveItem& item, Journal& journal) {
  const CanonicalEvent& event = item.pending->event;
  const mapping::AuthorizationDecision& denial = *item.denial;
  std::string_view scope = denial.record_denied ? "record" : !denial.denied_fields.empty() ? "fields" : "sharing";
  std::vector<std::string> fields;
  for (const auto& name : denial.record_denied ? item.denied_values : denial.denied_fields) fields.push_back(json_text(name));
  bool reverted = false;
  for (Side side : item.written) reverted = reverted || side == Side::prm;
  journal("denied", "",
          fmt::format(R"({{"scope":{},"reason":{},"fields":[{}],"sharing":{},"reverted_on_prm":{}}})", json_text(scope),
                      json_text(denial.reason), fmt::join(fields, ","),
                      denial.record_denied || denial.sharing_denied ? "true" : "false", reverted ? "true" : "false"));
  std::optional<std::string> partner_org;
  if (!item.actor_org.empty()) partner_org = item.actor_org;
  return store.record_denial(event.event_id, event.object, item.record_id, actor_of(event), partner_org, scope,
                             denial.reason);
}

}  // namespace

mapping::Result<std::vector<std::string>> record_wave(state::SyncRecordStore& store, std::vector<WaveItem>& items,
                                                      WaveSummary& summary, spdlog::logger& logger) {
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
      std::string why = item.reason.starts_with("operator:")    ? "held for an operator"
                        : item.reason.starts_with("deals-of:") ? "deals still refer to the account"
                                                                : "reference not mapped yet";
      auto parked = store.park(event.event_id, event.object, item.reason, why, item.pending->json);
      if (!parked) return parked.error();
      if (parked.value()) {
        // The sides a parked delete was written to already (the others go when it is re-applied).
        std::vector<std::string> written;
        for (Side side : item.written) written.push_back(json_text(side_name(side)));
        journal("parked", "", fmt::format(R"({{"waiting_for":{},"written":[{}]}})", json_text(item.reason),
                                          fmt::join(written, ",")));
      } else {
        logger.debug("event {} still waits for {}", event.event_id, item.reason);
      }
    } else if (item.outcome == EventOutcome::superseded || item.outcome == EventOutcome::echo_skipped ||
               item.outcome == EventOutcome::delete_held) {
      journal(std::string(to_string(*item.outcome)), "", fmt::format(R"({{"reason":{}}})", json_text(item.reason)));
    } else if (item.outcome == EventOutcome::denied) {
      if (auto recorded = record_denial(store, item, journal); !recorded) return recorded.error();
      ++summary.denied;
      ++summary.denied_by_partner[item.actor_org];
    } else if (item.outcome == EventOutcome::dead_lettered) {
      journal("dead_lettered", "", fmt::format(R"({{"reason":{}}})", json_text(item.reason)));
      summary.dead_letters.push_back({mapping::kafka_key(event.object, item.record_id), item.pending->json, item.reason});
    } else {
      // Applied (possibly with per-side failures, dead-lettered for that side).
      state::SyncRecord& record = item.record;
      const CanonicalFields base_before = record.base;
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
            // A field never agreed (no base entry) counts as empty, as in the merge.
            auto agreed = after.find(name);
            bool same = agreed == after.end() ? now.kind == FieldValue::Kind::null : agreed->second == now;
            if (!same) settled = false;
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
      if (item.denial) {
        if (auto recorded = record_denial(store, item, journal); !recorded) return recorded.error();
        ++summary.denied;
        ++summary.denied_by_partner[item.actor_org];
      }
      if (event.op == CanonicalEvent::Operation::upsert) {
        std::string unresolved;
        for (const auto& [side, desired] : item.side_desired) {
          if (desired.unresolved.empty()) continue;
          std::vector<std::string> names;
          for (const auto& principal : desired.unresolved) names.push_back(json_text(principal));
          unresolved += fmt::format("{}{}:[{}]", unresolved.empty() ? "" : ",", json_text(side_name(side)),
                                    fmt::join(names, ","));
        }
        bool first_write = false;
        for (const auto& [side, before] : item.side_before) first_write = first_write || before == mapping::SideSharing{};
        if (item.sharing_changed || item.share_writes_done > 0 || (!unresolved.empty() && first_write)) {
          // Deny by default: principals with no counterpart on a side get nothing there.
          journal("sharing", "",
                  fmt::format(R"({{"before":{},"after":{},"unresolved":{{{}}}}})", sharing_json(item.sharing_before),
                              sharing_json(item.sharing_after), unresolved));
        }
        if (item.sharing_changed) {
          record.sharing = item.sharing_after;
          ++record.sharing_version;
        }
        for (auto& [side, held] : item.side_after) {
          held.unresolved.clear();
          record.side_sharing[side] = held;
        }
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
      if (event.resolves_conflict) {
        // An operator's decision: the conflict closes with it, even where every side held the
        // decided value already.
        std::string decided = mapping::fields_to_json(item.merge.agreed);
        auto closed = store.resolve_conflict(
            *event.resolves_conflict,
            fmt::format(R"({{"by":{},"event_id":{},"values":{}}})", json_text(event.actor.id), json_text(event.event_id), decided));
        if (!closed) return closed.error();
        std::vector<std::string> changes;
        for (const auto& [name, value] : item.merge.agreed) {
          auto before = base_before.find(name);
          changes.push_back(fmt::format(R"({}:{{"before":{},"after":{}}})", json_text(name),
                                        before == base_before.end() ? "null" : mapping::to_json_value(before->second),
                                        mapping::to_json_value(value)));
        }
        journal("conflict_resolved", "operator",
                fmt::format(R"({{"conflict":{},"fields":{{{}}},"was_open":{}}})", *event.resolves_conflict,
                            fmt::join(changes, ","), closed.value() ? "true" : "false"));
      }
      std::vector<std::string> written;
      for (Side side : item.written) written.push_back(json_text(side_name(side)));
      if (!event.repairs_drift.empty()) {
        std::vector<std::string> drift;
        for (const auto& kind : event.repairs_drift) drift.push_back(json_text(kind));
        journal("reconcile", "",
                fmt::format(R"({{"drift":[{}],"written":[{}],"share_writes":{}}})", fmt::join(drift, ","),
                            fmt::join(written, ","), item.share_writes_done));
      }
      bool nothing = !event.resolves_conflict && event.op != CanonicalEvent::Operation::remove && item.merge.changed.empty() &&
                     item.merge.conflicts.empty() && item.written.empty() && item.failures.empty() &&
                     !item.sharing_changed && !item.denial && item.share_writes_done == 0;
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
    logger.debug("event {} object={} id={} source={} event_id={}", to_string(*item.outcome), object_name(event.object),
                   item.record_id, side_name(event.source), event.event_id);
  }
  return mapped_accounts;
}

}  // namespace crmsync::daemon
