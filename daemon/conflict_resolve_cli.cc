#include "daemon/conflict_resolve_cli.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "connectors/kafka/kafka_producer.h"
#include "daemon/cli.h"
#include "daemon/commands.h"
#include "daemon/conflicts_cli.h"
#include "daemon/engine_mapping.h"
#include "daemon/json_text.h"
#include "daemon/logging.h"
#include "daemon/operator_cli.h"
#include "daemon/settings_from_config.h"
#include "mapping/canonical_event.h"
#include "mapping/event_json.h"
#include "state/journal.h"
#include "state/state_database.h"

namespace crmsync::daemon {

namespace {

using mapping::FieldValue;
using mapping::Side;

struct ResolveOptions {
  long long id = 0;
  std::string take;
  std::string value_json;
  ChangeOptions change;
  bool no_wait = false;
  int timeout_seconds = 60;
};

struct OpenConflict {
  mapping::ObjectKind object = mapping::ObjectKind::account;
  std::string record_id;
  std::string field;
  std::map<std::string, FieldValue> side_values;  // side name -> value
};

// The change event carrying the decision, from `source`, in that side's own field name and value.
mapping::CanonicalEvent decision_event(const OpenConflict& conflict, const mapping::FieldMapping& field,
                                       const mapping::ObjectMapping& object_mapping, Side source,
                                       const state::QueryRow& ids, const FieldValue& value, long long conflict_id,
                                       const std::string& operator_name) {
  auto native = mapping::to_side(object_mapping, source, {{field.name, value}});
  mapping::CanonicalEvent event;
  auto now = std::chrono::system_clock::now();
  long long micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  event.event_id = mapping::stable_event_id(fmt::format("conflict-resolution:{}:{}:{}", conflict_id, operator_name, micros));
  event.source = source;
  event.object = conflict.object;
  event.prm_id = conflict.record_id;
  if (ids.at(1)) event.salesforce_id = *ids.at(1);
  if (ids.at(2)) event.dynamics_id = *ids.at(2);
  event.occurred_at = fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", std::chrono::floor<std::chrono::seconds>(now));
  event.actor = {mapping::Actor::Kind::operator_user, operator_name, ""};
  event.fields = std::move(native);
  for (const auto& written : event.fields) event.changed.push_back(written.name);
  event.resolves_conflict = conflict_id;
  return event;
}

int run_resolve(const ResolveOptions& options, bool json, OperatorSession& session) {
  const std::string command = "conflicts resolve";
  if (options.take.empty() == options.value_json.empty()) {
    return report_failure(command, "give exactly one of --take SIDE or --value JSON", kExitUsage);
  }
  state::StateDatabase& db = session.database();
  auto rows = db.execute(fmt::format("SELECT object, record_id, field, side_values, status, "
                                     "coalesce(resolution, '') FROM {}.conflicts WHERE id = $1::bigint",
                                     db.schema()),
                         {std::to_string(options.id)});
  if (!rows) return session.fail(rows.error());
  if (rows.value().empty()) {
    return report_failure(command, fmt::format("no conflict {}; `crmsync conflicts list` shows the open ones", options.id),
                          kExitProblem);
  }
  const auto& row = rows.value()[0];
  if (row.at(4).value_or("") != "open") {
    return report_failure(command,
                          fmt::format("conflict {} is already resolved ({})", options.id, row.at(5).value_or("")),
                          kExitProblem);
  }
  OpenConflict conflict;
  conflict.object = row.at(0).value_or("") == "deal" ? mapping::ObjectKind::deal : mapping::ObjectKind::account;
  conflict.record_id = row.at(1).value_or("");
  conflict.field = row.at(2).value_or("");
  auto values = mapping::parse_fields_json(row.at(3).value_or("{}"));
  if (!values) return session.fail(values.error());
  conflict.side_values = std::move(values).value();

  // The decided value.
  FieldValue value;
  std::string decided_by;
  if (!options.take.empty()) {
    auto taken = conflict.side_values.find(options.take);
    if (taken == conflict.side_values.end()) {
      std::vector<std::string> parties;
      for (const auto& [side, ignored] : conflict.side_values) parties.push_back(side);
      return report_failure(command,
                            fmt::format("--take {}: conflict {} is between {}; take one of them or give --value",
                                        options.take, options.id, fmt::join(parties, " and ")),
                            kExitUsage);
    }
    value = taken->second;
    decided_by = "take:" + options.take;
  } else {
    auto parsed = mapping::parse_fields_json("{\"value\":" + options.value_json + "}");
    if (!parsed || parsed.value().count("value") == 0) {
      return report_failure(command,
                            fmt::format("--value: expected one JSON string, number, boolean or null (e.g. '\"text\"' "
                                        "or 120.5), got {}",
                                        options.value_json),
                            kExitUsage);
    }
    value = parsed.value().at("value");
    decided_by = "value";
  }

  // A side that binds the field and holds the record: the PRM when it can.
  mapping::MappingDefinition mapping;
  try {
    mapping = load_engine_mapping(session.config());
  } catch (const std::exception& error) {
    return report_failure(command, error.what(), kExitUsage);
  }
  const mapping::ObjectMapping& object_mapping = mapping.of(conflict.object);
  const mapping::FieldMapping* field = object_mapping.field(conflict.field);
  if (field == nullptr) {
    return report_failure(command,
                          fmt::format("the mapping has no field {} on {} any more; the conflict cannot be applied",
                                      conflict.field, mapping::to_string(conflict.object)),
                          kExitProblem);
  }
  auto ids = db.execute(fmt::format("SELECT on_prm::text, salesforce_id, dynamics_id, deleted::text FROM {}.sync_records "
                                    "WHERE object = $1 AND record_id = $2",
                                    db.schema()),
                        {std::string(mapping::to_string(conflict.object)), conflict.record_id});
  if (!ids) return session.fail(ids.error());
  if (ids.value().empty() || ids.value()[0].at(3).value_or("") == "true") {
    return report_failure(command, fmt::format("conflict {}: {} {} is not synced any more", options.id,
                                               mapping::to_string(conflict.object), conflict.record_id),
                          kExitProblem);
  }
  const state::QueryRow& record_ids = ids.value()[0];
  std::optional<Side> source;
  if (field->on(Side::prm) && record_ids.at(0).value_or("") == "true") source = Side::prm;
  else if (field->on(Side::salesforce) && record_ids.at(1)) source = Side::salesforce;
  else if (field->on(Side::dynamics) && record_ids.at(2)) source = Side::dynamics;
  if (!source) {
    return report_failure(command, fmt::format("conflict {}: no side binds {} and holds the record", options.id, conflict.field),
                          kExitProblem);
  }
  auto checked = mapping::to_side_checked(object_mapping, *source, {{field->name, value}});
  if (!checked.problems.empty()) {
    return report_failure(command, fmt::format("the value does not fit {}: {}", conflict.field, fmt::join(checked.problems, "; ")),
                          kExitUsage);
  }
  mapping::CanonicalEvent event = decision_event(conflict, *field, object_mapping, *source, record_ids, value,
                                                 options.id, options.change.operator_name);
  std::string event_json = mapping::to_json(event);
  std::string topic = fmt::format("{}.changes.{}", session.config().kafka.topic_prefix, mapping::to_string(*source));

  if (options.change.dry_run) {
    if (json) {
      std::cout << fmt::format("{{\"dry_run\":true,\"conflict\":{},\"field\":{},\"value\":{},\"topic\":{},\"event\":{}}}\n",
                               options.id, json_quote(conflict.field), mapping::to_json_value(value), json_quote(topic),
                               event_json);
    } else {
      std::cout << fmt::format("would resolve conflict {} ({} {} field {}) with {} = {}, sent to {}\n", options.id,
                               mapping::to_string(conflict.object), conflict.record_id, conflict.field, conflict.field,
                               mapping::to_json_value(value), topic);
    }
    return kExitOk;
  }

  // Journal the request first: a decision that reaches Kafka is always on record.
  auto key = session.journal_key();
  if (!key) return session.fail(key.error());
  auto journaled = state::append_journal(
      db, key.value(),
      {operator_journal_entry(options.change, std::string(mapping::to_string(conflict.object)), conflict.record_id,
                             event.event_id,
                             fmt::format(R"({{"action":"conflict_resolve","conflict":{},"field":{},"decided_by":{},"value":{}}})",
                                         options.id, json_quote(conflict.field), json_quote(decided_by),
                                         mapping::to_json_value(value)))});
  if (!journaled) return session.fail(journaled.error());

  Logging logging{LogFormat::text, LogLevel::warn, std::make_shared<LogRedactor>()};
  auto producer = connectors::kafka::KafkaProducer::create(kafka_settings_from(session.config()), logging.logger("kafka"));
  if (!producer) return session.fail(producer.error());
  auto delivered = producer.value()->produce_and_wait(topic, mapping::capture_key(event), event_json, std::chrono::seconds(30));
  if (!delivered) return session.fail(delivered.error());

  std::string outcome = "queued";
  if (!options.no_wait) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.timeout_seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      auto applied = db.execute(fmt::format("SELECT outcome FROM {}.applied_events WHERE event_id = $1", db.schema()),
                                {event.event_id});
      if (!applied) return session.fail(applied.error());
      if (!applied.value().empty()) {
        outcome = applied.value()[0].at(0).value_or("");
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  bool resolved = outcome == "applied" || outcome == "echo_skipped";
  if (json) {
    std::cout << fmt::format("{{\"conflict\":{},\"field\":{},\"value\":{},\"event_id\":{},\"topic\":{},\"outcome\":{}}}\n",
                             options.id, json_quote(conflict.field), mapping::to_json_value(value),
                             json_quote(event.event_id), json_quote(topic), json_quote(outcome));
  }
  if (options.no_wait) {
    if (!json) std::cout << fmt::format("conflict {}: decision sent to {} (event {})\n", options.id, topic, event.event_id);
    return kExitOk;
  }
  if (outcome == "queued") {
    return report_failure(command,
                          fmt::format("the decision is on {} but no apply worker applied it within {} s; is `crmsync "
                                      "run` running? It applies when one does (event {})",
                                      topic, options.timeout_seconds, event.event_id),
                          kExitProblem);
  }
  if (!resolved) {
    return report_failure(command,
                          fmt::format("the decision was not applied: {} (see `crmsync journal show --record {}:{}`)",
                                      outcome, mapping::to_string(conflict.object), conflict.record_id),
                          kExitProblem);
  }
  if (!json) {
    std::cout << fmt::format("conflict {} resolved: {} = {} on every side of {} {}\n", options.id, conflict.field,
                             mapping::to_json_value(value), mapping::to_string(conflict.object), conflict.record_id);
  }
  return kExitOk;
}

}  // namespace

void register_conflict_resolve(CLI::App& group, CommonOptions& options, std::vector<ConflictCommand>& commands) {
  auto chosen = std::make_shared<ResolveOptions>();
  CLI::App* resolve = group.add_subcommand(
      "resolve", "decide a conflict: every side gets the value taken from one side, or the one given");
  resolve->add_option("id", chosen->id, "the conflict's id (`crmsync conflicts list`)")->required()->check(CLI::PositiveNumber);
  resolve->add_option("--take", chosen->take, "take the value this side holds: prm, salesforce or dynamics")
      ->check(CLI::IsMember({"prm", "salesforce", "dynamics"}));
  resolve->add_option("--value", chosen->value_json, "this JSON value instead (\"text\", 120.5, true, null)");
  resolve->add_flag("--no-wait", chosen->no_wait, "send the decision and return, without waiting for it to apply");
  resolve->add_option("--timeout", chosen->timeout_seconds, "seconds to wait for an apply worker (default 60)")
      ->check(CLI::Range(1, 3600));
  add_output_options(*resolve, options);
  add_change_options(*resolve, chosen->change);
  commands.push_back({resolve, [chosen, &options](OperatorSession& session) {
                        return run_resolve(*chosen, options.json, session);
                      }});
}

}  // namespace crmsync::daemon
