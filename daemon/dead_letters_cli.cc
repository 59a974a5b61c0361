#include "daemon/dead_letters_cli.h"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "connectors/kafka/kafka_topic_reader.h"
#include "daemon/apply_item.h"
#include "daemon/cli.h"
#include "daemon/commands.h"
#include "daemon/dead_letter.h"
#include "daemon/json_text.h"
#include "daemon/logging.h"
#include "daemon/operator_cli.h"
#include "daemon/settings_from_config.h"
#include "state/dead_letter_decisions.h"
#include "state/state_database.h"

namespace crmsync::daemon {

namespace {

using connectors::kafka::KafkaTopicReader;

std::string one_line(std::string text, std::size_t max = std::string::npos) {
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (text.size() > max) text = text.substr(0, max - 3) + "...";
  return text;
}

std::string decision_json(const std::optional<state::DeadLetterDecision>& decision) {
  if (!decision) return "null";
  return fmt::format("{{\"decision\":{},\"by\":{},\"at\":{},\"note\":{}}}", json_quote(decision->decision),
                     json_quote(decision->decided_by), json_quote(decision->decided_at), json_quote(decision->note));
}

std::string summary_json(const DeadLetterRecord& letter, const std::optional<state::DeadLetterDecision>& decision) {
  return fmt::format(
      "{{\"id\":{},\"partition\":{},\"offset\":{},\"time\":{},\"source\":{},\"object\":{},\"record_id\":{},"
      "\"event_id\":{},\"reason\":{},\"instance\":{},\"decision\":{}}}",
      json_quote(letter.id), letter.partition, letter.offset, json_quote(letter.time), json_quote(letter.source),
      json_quote(letter.object), json_quote(letter.record_id), json_quote(letter.event_id), json_quote(letter.reason),
      json_quote(letter.instance), decision_json(decision));
}

// The version the record last saw from `source` (sync_records.versions), if any.
mapping::Result<std::optional<std::string>> seen_version(state::StateDatabase& db, const std::string& object,
                                                         const std::string& record_id, const std::string& source) {
  auto rows = db.execute(fmt::format("SELECT versions FROM {}.sync_records WHERE object = $1 AND record_id = $2",
                                     db.schema()),
                         {object, record_id});
  if (!rows) return rows.error();
  if (rows.value().empty()) return std::optional<std::string>();
  rapidjson::Document doc;
  std::string text = rows.value()[0][0].value_or("{}");
  doc.Parse(text.c_str(), text.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember(source.c_str()) || !doc[source.c_str()].IsString()) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(doc[source.c_str()].GetString());
}

}  // namespace

struct DeadLettersCli::State {
  CommonOptions* options = nullptr;
  CLI::App* group = nullptr;
  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* retry = nullptr;
  CLI::App* discard = nullptr;
  std::string id_text;
  bool all = false;
  std::string note;
  ChangeOptions change;

  int fail(std::string_view message, int code) const { return report_failure("dead-letters", message, code); }

