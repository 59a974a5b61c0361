#include "daemon/status_cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "daemon/cli.h"
#include "daemon/commands.h"
#include "daemon/json_text.h"
#include "daemon/operator_cli.h"
#include "daemon/status_report.h"
#include "state/state_database.h"

namespace crmsync::daemon {

namespace {

std::string quoted_or_null(const std::optional<std::string>& text) { return text ? json_quote(*text) : "null"; }

template <typename Number>
std::string number_or_null(const std::optional<Number>& value) {
  return value ? fmt::format("{}", *value) : "null";
}

std::string strings_json(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + json_quote(item);
  return "[" + out + "]";
}

template <typename T, typename F>
std::string array_json(const std::vector<T>& items, F&& one) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + one(item);
  return "[" + out + "]";
}

std::string report_json(const StatusReport& r) {
  std::string instances = array_json(r.instances, [](const InstanceStatus& i) {
    std::string pipelines;
    for (const auto& [name, state] : i.pipelines) {
      pipelines += fmt::format("{}{}:{}", pipelines.empty() ? "" : ",", json_quote(name), json_quote(state));
    }
    return fmt::format("{{\"instance\":{},\"host\":{},\"pid\":{},\"version\":{},\"state\":{},\"ready\":{},"
                       "\"started_at\":{},\"last_beat_at\":{},\"stopped_at\":{},\"pipelines\":{{{}}},"
                       "\"last_error\":{},\"last_error_at\":{}}}",
                       json_quote(i.instance_id), json_quote(i.host), i.pid, json_quote(i.version), json_quote(i.state),
                       i.ready, json_quote(i.started_at), json_quote(i.beat_at), quoted_or_null(i.stopped_at),
                       pipelines, quoted_or_null(i.last_error), quoted_or_null(i.last_error_at));
  });
  std::string pipelines = array_json(r.pipelines, [](const PipelineStatus& p) {
    return fmt::format("{{\"pipeline\":{},\"running\":{},\"instances\":{}}}", json_quote(p.name), p.running,
                       strings_json(p.instances));
  });
  std::string cursors = array_json(r.cursors, [](const CursorStatus& c) {
    return fmt::format("{{\"pipeline\":{},\"name\":{},\"position\":{},\"updated_at\":{},\"lag_bytes\":{},"
                       "\"detail\":{}}}",
                       json_quote(c.pipeline), json_quote(c.name), json_quote(c.position), json_quote(c.updated_at),
                       number_or_null(c.lag), json_quote(c.detail));
  });
  std::string lag = array_json(r.consumer_lag, [](const PartitionLag& l) {
    return fmt::format("{{\"topic\":{},\"partition\":{},\"committed\":{},\"high_watermark\":{},\"lag\":{}}}",
                       json_quote(l.topic), l.partition, number_or_null(l.committed), l.high, l.lag);
  });
  std::string budgets = array_json(r.budgets, [](const BudgetStatus& b) {
    return fmt::format("{{\"crm\":{},\"org\":{},\"used_today\":{},\"limit\":{},\"source\":{}}}", json_quote(b.crm),
                       json_quote(b.org), number_or_null(b.used), number_or_null(b.limit), json_quote(b.source));
  });
  std::string flags = array_json(r.partner_flags_24h, [](const PartnerFlagStatus& f) {
    return fmt::format("{{\"partner_org\":{},\"reason\":{},\"value\":{},\"threshold\":{},\"flagged_at\":{}}}",
                       json_quote(f.partner_org), json_quote(f.reason), f.value, f.threshold, json_quote(f.flagged_at));
  });
  std::string secrets = array_json(r.secrets, [](const SecretAgeStatus& s) {
    return fmt::format("{{\"name\":{},\"version\":{},\"age_days\":{:.1f},\"max_age_days\":{:.1f},\"state\":{}}}",
                       json_quote(s.name), s.version, s.age_days, s.max_age_days, json_quote(s.state));
  });
  return fmt::format(
      "{{\"ok\":{},\"problems\":{},\"warnings\":{},\"instances\":{},\"pipelines\":{},\"admin_endpoint\":{},"
      "\"cursors\":{},\"consumer_lag\":{},\"api_budget\":{},\"dead_letters_pending\":{},\"open_conflicts\":{},"
      "\"held_deletes\":{},\"parked_events\":{},\"parked_over_an_hour\":{},\"denied_changes_24h\":{},"
      "\"partner_flags_24h\":{},\"secrets\":{}}}",
      r.problems.empty(), strings_json(r.problems), strings_json(r.warnings), instances, pipelines,
      r.admin_ready ? fmt::format("{{\"answers\":true,\"ready\":{}}}", *r.admin_ready) : "{\"answers\":false}", cursors,
      lag, budgets, number_or_null(r.pending_dead_letters), r.open_conflicts, r.held_deletes, r.parked_events,
      r.parked_over_an_hour, r.denied_24h, flags, secrets);
}

void print_human(const StatusReport& r) {
  std::cout << "pipelines\n";
  for (const auto& p : r.pipelines) {
    std::cout << fmt::format("  {:<20} {}\n", p.name,
                             p.running ? fmt::format("running on {}", fmt::join(p.instances, ", ")) : "not running");
  }
  if (r.pipelines.empty()) std::cout << "  (none configured)\n";
  std::cout << "instances\n";
  for (const auto& i : r.instances) {
    std::cout << fmt::format("  {:<20} {} on {} pid {} (v{}, last beat {}{})\n", i.instance_id, i.state, i.host, i.pid,
                             i.version, i.beat_at, i.state == "running" ? (i.ready ? ", ready" : ", NOT ready") : "");
    if (i.last_error) std::cout << fmt::format("    last error at {}: {}\n", i.last_error_at.value_or("?"), *i.last_error);
  }
  if (r.instances.empty()) std::cout << "  (no daemon has ever reported to this state database)\n";
  std::cout << fmt::format("admin endpoint: {}\n",
                           r.admin_ready ? (*r.admin_ready ? "answers, ready" : "answers, not ready") : "not answering");
  std::cout << "capture cursors\n";
  for (const auto& c : r.cursors) {
    std::cout << fmt::format("  {:<20} {:<28} {} (saved {}){}{}\n", c.pipeline, c.name,
                             c.position.empty() ? "-" : c.position, c.updated_at.empty() ? "never" : c.updated_at,
                             c.lag ? fmt::format(", lag {} bytes", *c.lag) : "",
                             c.detail.empty() ? "" : "; " + c.detail);
  }
  if (r.cursors.empty()) std::cout << "  (none yet)\n";
  std::cout << "apply consumer lag\n";
  for (const auto& l : r.consumer_lag) {
    std::cout << fmt::format("  {}[{}] committed {} of {}: lag {}\n", l.topic, l.partition,
                             l.committed ? std::to_string(*l.committed) : "none", l.high, l.lag);
  }
  if (r.consumer_lag.empty()) std::cout << "  (no change topics yet)\n";
  std::cout << "API budget today\n";
  for (const auto& b : r.budgets) {
    std::cout << fmt::format("  {:<10} {:<40} {}\n", b.crm, b.org,
                             b.used ? fmt::format("{} of {} requests ({})", *b.used,
                                                  b.limit ? std::to_string(*b.limit) : "?", b.source)
                                    : b.source);
  }
  std::cout << fmt::format(
      "dead letters pending: {}\nopen conflicts: {}\nheld deletes: {}\nparked events: {} ({} over an hour)\n"
      "denied changes (24 h): {}\npartner flags (24 h): {}\n",
      r.pending_dead_letters ? std::to_string(*r.pending_dead_letters) : "unknown", r.open_conflicts, r.held_deletes,
      r.parked_events, r.parked_over_an_hour, r.denied_24h, r.partner_flags_24h.size());
  for (const auto& f : r.partner_flags_24h) {
    std::cout << fmt::format("  {} {} ({} > {}) at {}\n", f.partner_org, f.reason, f.value, f.threshold, f.flagged_at);
  }
  if (!r.secrets.empty()) {
    std::cout << "secrets (current versions)\n";
    for (const auto& s : r.secrets) {
      std::cout << fmt::format("  {:<40} v{} {:.0f} of {:.0f} days{}\n", s.name, s.version, s.age_days, s.max_age_days,
                               s.state == "ok" ? "" : " (" + s.state + ")");
    }
  }
  for (const auto& w : r.warnings) std::cout << "WARNING: " << w << '\n';
  for (const auto& p : r.problems) std::cout << "PROBLEM: " << p << '\n';
  std::cout << (r.problems.empty() ? "status: ok\n" : fmt::format("status: {} problem(s)\n", r.problems.size()));
}

}  // namespace

