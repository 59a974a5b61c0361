#include "daemon/journal_cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "daemon/cli.h"
#include "daemon/commands.h"
#include "daemon/json_text.h"
#include "daemon/operator_cli.h"
#include "state/journal.h"

namespace crmsync::daemon {

namespace {

struct RecordName {
  std::string object;
  std::string id;
};

// "deal:0061x000001" → {deal, 0061x000001}; the id may itself contain ':'.
std::optional<RecordName> parse_record(const std::string& text) {
  std::size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return std::nullopt;
  return RecordName{text.substr(0, colon), text.substr(colon + 1)};
}

// The detail as JSON: itself when it is a JSON object (as append_journal requires), else a string
// (a damaged row must not break the output).
std::string detail_as_json(const std::string& detail) {
  return state::is_json_object(detail) ? detail : json_quote(detail);
}

std::string entry_json(const state::StoredJournalEntry& stored) {
  const state::JournalEntry& e = stored.entry;
  return fmt::format(
      "{{\"seq\":{},\"recorded_at\":{},\"kind\":{},\"actor\":{},\"object\":{},\"record_id\":{},"
      "\"source\":{},\"event_id\":{},\"policy\":{},\"detail\":{},\"prev_hash\":\"{}\",\"hash\":\"{}"
      "\"}}",
      stored.seq, json_quote(stored.recorded_at), json_quote(e.kind), json_quote(e.actor),
      json_quote(e.object), json_quote(e.record_id), json_quote(e.source), json_quote(e.event_id),
      json_quote(e.policy), detail_as_json(e.detail_json), stored.prev_hash_hex, stored.hash_hex);
}

std::string entry_line(const state::StoredJournalEntry& stored) {
  const state::JournalEntry& e = stored.entry;
  std::string line = fmt::format("{} {} {} actor={} source={}", stored.seq, stored.recorded_at,
                                 e.kind, e.actor, e.source);
  if (!e.event_id.empty()) line += " event=" + e.event_id;
  if (!e.policy.empty()) line += " policy=" + e.policy;
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return line + " detail=" + e.detail_json;
}

}  // namespace

struct JournalCli::State {
  CommonOptions* options = nullptr;
  CLI::App* group = nullptr;
  CLI::App* verify = nullptr;
  CLI::App* show = nullptr;
  CLI::App* explain = nullptr;
  std::string record;
  std::string field;
  std::size_t limit = 50;

  int fail(std::string_view message, int code) const { return report_failure("journal", message, code); }

  int run() {
    std::optional<RecordName> name;
    if (*show || *explain) {
      name = parse_record(record);
      if (!name)
        return fail(
            fmt::format("--record: expected OBJECT:ID such as deal:0061x00000AbCdE, got \"{}\"",
                        record),
            kExitUsage);
    }
    int exit_code = kExitUsage;
    auto session = OperatorSession::open("journal", *options, exit_code);
    if (!session) return exit_code;
    if (auto missing = session->require_tables({"journal"})) return *missing;
    if (*verify) return run_verify(*session);
    if (*show) return run_show(*session, *name);
    if (*explain) return run_explain(*session, *name);
    return kExitUsage;
  }

  int run_verify(OperatorSession& session) const {
    auto key = session.journal_key();
    if (!key) return session.fail(key.error());
    auto checked = state::verify_journal(session.database(), key.value());
    if (!checked) return session.fail(checked.error().message, kExitProblem);
    const state::JournalVerification& v = checked.value();
    if (options->json) {
      std::cout << fmt::format(
          "{{\"intact\":{},\"entries_checked\":{},\"first_bad_seq\":{},\"reason\":{}}}\n", v.intact,
          v.entries_checked, v.first_bad_seq ? std::to_string(*v.first_bad_seq) : "null",
          json_quote(v.reason));
    } else if (v.intact) {
      std::cout << fmt::format("journal intact: {} entries checked\n", v.entries_checked);
    } else {
      std::cout << fmt::format("journal broken at seq {}: {}\n", v.first_bad_seq.value_or(0),
                               v.reason);
    }
    return v.intact ? kExitOk : kExitProblem;
  }

  int run_show(OperatorSession& session, const RecordName& name) const {
    auto entries = state::journal_for_record(session.database(), name.object, name.id, limit);
    if (!entries) return session.fail(entries.error());
    if (options->json) {
      std::string out;
      for (const auto& stored : entries.value())
        out += (out.empty() ? "" : ",") + entry_json(stored);
      std::cout << fmt::format("{{\"record\":{},\"entries\":[{}]}}\n", json_quote(record), out);
    } else {
      for (const auto& stored : entries.value()) std::cout << entry_line(stored) << '\n';
    }
    if (entries.value().empty()) {
      if (!options->json) fail("no journal entries for " + record, kExitProblem);
      return kExitProblem;
    }
    return kExitOk;
  }

  int run_explain(OperatorSession& session, const RecordName& name) const {
    auto found = state::explain_field(session.database(), name.object, name.id, field);
    if (!found) return session.fail(found.error());
    if (!found.value()) {
      if (options->json) {
        std::cout << fmt::format("{{\"record\":{},\"field\":{},\"entry\":null}}\n",
                                 json_quote(record), json_quote(field));
      } else {
        fail(fmt::format("no journal entry set {} of {}", field, record), kExitProblem);
      }
      return kExitProblem;
    }
    const state::StoredJournalEntry& stored = *found.value();
    std::string change =
        state::journal_field_change(stored.entry.detail_json, field).value_or("null");
    if (options->json) {
      std::cout << fmt::format("{{\"record\":{},\"field\":{},\"change\":{},\"entry\":{}}}\n",
                               json_quote(record), json_quote(field), change, entry_json(stored));
    } else {
      std::cout << fmt::format("{} {}: {}\nset by journal entry {}\n", record, field, change,
                               entry_line(stored));
    }
    return kExitOk;
  }
};

JournalCli::JournalCli(CLI::App& app, CommonOptions& options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = &options;
  s.group =
      app.add_subcommand("journal", "check and read the tamper-evident journal of sync decisions");
  s.group->require_subcommand(1);
  auto add_common = [&](CLI::App* command) { add_output_options(*command, options); };
  s.verify = s.group->add_subcommand("verify",
                                     "recompute the hash chain; exit 1 naming the first bad entry");
  add_common(s.verify);

  s.show = s.group->add_subcommand("show", "one record's journal entries, oldest first");
  s.show->add_option("--record", s.record, "the record, OBJECT:ID (e.g. deal:0061x00000AbCdE)")
      ->required();
  s.show->add_option("--limit", s.limit, "show the newest N entries (default 50)")
      ->check(CLI::Range(1, 100000));
  add_common(s.show);

  s.explain =
      s.group->add_subcommand("explain", "which journal entry gave a field its current value");
  s.explain->add_option("--record", s.record, "the record, OBJECT:ID (e.g. deal:0061x00000AbCdE)")
      ->required();
  s.explain->add_option("--field", s.field, "the field, e.g. amount")->required();
  add_common(s.explain);
}

JournalCli::~JournalCli() = default;

bool JournalCli::chosen() const {
  return state_->group->parsed();
}

int JournalCli::run() {
  return state_->run();
}

}  // namespace crmsync::daemon