  int run() {
    std::optional<std::pair<int, long long>> id;
    if (!*list) {
      id = parse_dead_letter_id(id_text);
      if (!id) {
        return fail(fmt::format("ID: expected PARTITION:OFFSET as `crmsync dead-letters list` shows it (e.g. 0:17), "
                                "got \"{}\"",
                                id_text),
                    kExitUsage);
      }
    }
    int exit_code = kExitUsage;
    auto session = OperatorSession::open("dead-letters", *options, exit_code);
    if (!session) return exit_code;
    if (auto missing = session->require_tables({"dead_letter_decisions", "applied_events", "parked_events"})) {
      return *missing;
    }
    Logging quiet(LogFormat::text, LogLevel::off, std::make_shared<LogRedactor>());
    auto reader = KafkaTopicReader::create(kafka_settings_from(session->config()), quiet.logger("kafka"));
    if (!reader) return session->fail(reader.error());
    std::string topic = session->config().kafka.topic_prefix + ".deadletter";
    auto decisions = state::load_dead_letter_decisions(session->database(), topic);
    if (!decisions) return session->fail(decisions.error());
    auto decision_of = [&](const std::string& letter_id) -> std::optional<state::DeadLetterDecision> {
      auto found = decisions.value().find(letter_id);
      if (found == decisions.value().end()) return std::nullopt;
      return found->second;
    };
    auto timeout = std::max(session->config().kafka.request_timeout, std::chrono::milliseconds(10000));

    if (*list) return run_list(*session, *reader.value(), topic, timeout, decision_of);

    auto found = reader.value()->read_one(topic, id->first, id->second, timeout);
    if (!found) return session->fail(found.error());
    if (!found.value()) {
      return session->fail(fmt::format("no dead letter {} on {} (expired from the topic, or never there); see "
                                        "`crmsync dead-letters list`",
                                        id_text, topic),
                           kExitProblem);
    }
    DeadLetterRecord letter = read_dead_letter(*found.value());
    std::optional<state::DeadLetterDecision> decision = decision_of(letter.id);
    if (decision && decision->event_id != letter.event_id) decision.reset();  // taken on another letter
    if (*show) return run_show(*session, letter, decision);
    if (decision) {
      return session->fail(fmt::format("dead letter {} was already {} by {} at {}", letter.id, decision->decision,
                                       decision->decided_by, decision->decided_at),
                           kExitProblem);
    }
    if (*retry) return run_retry(*session, topic, letter);
    return run_discard(*session, topic, letter);
  }

  template <typename DecisionOf>
  int run_list(OperatorSession& session, KafkaTopicReader& reader, const std::string& topic,
               std::chrono::milliseconds timeout, const DecisionOf& decision_of) const {
    std::vector<std::pair<DeadLetterRecord, std::optional<state::DeadLetterDecision>>> shown;
    std::size_t hidden = 0;
    auto read = reader.read_all(topic, timeout, [&](connectors::kafka::TopicRecord record) {
      DeadLetterRecord letter = read_dead_letter(record);
      auto decision = decision_of(letter.id);
      // A decision counts only for the letter it was taken on (same event id).
      if (decision && decision->event_id != letter.event_id) decision.reset();
      if (decision && !all) {
        ++hidden;
        return;
      }
      shown.emplace_back(std::move(letter), std::move(decision));
    });
    if (!read) return session.fail(read.error());
    if (options->json) {
      std::string out;
      for (const auto& [letter, decision] : shown) out += (out.empty() ? "" : ",") + summary_json(letter, decision);
      std::cout << fmt::format("{{\"topic\":{},\"dead_letters\":[{}],\"hidden\":{}}}\n", json_quote(topic), out,
                               hidden);
      return kExitOk;
    }
    if (shown.empty()) {
      std::cout << fmt::format("no dead letters to handle on {}{}\n", topic,
                               hidden > 0 ? fmt::format(" ({} retried or discarded; --all shows them)", hidden) : "");
      return kExitOk;
    }
    std::cout << fmt::format("{:<10} {:<24} {:<10} {:<7} {:<20} {}\n", "ID", "TIME", "SOURCE", "OBJECT", "RECORD",
                             all ? "DECISION / REASON" : "REASON");
    for (const auto& [letter, decision] : shown) {
      std::string reason = one_line(letter.reason, 100);
      if (decision) reason = "[" + decision->decision + "] " + reason;
      std::cout << fmt::format("{:<10} {:<24} {:<10} {:<7} {:<20} {}\n", letter.id, letter.time,
                               letter.source.empty() ? "-" : letter.source, letter.object.empty() ? "-" : letter.object,
                               letter.record_id.empty() ? "-" : letter.record_id, reason);
    }
    if (hidden > 0) std::cout << fmt::format("({} retried or discarded not shown; --all shows them)\n", hidden);
    return kExitOk;
  }

