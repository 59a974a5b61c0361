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
    logger.debug("event {} object={} id={} source={} event_id={}", to_string(*item.outcome), object_name(event.object),
                   item.record_id, side_name(event.source), event.event_id);
  }
  return mapped_accounts;
}

}  // namespace crmsync::daemon