struct StatusCli::State {
  CommonOptions* options = nullptr;
  CLI::App* command = nullptr;
  StatusThresholds thresholds;
  long long max_slot_lag = -1;

  int run() {
    int exit_code = kExitUsage;
    auto session = OperatorSession::open("status", *options, exit_code);
    if (!session) return exit_code;
    if (max_slot_lag >= 0) thresholds.max_slot_lag_bytes = max_slot_lag;
    StatusReport report = gather_status(session->config(), session->database(), thresholds);
    if (options->json) {
      std::cout << report_json(report) << '\n';
    } else {
      print_human(report);
    }
    if (report.problems.empty()) return kExitOk;
    // The one-line reason on stderr; the whole list is in the output.
    return report_failure("status", fmt::format("{} problem(s); the first: {}", report.problems.size(),
                                                report.problems.front()),
                          kExitProblem);
  }
};

StatusCli::StatusCli(CLI::App& app, CommonOptions& options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = &options;
  s.command = app.add_subcommand("status", "pipelines, lag, cursors, errors, conflicts, dead letters, secrets at a glance");
  s.command->add_option("--max-lag", s.thresholds.max_consumer_lag,
                        "events behind on one partition before it counts as a problem (default 10000)")
      ->check(CLI::NonNegativeNumber);
  s.command->add_option("--max-slot-lag", s.max_slot_lag,
                        "bytes of WAL the PRM capture may lag (default: prm.retained_wal_warning_bytes)")
      ->check(CLI::NonNegativeNumber);
  add_output_options(*s.command, options);
}

StatusCli::~StatusCli() = default;

bool StatusCli::chosen() const { return state_->command->parsed(); }

int StatusCli::run() { return state_->run(); }

}  // namespace crmsync::daemon