  int run_show(OperatorSession& session, const DeadLetterRecord& letter,
               const std::optional<state::DeadLetterDecision>& decision) const {
    std::optional<state::AppliedEvent> engine;
    std::optional<std::string> parked;
    if (!letter.event_id.empty()) {
      auto applied = state::applied_event(session.database(), letter.event_id);
      if (!applied) return session.fail(applied.error());
      engine = applied.value();
      auto waiting = state::parked_waiting_for(session.database(), letter.event_id);
      if (!waiting) return session.fail(waiting.error());
      parked = waiting.value();
    }
    if (options->json) {
      std::string summary = summary_json(letter, decision);
      summary.pop_back();  // reopen the object
      std::cout << summary
                << fmt::format(",\"key\":{},\"engine\":{},\"parked_waiting_for\":{},\"event\":{}}}\n",
                               json_quote(letter.key),
                               engine ? fmt::format("{{\"outcome\":{},\"at\":{}}}", json_quote(engine->outcome),
                                                    json_quote(engine->applied_at))
                                      : "null",
                               parked ? json_quote(*parked) : "null",
                               letter.event ? letter.event_json : json_quote(letter.event_json));
      return kExitOk;
    }
    std::cout << fmt::format("dead letter {}\ntime:      {}\nsource:    {}\nrecord:    {}:{}\nevent id:  {}\n"
                             "instance:  {}\nreason:    {}\n",
                             letter.id, letter.time, letter.source, letter.object, letter.record_id, letter.event_id,
                             letter.instance, one_line(letter.reason));
    if (decision) {
      std::cout << fmt::format("decision:  {} by {} at {}{}\n", decision->decision, decision->decided_by,
                               decision->decided_at, decision->note.empty() ? "" : " (" + decision->note + ")");
    }
    if (engine) std::cout << fmt::format("engine:    last outcome {} at {}\n", engine->outcome, engine->applied_at);
    if (parked) std::cout << fmt::format("parked:    waiting for {}\n", *parked);
    std::cout << "event:     " << letter.event_json << '\n';
    return kExitOk;
  }

  int run_retry(OperatorSession& session, const std::string& topic, const DeadLetterRecord& letter) const {
    if (!letter.event) {
      return session.fail(fmt::format("dead letter {} cannot be retried: its event is not a readable canonical event "
                                      "({}); fix the producer and discard it",
                                      letter.id, one_line(letter.reason, 200)),
                          kExitProblem);
    }
    const mapping::CanonicalEvent& event = *letter.event;
    std::string record_id = letter.record_id.empty() ? event.prm_id.value_or("") : letter.record_id;
    // A retry re-applies this change as it was: when the record changed since on the same side, that
    // would undo the newer change (the engine supersedes such events; a retry bypasses that check).
    std::string version = version_of(event);
    if (!record_id.empty() && !version.empty()) {
      auto seen = seen_version(session.database(), letter.object, record_id, letter.source);
      if (!seen) return session.fail(seen.error());
      if (seen.value() && !not_newer(*seen.value(), version)) {
        return session.fail(fmt::format("dead letter {} is superseded: {}:{} changed on {} since (version {} after {}); "
                                        "a retry would undo that. Discard it, and use `crmsync reconcile` if the "
                                        "sides still differ",
                                        letter.id, letter.object, record_id, letter.source, *seen.value(), version),
                            kExitProblem);
      }
    }
    std::string detail = fmt::format(
        "{{\"action\":\"dead_letter_retry\",\"dead_letter\":{},\"topic\":{},\"reason\":{},\"dry_run\":{}}}",
        json_quote(letter.id), json_quote(topic), json_quote(letter.reason), change.dry_run);
    if (change.dry_run) {
      return report(fmt::format("would retry dead letter {}: event {} ({} {}:{}) goes back to the apply workers",
                                letter.id, letter.event_id, letter.source, letter.object, record_id),
                    letter, "retry");
    }
    auto key = session.journal_key();
    if (!key) return session.fail(key.error());
    state::StateDatabase& db = session.database();
    auto done = db.in_transaction([&](const state::StateDatabase::Executor& execute) -> mapping::Status {
      state::DeadLetterDecision decision{topic, letter.id, letter.event_id, "retried", change.operator_name, "", note};
      if (auto recorded = state::record_dead_letter_decision(execute, db.schema(), decision); !recorded) return recorded;
      if (auto queued = state::queue_event_retry(execute, db.schema(), letter.event_id, letter.object, letter.id,
                                                 letter.event_json, change.operator_name);
          !queued) {
        return queued;
      }
      return state::append_journal(execute, db.schema(), key.value(),
                                   {operator_journal_entry(change, letter.object, record_id, letter.event_id, detail)});
    });
    if (!done) return session.fail(done.error());
    return report(fmt::format("dead letter {} queued for retry: event {} ({} {}:{}) is re-applied by the apply "
                              "workers' parked-events sweep while the daemon runs; a new dead letter appears if it "
                              "fails again (see `crmsync dead-letters show {}`)",
                              letter.id, letter.event_id, letter.source, letter.object, record_id, letter.id),
                  letter, "retry");
  }

