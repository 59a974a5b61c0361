#include "daemon/replay_cli.h"

#include "daemon/applied_outcomes.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "connectors/kafka/kafka_producer.h"
#include "connectors/kafka/kafka_topic_reader.h"
#include "daemon/cli.h"
#include "daemon/commands.h"
#include "daemon/json_text.h"
#include "daemon/logging.h"
#include "daemon/operator_cli.h"
#include "daemon/settings_from_config.h"
#include "mapping/canonical_event.h"
#include "mapping/event_json.h"
#include "mapping/record_merge.h"
#include "state/journal.h"
#include "state/state_database.h"

namespace crmsync::daemon {

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kCommand = "replay";

// --from-time / --until as milliseconds since the epoch, or an offset.
struct Position {
  std::optional<long long> offset;
  std::optional<long long> time_ms;
};

std::optional<Position> parse_position(const std::string& text, bool offsets_allowed) {
  if (text.empty()) return std::nullopt;
  if (offsets_allowed && text.find_first_not_of("0123456789") == std::string::npos) {
    try {
      return Position{std::stoll(text), std::nullopt};
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  auto micros = mapping::rfc3339_micros(text);
  if (!micros) return std::nullopt;
  return Position{std::nullopt, *micros / 1000};
}

// One event to re-deliver.
struct Replayed {
  int partition = -1;
  long long offset = -1;
  std::string key;
  std::string event_id;
  std::string object;
  std::string record;
  std::string value;  // the event with its new id
};

bool matches_record(const mapping::CanonicalEvent& event, const std::string& record) {
  return record.empty() || event.prm_id.value_or("") == record || event.salesforce_id.value_or("") == record ||
         event.dynamics_id.value_or("") == record;
}

std::string outcome_counts_json(const std::map<std::string, std::size_t>& counts) {
  std::string out;
  for (const auto& [outcome, count] : counts) out += fmt::format("{}{}:{}", out.empty() ? "" : ",", json_quote(outcome), count);
  return "{" + out + "}";
}

}  // namespace

struct ReplayCli::State {
  CommonOptions* options = nullptr;
  CLI::App* command = nullptr;
  std::string source;
  long long from_offset = -1;
  std::string from_time;
  std::string until;
  std::string object;
  std::string record;
  ChangeOptions change;
  bool no_wait = false;
  int timeout_seconds = 300;

  int run() {
    if ((from_offset >= 0) == !from_time.empty()) {
      return report_failure(kCommand, "give exactly one of --from-offset N or --from-time T", kExitUsage);
    }
    std::optional<Position> start;
    if (from_offset >= 0) start = Position{from_offset, std::nullopt};
    else start = parse_position(from_time, false);
    if (!start) {
      return report_failure(kCommand, fmt::format("--from-time: expected an RFC 3339 time such as 2026-11-28T09:00:00Z, "
                                                  "got \"{}\"", from_time), kExitUsage);
    }
    std::optional<Position> end = parse_position(until, true);
    if (!until.empty() && !end) {
      return report_failure(kCommand, fmt::format("--until: expected an offset or an RFC 3339 time, got \"{}\"", until),
                            kExitUsage);
    }
    int exit_code = kExitUsage;
    auto session = OperatorSession::open(std::string(kCommand), *options, exit_code);
    if (!session) return exit_code;
    if (auto missing = session->require_tables({"applied_events", "journal"})) return *missing;
    const Config& config = session->config();
    std::string topic = fmt::format("{}.changes.{}", config.kafka.topic_prefix, source);

    Logging logging{LogFormat::text, LogLevel::warn, std::make_shared<LogRedactor>()};
    auto reader = connectors::kafka::KafkaTopicReader::create(kafka_settings_from(config), logging.logger("kafka"));
    if (!reader) return session->fail(reader.error());
    auto marks = reader.value()->watermarks(topic, milliseconds(30'000));
    if (!marks) return session->fail(marks.error());
    if (marks.value().empty()) {
      return report_failure(kCommand, fmt::format("topic {} does not exist; has the {} capture ever run?", topic, source),
                            kExitProblem);
    }
    // Per partition: [first, last) to re-deliver, fixed now so that the copies produced below are
    // not read again.
    std::vector<int> partitions;
    for (const auto& p : marks.value()) partitions.push_back(p.partition);
    std::map<int, long long> first, last;
    for (const auto& p : marks.value()) {
      first[p.partition] = std::max(p.low, start->offset.value_or(p.low));
      last[p.partition] = p.high;
    }
    if (start->time_ms) {
      auto at = reader.value()->offsets_for_time(topic, partitions, *start->time_ms, milliseconds(30'000));
      if (!at) return session->fail(at.error());
      for (auto& [partition, offset] : first) offset = std::max(offset, at.value().at(partition));
    }
    if (end && end->offset) {
      for (auto& [partition, offset] : last) offset = std::min(offset, *end->offset + 1);
    } else if (end && end->time_ms) {
      auto at = reader.value()->offsets_for_time(topic, partitions, *end->time_ms, milliseconds(30'000));
      if (!at) return session->fail(at.error());
      for (auto& [partition, offset] : last) offset = std::min(offset, at.value().at(partition));
    }

    auto now_micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
    std::string run_id = mapping::stable_event_id(fmt::format("replay:{}:{}:{}", change.operator_name, topic, now_micros));
    std::vector<Replayed> selected;
    std::set<std::string> selected_ids;  // an event on the topic twice (re-sent) is replayed once
    std::size_t scanned = 0, unreadable = 0;
    auto read = reader.value()->read_range(
        topic, first, last, milliseconds(600'000), [&](connectors::kafka::TopicRecord kafka_record) {
          ++scanned;
          auto event = mapping::parse_event(kafka_record.value);
          if (!event) {
            ++unreadable;  // the apply workers dead-lettered it when it came; a copy would only repeat that
            return;
          }
          if (!object.empty() && mapping::to_string(event.value().object) != object) return;
          if (!matches_record(event.value(), record)) return;
          if (!selected_ids.insert(event.value().event_id).second) return;
          Replayed replayed;
          replayed.partition = kafka_record.partition;
          replayed.offset = kafka_record.offset;
          replayed.key = std::move(kafka_record.key);
          replayed.event_id = event.value().event_id;
          replayed.object = std::string(mapping::to_string(event.value().object));
          replayed.record = event.value().prm_id.value_or(event.value().salesforce_id.value_or(event.value().dynamics_id.value_or("")));
          replayed.value = std::move(kafka_record.value);  // byte for byte, with its own event id
          selected.push_back(std::move(replayed));
        });
    if (!read) return session->fail(read.error());

    std::string ranges;
    for (const auto& [partition, offset] : first) {
      ranges += fmt::format("{}{}:[{},{})", ranges.empty() ? "" : " ", partition, offset, last[partition]);
    }
    // Events the engine already recorded (applied, skipped, parked, dead-lettered, …) would be
    // dropped as duplicates: they are counted, not sent. Only the others are re-delivered.
    std::map<std::string, std::size_t> already;
    std::vector<Replayed> to_send;
    std::vector<std::string> selected_event_ids;
    for (const auto& r : selected) selected_event_ids.push_back(r.event_id);
    auto recorded = recorded_outcomes(session->database(), selected_event_ids);
    if (!recorded) return session->fail(recorded.error());
    for (auto& r : selected) {
      auto found = recorded.value().find(r.event_id);
      if (found != recorded.value().end()) {
        ++already[found->second];
      } else {
        to_send.push_back(std::move(r));
      }
    }

    if (change.dry_run) {
      if (options->json) {
        std::string events;
        for (const auto& r : to_send) {
          events += fmt::format("{}{{\"partition\":{},\"offset\":{},\"event_id\":{},\"object\":{},\"record\":{}}}",
                                events.empty() ? "" : ",", r.partition, r.offset, json_quote(r.event_id),
                                json_quote(r.object), json_quote(r.record));
        }
        std::cout << fmt::format("{{\"dry_run\":true,\"topic\":{},\"scanned\":{},\"unreadable\":{},\"already\":{},"
                                 "\"events\":[{}]}}\n",
                                 json_quote(topic), scanned, unreadable, outcome_counts_json(already), events);
      } else {
        std::cout << fmt::format("would replay {} events from {} ({}); {} already recorded by the engine{}\n",
                                 to_send.size(), topic, ranges, selected.size() - to_send.size(),
                                 unreadable ? fmt::format("; {} unreadable ones skipped", unreadable) : "");
      }
      return kExitOk;
    }

    auto key = session->journal_key();
    if (!key) return session->fail(key.error());
    auto journaled = state::append_journal(
        session->database(), key.value(),
        {operator_journal_entry(change, "", "", run_id,
                                fmt::format(R"({{"action":"replay","topic":{},"ranges":{},"object":{},"record":{},)"
                                            R"("selected":{},"replayed":{},"already":{},"unreadable":{}}})",
                                            json_quote(topic), json_quote(ranges), json_quote(object), json_quote(record),
                                            selected.size(), to_send.size(), outcome_counts_json(already), unreadable))});
    if (!journaled) return session->fail(journaled.error());

    std::map<std::string, std::size_t> outcomes;
    std::size_t pending = 0;
    if (!to_send.empty()) {
      if (auto produced = produce(config, to_send, topic, logging); produced) return session->fail(*produced);
      pending = to_send.size();
      if (!no_wait) {
        std::vector<std::string> sent;
        for (const auto& r : to_send) sent.push_back(r.event_id);
        auto waited = wait_for_outcomes(session->database(), std::move(sent), std::chrono::seconds(timeout_seconds),
                                        outcomes, [&](std::size_t done, std::size_t total) {
                                          if (!options->json) {
                                            std::cerr << fmt::format("crmsync replay: {} of {} applied so far\n", done,
                                                                     total);
                                          }
                                        });
        if (!waited) return session->fail(waited.error());
        pending = waited.value();
      }
    }
    if (options->json) {
      std::cout << fmt::format("{{\"topic\":{},\"run\":{},\"scanned\":{},\"selected\":{},\"replayed\":{},"
                               "\"unreadable\":{},\"already\":{},\"not_applied_yet\":{},\"outcomes\":{}}}\n",
                               json_quote(topic), json_quote(run_id), scanned, selected.size(), to_send.size(), unreadable,
                               outcome_counts_json(already), pending, outcome_counts_json(outcomes));
    } else {
      auto counts = [](const std::map<std::string, std::size_t>& by_outcome) {
        std::string text;
        for (const auto& [outcome, count] : by_outcome) text += fmt::format("{}{} {}", text.empty() ? "" : ", ", count, outcome);
        return text.empty() ? std::string("none") : text;
      };
      std::cout << fmt::format("{} events selected from {} ({}): {} already recorded by the engine ({}), {} replayed{}\n",
                               selected.size(), topic, ranges, selected.size() - to_send.size(), counts(already),
                               to_send.size(),
                               to_send.empty() ? std::string()
                               : no_wait       ? std::string(" (not waiting for them)")
                                               : " (" + counts(outcomes) + ")");
    }
    if (!no_wait && pending > 0) {
      return report_failure(kCommand,
                            fmt::format("{} of {} replayed events were not applied within {} s; is `crmsync run` "
                                        "running? They apply when it does (run {})",
                                        pending, to_send.size(), timeout_seconds, run_id),
                            kExitProblem);
    }
    return kExitOk;
  }

  // Produces every copy and waits for Kafka's acknowledgements; the reason when any failed.
  std::optional<mapping::SyncError> produce(const Config& config, const std::vector<Replayed>& selected,
                                            const std::string& topic, Logging& logging) const {
    auto producer = connectors::kafka::KafkaProducer::create(kafka_settings_from(config), logging.logger("kafka"));
    if (!producer) return producer.error();
    std::atomic<std::size_t> failed{0};
    std::optional<mapping::SyncError> first_failure;
    std::mutex failure_mutex;
    for (const auto& r : selected) {
      while (true) {
        auto queued = producer.value()->produce(topic, r.key, r.value, [&](const auto& delivered) {
          if (delivered) return;
          ++failed;
          std::lock_guard lock(failure_mutex);
          if (!first_failure) first_failure = delivered.error();
        });
        if (queued) break;
        if (queued.error().error_class != mapping::ErrorClass::rate_limited) return queued.error();
        producer.value()->poll(milliseconds(100));  // the local queue is full: let it drain
      }
    }
    if (auto flushed = producer.value()->flush(milliseconds(120'000)); !flushed) return flushed.error();
    if (failed > 0) {
      return mapping::SyncError{first_failure ? first_failure->error_class : mapping::ErrorClass::transient,
                                fmt::format("{} of {} replayed events were not accepted by Kafka: {}", failed.load(),
                                            selected.size(), first_failure ? first_failure->message : "unknown")};
    }
    return std::nullopt;
  }

};

ReplayCli::ReplayCli(CLI::App& app, CommonOptions& options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = &options;
  s.command = app.add_subcommand("replay", "re-deliver captured change events through the normal apply path");
  s.command->add_option("--source", s.source, "whose change topic: prm, salesforce or dynamics")
      ->required()
      ->check(CLI::IsMember({"prm", "salesforce", "dynamics"}));
  s.command->add_option("--from-offset", s.from_offset, "from this offset in every partition")->check(CLI::NonNegativeNumber);
  s.command->add_option("--from-time", s.from_time, "from the first event at or after this RFC 3339 time");
  s.command->add_option("--until", s.until, "up to this offset (inclusive) or RFC 3339 time (exclusive); default: now");
  s.command->add_option("--object", s.object, "only events of account or deal")->check(CLI::IsMember({"account", "deal"}));
  s.command->add_option("--record", s.record, "only events of the record with this PRM, Salesforce or Dataverse id");
  s.command->add_flag("--no-wait", s.no_wait, "produce the events and return, without waiting for them to apply");
  s.command->add_option("--timeout", s.timeout_seconds, "seconds to wait for the apply workers (default 300)")
      ->check(CLI::Range(1, 86400));
  add_output_options(*s.command, options);
  add_change_options(*s.command, s.change);
}

ReplayCli::~ReplayCli() = default;

bool ReplayCli::chosen() const { return state_->command->parsed(); }

int ReplayCli::run() { return state_->run(); }

}  // namespace crmsync::daemon
