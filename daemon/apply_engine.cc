#include "daemon/apply_engine.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon/apply_plan.h"
#include "mapping/event_json.h"
#include "mapping/principal_map.h"
#include "mapping/record_merge.h"
#include "state/journal.h"
#include "state/state_database.h"
#include "state/sync_record_store.h"

namespace crmsync::daemon {

using mapping::CanonicalEvent;
using mapping::ObjectKind;
using mapping::Side;

std::string_view to_string(EventOutcome outcome) {
  switch (outcome) {
    case EventOutcome::applied: return "applied";
    case EventOutcome::duplicate: return "duplicate";
    case EventOutcome::echo_skipped: return "echo_skipped";
    case EventOutcome::superseded: return "superseded";
    case EventOutcome::parked: return "parked";
    case EventOutcome::dead_lettered: return "dead_lettered";
    case EventOutcome::delete_held: return "delete_held";
    case EventOutcome::denied: return "denied";
  }
  return "applied";
}

struct ApplyEngine::Impl {
  const mapping::MappingDefinition& mapping;
  std::vector<SideGateway*> gateways;
  state::StateDatabase& state;
  mapping::SecretString journal_key;
  ApplyEngineSettings settings;
  std::shared_ptr<spdlog::logger> logger;
  std::shared_ptr<const mapping::PrincipalMap> principals = std::make_shared<mapping::PrincipalMap>();

  mapping::Result<ApplyReport> run(std::vector<PendingEvent> pending, ApplyReport report);
};

ApplyEngine::ApplyEngine(const mapping::MappingDefinition& mapping, std::vector<SideGateway*> gateways,
                         state::StateDatabase& state, mapping::SecretString journal_key, ApplyEngineSettings settings,
                         std::shared_ptr<spdlog::logger> logger)
    : impl_(std::make_unique<Impl>(Impl{mapping, std::move(gateways), state, std::move(journal_key),
                                        std::move(settings), std::move(logger)})) {}

ApplyEngine::~ApplyEngine() = default;

void ApplyEngine::set_principal_map(std::shared_ptr<const mapping::PrincipalMap> principals) {
  if (principals) impl_->principals = std::move(principals);
}

mapping::Result<ApplyReport> ApplyEngine::apply(const std::vector<std::string>& event_jsons) {
  ApplyReport report;
  std::vector<PendingEvent> pending;
  pending.reserve(event_jsons.size());
  for (const std::string& json : event_jsons) {
    auto parsed = mapping::parse_event(json);
    if (!parsed) {
      // Unreadable: nothing to journal against a record, but it is never dropped silently.
      impl_->logger->error("event dead-lettered reason=\"{}\"", parsed.error().message);
      report.dead_letters.push_back({"", json, parsed.error().message});
      ++report.outcomes[EventOutcome::dead_lettered];
      continue;
    }
    pending.push_back({std::move(parsed).value(), json, false});
  }
  if (!report.dead_letters.empty()) {
    std::vector<state::JournalEntry> entries;
    for (const DeadLetter& letter : report.dead_letters) {
      entries.push_back({"dead_lettered", "daemon:" + impl_->settings.instance_id, "", "", "daemon", "",
                         "", fmt::format(R"({{"reason":{}}})", mapping::to_json_value(mapping::FieldValue::string_value(
                                                                     letter.reason)))});
    }
    if (auto appended = state::append_journal(impl_->state, impl_->journal_key, entries); !appended) {
      return appended.error();
    }
  }
  return impl_->run(std::move(pending), std::move(report));
}

mapping::Result<ApplyReport> ApplyEngine::retry_parked() {
  auto parked = state::resolvable_parked_events(impl_->state, 1000);
  if (!parked) return parked.error();
  std::vector<PendingEvent> pending;
  for (const std::string& json : parked.value()) {
    auto parsed = mapping::parse_event(json);
    if (!parsed) continue;  // was readable when parked; cannot happen
    pending.push_back({std::move(parsed).value(), json, true});
  }
  if (pending.empty()) return ApplyReport{};
  return impl_->run(std::move(pending), ApplyReport{});
}

mapping::Result<ApplyReport> ApplyEngine::Impl::run(std::vector<PendingEvent> pending, ApplyReport report) {
  WavePlanner planner(mapping, gateways, settings, logger, *principals);
  while (!pending.empty()) {
    std::vector<PendingEvent> deferred;
    std::vector<std::string> mapped_accounts;
    WaveSummary summary;
    auto status = state.in_transaction([&](const state::StateDatabase::Executor& execute) -> mapping::Status {
      deferred.clear();
      mapped_accounts.clear();
      summary = WaveSummary{};
      state::SyncRecordStore store(execute, state.schema());
      auto wave = planner.apply_wave(store, pending, deferred, summary);
      if (!wave) return wave.error();
      mapped_accounts = std::move(wave).value();
      return state::append_journal(execute, state.schema(), journal_key, summary.journal);
    });
    if (!status) return status.error();
    ++report.waves;
    for (const auto& [outcome, count] : summary.outcomes) report.outcomes[outcome] += count;
    report.conflicts += summary.conflicts;
    report.denied += summary.denied;
    for (const auto& [org, count] : summary.denied_by_partner) report.denied_by_partner[org] += count;
    for (auto& letter : summary.dead_letters) report.dead_letters.push_back(std::move(letter));

    // Deals parked for the accounts this wave mapped go next, before what the wave deferred.
    if (!mapped_accounts.empty()) {
      std::vector<std::string> parked;
      auto loaded = state.in_transaction([&](const state::StateDatabase::Executor& execute) -> mapping::Status {
        state::SyncRecordStore store(execute, state.schema());
        auto found = store.parked_for(mapped_accounts);
        if (!found) return found.error();
        parked = std::move(found).value();
        return mapping::ok_status();
      });
      if (!loaded) return loaded.error();
      std::vector<PendingEvent> next;
      for (const std::string& json : parked) {
        auto parsed = mapping::parse_event(json);
        if (parsed) next.push_back({std::move(parsed).value(), json, true});
      }
      for (auto& event : deferred) next.push_back(std::move(event));
      deferred = std::move(next);
    }
    pending = std::move(deferred);
  }
  return report;
}

}  // namespace crmsync::daemon