  int run_discard(OperatorSession& session, const std::string& topic, const DeadLetterRecord& letter) const {
    std::string detail = fmt::format(
        "{{\"action\":\"dead_letter_discard\",\"dead_letter\":{},\"topic\":{},\"reason\":{},\"note\":{},"
        "\"dry_run\":{}}}",
        json_quote(letter.id), json_quote(topic), json_quote(letter.reason), json_quote(note), change.dry_run);
    if (change.dry_run) return report(fmt::format("would discard dead letter {}", letter.id), letter, "discard");
    auto key = session.journal_key();
    if (!key) return session.fail(key.error());
    state::StateDatabase& db = session.database();
    auto done = db.in_transaction([&](const state::StateDatabase::Executor& execute) -> mapping::Status {
      state::DeadLetterDecision decision{topic, letter.id, letter.event_id, "discarded", change.operator_name, "", note};
      if (auto recorded = state::record_dead_letter_decision(execute, db.schema(), decision); !recorded) return recorded;
      return state::append_journal(execute, db.schema(), key.value(),
                                   {operator_journal_entry(change, letter.object, letter.record_id, letter.event_id,
                                                           detail)});
    });
    if (!done) return session.fail(done.error());
    return report(fmt::format("dead letter {} discarded", letter.id), letter, "discard");
  }

  int report(const std::string& message, const DeadLetterRecord& letter, std::string_view action) const {
    if (options->json) {
      std::cout << fmt::format("{{\"ok\":true,\"action\":{},\"dead_letter\":{},\"event_id\":{},\"dry_run\":{},"
                               "\"operator\":{},\"message\":{}}}\n",
                               json_quote(action), json_quote(letter.id), json_quote(letter.event_id), change.dry_run,
                               json_quote(change.operator_name), json_quote(message));
    } else {
      std::cout << message << '\n';
    }
    return kExitOk;
  }
};

DeadLettersCli::DeadLettersCli(CLI::App& app, CommonOptions& options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = &options;
  s.group = app.add_subcommand("dead-letters", "events the apply workers could not apply: list, show, retry, discard");
  s.group->require_subcommand(1);

  s.list = s.group->add_subcommand("list", "dead letters not yet retried or discarded (ID = PARTITION:OFFSET)");
  s.list->add_flag("--all", s.all, "also the ones already retried or discarded");
  add_output_options(*s.list, options);

  s.show = s.group->add_subcommand("show", "one dead letter whole: reason, event, decision, engine outcome");
  s.show->add_option("id", s.id_text, "PARTITION:OFFSET, as `list` shows it")->required();
  add_output_options(*s.show, options);

  s.retry = s.group->add_subcommand("retry", "re-apply the original event through the apply workers (journaled)");
  s.retry->add_option("id", s.id_text, "PARTITION:OFFSET, as `list` shows it")->required();
  s.retry->add_option("--note", s.note, "why (journaled)");
  add_output_options(*s.retry, options);
  add_change_options(*s.retry, s.change);

  s.discard = s.group->add_subcommand("discard", "mark it handled without applying it (journaled)");
  s.discard->add_option("id", s.id_text, "PARTITION:OFFSET, as `list` shows it")->required();
  s.discard->add_option("--note", s.note, "why (journaled)");
  add_output_options(*s.discard, options);
  add_change_options(*s.discard, s.change);
}

DeadLettersCli::~DeadLettersCli() = default;

bool DeadLettersCli::chosen() const { return state_->group->parsed(); }

int DeadLettersCli::run() { return state_->run(); }

}  // namespace crmsync::daemon
