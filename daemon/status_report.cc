#include "daemon/status_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "connectors/http/http_transport.h"
#include "connectors/kafka/kafka_topic_reader.h"
#include "connectors/prm/prm_query_session.h"
#include "daemon/dead_letter.h"
#include "daemon/log_redactor.h"
#include "daemon/logging.h"
#include "daemon/settings_from_config.h"
#include "state/daemon_heartbeat.h"
#include "state/state_database.h"

namespace crmsync::daemon {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kRfc3339 = "YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"";

class Gatherer {
 public:
  Gatherer(const Config& config, state::StateDatabase& db, const StatusThresholds& thresholds)
      : config_(config), db_(db), thresholds_(thresholds),
        logging_(LogFormat::text, LogLevel::off, std::make_shared<LogRedactor>()) {}

  StatusReport run() {
    instances_and_pipelines();
    admin_endpoint();
    prm_cursor();
    crm_cursors();
    kafka();
    counts();
    secrets();
    return std::move(report_);
  }

 private:
  void problem(std::string text) { report_.problems.push_back(std::move(text)); }
  void warning(std::string text) { report_.warnings.push_back(std::move(text)); }

  bool has_table(const std::string& table) {
    auto present = db_.execute("SELECT to_regclass($1) IS NOT NULL", {db_.schema() + "." + table});
    return present && present.value().at(0).at(0) == "t";
  }

  std::optional<state::QueryRows> query(const std::string& what, const std::string& sql,
                                        const state::QueryRow& params = {}) {
    auto rows = db_.execute(sql, params);
    if (!rows) {
      problem(fmt::format("state database: reading {}: {}", what, rows.error().message));
      return std::nullopt;
    }
    return std::move(rows).value();
  }

  long long count(const std::string& what, const std::string& sql) {
    auto rows = query(what, sql);
    return rows && !rows->empty() ? std::atoll(rows->at(0).at(0).value_or("0").c_str()) : 0;
  }

  void instances_and_pipelines() {
    std::vector<std::string> configured;
    if (config_.prm) configured.push_back("prm_capture");
    if (config_.salesforce && config_.salesforce->capture) configured.push_back("salesforce_capture");
    if (config_.dynamics && config_.dynamics->capture) configured.push_back("dynamics_capture");
    if (config_.engine && config_.engine->enabled) configured.push_back("apply");

    // A daemon beats every max(1 s, health_check_interval); three missed beats mean it is gone.
    auto interval = std::max(milliseconds(1000), config_.daemon.health_check_interval);
    double stale_after = 3.0 * static_cast<double>(interval.count()) / 1000.0 + 10.0;
    std::vector<state::DaemonHeartbeat> beats;
    if (has_table("daemon_heartbeats")) {
      auto loaded = state::load_heartbeats(db_);
      if (!loaded) {
        problem("state database: reading daemon heartbeats: " + loaded.error().message);
      } else {
        beats = std::move(loaded).value();
      }
    }
    bool any_live = false;
    for (const auto& beat : beats) {
      InstanceStatus instance{beat.instance_id, beat.host, beat.version, beat.started_at, beat.beat_at, beat.pid,
                              "", beat.ready, {}, beat.last_error, beat.last_error_at, beat.stopped_at};
      for (const auto& [name, state] : beat.pipelines) instance.pipelines.emplace_back(name, state);
      if (beat.stopped_at) {
        instance.state = "stopped";
      } else if (beat.seconds_since_beat > stale_after) {
        instance.state = "not running";
        problem(fmt::format("instance {} on {} stopped beating {:.0f} s ago without a clean shutdown{}",
                            beat.instance_id, beat.host, beat.seconds_since_beat,
                            beat.last_error ? "; last error: " + *beat.last_error : ""));
      } else {
        instance.state = "running";
        any_live = true;
        if (!beat.ready) {
          problem(fmt::format("instance {} is running but not ready: {}", beat.instance_id,
                              beat.last_error.value_or("no detail")));
        }
      }
      report_.instances.push_back(std::move(instance));
    }
    for (const auto& name : configured) {
      PipelineStatus pipeline{name, false, {}};
      for (const auto& instance : report_.instances) {
        if (instance.state != "running") continue;
        for (const auto& [pipeline_name, state] : instance.pipelines) {
          if (pipeline_name == name && state == "running") {
            pipeline.running = true;
            pipeline.instances.push_back(instance.instance_id);
          }
        }
      }
      if (any_live && !pipeline.running) problem(fmt::format("pipeline {} is not running on any instance", name));
      report_.pipelines.push_back(std::move(pipeline));
    }
    if (!any_live) problem("the daemon is not running (no instance has written a heartbeat recently)");
  }

  void admin_endpoint() {
    std::string host = config_.admin.host;
    if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
    if (host == "::") host = "::1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    std::string base = fmt::format("http://{}:{}", host, config_.admin.port);
    auto transport = connectors::http::make_curl_transport({std::nullopt, seconds(2), 2}, logging_.logger("http"));
    auto get = [&](const std::string& path) -> std::optional<connectors::http::HttpResponse> {
      auto answer = transport->send({"GET", base + path, {}, "", "GET " + path},
                                    std::chrono::steady_clock::now() + seconds(3));
      if (!answer) return std::nullopt;
      return std::move(answer).value();
    };
    auto ready = get("/readyz");
    if (!ready) {
      for (const auto& crm : configured_crms()) report_.budgets.push_back({crm.first, crm.second, {}, {}, "not recorded"});
      return;
    }
    report_.admin_ready = ready->status == 200;
    auto metrics = get("/metrics");
    for (const auto& crm : configured_crms()) {
      BudgetStatus budget{crm.first, crm.second, {}, {}, "not recorded"};
      if (crm.first == "salesforce" && metrics && metrics->status == 200) {
        budget.used = metric(metrics->body, "crmsync_salesforce_api_requests_used");
        budget.limit = metric(metrics->body, "crmsync_salesforce_api_requests_limit");
        if (budget.used || budget.limit) budget.source = "daemon /metrics";
        if (budget.used && budget.limit && *budget.limit > 0 && config_.salesforce &&
            static_cast<double>(*budget.used) >= config_.salesforce->api_budget_share * static_cast<double>(*budget.limit)) {
          problem(fmt::format("salesforce API budget exhausted: {} of {} requests used today (share {:.0f}%); writes "
                              "are paused",
                              *budget.used, *budget.limit, config_.salesforce->api_budget_share * 100));
        }
      }
      report_.budgets.push_back(std::move(budget));
    }
  }

  std::vector<std::pair<std::string, std::string>> configured_crms() const {
    std::vector<std::pair<std::string, std::string>> out;
    if (config_.salesforce) out.emplace_back("salesforce", config_.salesforce->org);
    if (config_.dynamics) out.emplace_back("dynamics", config_.dynamics->org_url);
    return out;
  }

  // The value of an unlabelled series in Prometheus text.
  static std::optional<long long> metric(const std::string& text, const std::string& name) {
    std::size_t at = 0;
    while ((at = text.find(name, at)) != std::string::npos) {
      bool line_start = at == 0 || text[at - 1] == '\n';
      std::size_t after = at + name.size();
      if (line_start && after < text.size() && text[after] == ' ') {
        return static_cast<long long>(std::atof(text.c_str() + after + 1));
      }
      at = after;
    }
    return std::nullopt;
  }

  void prm_cursor() {
    if (!config_.prm) return;
    CursorStatus cursor{"prm_capture", config_.prm->slot, "", "", std::nullopt, ""};
    if (has_table("prm_capture")) {
      if (auto rows = query("prm capture cursor",
                            fmt::format("SELECT coalesce(confirmed_lsn::text, ''), to_char(updated_at AT TIME ZONE "
                                        "'UTC', '{1}') FROM {0}.prm_capture WHERE slot_name = $1",
                                        db_.schema(), kRfc3339),
                            {config_.prm->slot});
          rows && !rows->empty()) {
        cursor.position = rows->at(0)[0].value_or("");
        cursor.updated_at = rows->at(0)[1].value_or("");
      }
    }
    LogRedactor redactor;
    try {
      auto settings = prm_capture_settings_from(config_, redactor);
      settings.connection.application_name = "crmsync-status";
      auto session = connectors::prm::PrmQuerySession::open(settings.connection);
      if (!session) {
        problem("PRM database: " + redactor.redact(session.error().message));
      } else if (auto position = session.value()->slot_position(config_.prm->slot); !position) {
        problem("PRM database: " + redactor.redact(position.error().message));
      } else if (!position.value()) {
        if (!cursor.updated_at.empty()) {
          problem(fmt::format("PRM replication slot {} is gone although the capture used it: see the runbook "
                              "\"lost replication slot\"",
                              config_.prm->slot));
        } else {
          warning(fmt::format("PRM replication slot {} does not exist yet (the capture creates it on its first start)",
                              config_.prm->slot));
        }
        cursor.detail = "slot missing";
      } else {
        const auto& slot = *position.value();
        cursor.lag = slot.lag_bytes;
        if (cursor.position.empty()) cursor.position = slot.confirmed_lsn;
        cursor.detail = fmt::format("slot {}; confirmed {}; server at {}; {} bytes of WAL retained",
                                    slot.active ? "active" : "inactive", slot.confirmed_lsn, slot.current_lsn,
                                    slot.retained_bytes);
        long long limit = thresholds_.max_slot_lag_bytes.value_or(config_.prm->retained_wal_warning_bytes);
        if (slot.lag_bytes > limit) {
          problem(fmt::format("PRM capture lags {} bytes of WAL behind the server (limit {})", slot.lag_bytes, limit));
        }
      }
    } catch (const std::exception& error) {
      problem(std::string("PRM database: ") + error.what());
    }
    report_.cursors.push_back(std::move(cursor));
  }

  void crm_cursors() {
    if (config_.salesforce && has_table("salesforce_cursors")) {
      if (auto rows = query("salesforce cursors",
                            fmt::format("SELECT org, object, modstamp, to_char(updated_at AT TIME ZONE 'UTC', '{1}') "
                                        "FROM {0}.salesforce_cursors ORDER BY org, object",
                                        db_.schema(), kRfc3339))) {
        for (const auto& row : *rows) {
          report_.cursors.push_back({"salesforce_capture", row[0].value_or("") + " " + row[1].value_or(""),
                                     row[2].value_or(""), row[3].value_or(""), std::nullopt,
                                     "last change read (SystemModstamp)"});
        }
      }
    }
    if (config_.dynamics && has_table("dynamics_capture")) {
      if (auto rows = query("dynamics delta links",
                            fmt::format("SELECT org, entity_set, to_char(updated_at AT TIME ZONE 'UTC', '{1}'), "
                                        "rebaseline_count, coalesce(last_rebaseline_reason, '') "
                                        "FROM {0}.dynamics_capture ORDER BY org, entity_set",
                                        db_.schema(), kRfc3339))) {
        for (const auto& row : *rows) {
          std::string detail = "delta link saved";
          if (row[3].value_or("0") != "0") {
            detail += fmt::format("; {} re-baseline(s), last: {}", row[3].value_or("0"), row[4].value_or(""));
          }
          report_.cursors.push_back({"dynamics_capture", row[0].value_or("") + " " + row[1].value_or(""),
                                     "delta link", row[2].value_or(""), std::nullopt, detail});
        }
      }
    }
  }

  void kafka() {
    auto reader = connectors::kafka::KafkaTopicReader::create(kafka_settings_from(config_), logging_.logger("kafka"));
    if (!reader) {
      problem("kafka: " + reader.error().message);
      return;
    }
    const std::string prefix = config_.kafka.topic_prefix;
    for (const char* source : {"prm", "salesforce", "dynamics"}) {
      std::string topic = prefix + ".changes." + source;
      auto marks = reader.value()->watermarks(topic, thresholds_.kafka_timeout);
      if (!marks) {
        problem("kafka: " + marks.error().message);
        return;  // the cluster does not answer: the other topics would not either
      }
      std::vector<int> partitions;
      for (const auto& mark : marks.value()) partitions.push_back(mark.partition);
      auto committed =
          reader.value()->committed_offsets(config_.kafka.group_id, topic, partitions, thresholds_.kafka_timeout);
      if (!committed) {
        problem("kafka: " + committed.error().message);
        return;
      }
      for (const auto& mark : marks.value()) {
        PartitionLag lag{topic, mark.partition, std::nullopt, mark.high, 0};
        if (auto found = committed.value().find(mark.partition); found != committed.value().end()) {
          lag.committed = found->second;
        }
        lag.lag = std::max(0LL, mark.high - std::max(lag.committed.value_or(mark.low), mark.low));
        if (lag.lag > thresholds_.max_consumer_lag) {
          problem(fmt::format("apply lags {} events behind on {}[{}] (limit {})", lag.lag, topic, mark.partition,
                              thresholds_.max_consumer_lag));
        }
        report_.consumer_lag.push_back(lag);
      }
    }
    // Dead letters still to handle: kept on the topic and not decided on.
    std::string topic = prefix + ".deadletter";
    auto marks = reader.value()->watermarks(topic, thresholds_.kafka_timeout);
    if (!marks) {
      problem("kafka: " + marks.error().message);
      return;
    }
    long long pending = 0;
    std::map<int, std::pair<long long, long long>> kept;
    for (const auto& mark : marks.value()) {
      pending += mark.high - mark.low;
      kept[mark.partition] = {mark.low, mark.high};
    }
    if (has_table("dead_letter_decisions")) {
      if (auto rows = query("dead letter decisions",
                            fmt::format("SELECT dead_letter_id FROM {}.dead_letter_decisions WHERE topic = $1",
                                        db_.schema()),
                            {topic})) {
        for (const auto& row : *rows) {
          auto id = parse_dead_letter_id(row[0].value_or(""));
          if (!id) continue;
          auto range = kept.find(id->first);
          if (range != kept.end() && id->second >= range->second.first && id->second < range->second.second) --pending;
        }
      }
    }
    report_.pending_dead_letters = pending;
    if (pending > 0) {
      problem(fmt::format("{} dead letter(s) waiting for an operator: `crmsync dead-letters list`", pending));
    }
  }

  void counts() {
    const std::string& schema = db_.schema();
    if (has_table("conflicts")) {
      report_.open_conflicts =
          count("conflicts", fmt::format("SELECT count(*) FROM {}.conflicts WHERE status = 'open'", schema));
      if (report_.open_conflicts > 0) {
        problem(fmt::format("{} open conflict(s) waiting for an operator: `crmsync conflicts list`",
                            report_.open_conflicts));
      }
    }
    if (has_table("held_deletes")) {
      report_.held_deletes =
          count("held deletes", fmt::format("SELECT count(*) FROM {}.held_deletes WHERE status = 'held'", schema));
      if (report_.held_deletes > 0) {
        problem(fmt::format("{} delete(s) held by the delete guard, waiting for an operator", report_.held_deletes));
      }
    }
    if (has_table("parked_events")) {
      report_.parked_events = count("parked events", fmt::format("SELECT count(*) FROM {}.parked_events", schema));
      report_.parked_over_an_hour =
          count("parked events", fmt::format("SELECT count(*) FROM {}.parked_events WHERE parked_at < now() - "
                                             "interval '1 hour'",
                                             schema));
      if (report_.parked_over_an_hour > 0) {
        warning(fmt::format("{} event(s) parked for over an hour (waiting for a record they refer to, or for an "
                            "operator)",
                            report_.parked_over_an_hour));
      }
    }
    if (has_table("denied_changes")) {
      report_.denied_24h = count("denied changes", fmt::format("SELECT count(*) FROM {}.denied_changes WHERE "
                                                               "denied_at > now() - interval '24 hours'",
                                                               schema));
      if (report_.denied_24h > 0) {
        warning(fmt::format("{} partner change(s) denied in the last 24 h (journal kind `denied`)", report_.denied_24h));
      }
    }
    if (has_table("partner_flags")) {
      if (auto rows = query("partner flags",
                            fmt::format("SELECT partner_org, reason, value, threshold, to_char(flagged_at AT TIME ZONE "
                                        "'UTC', '{1}') FROM {0}.partner_flags WHERE flagged_at > now() - interval "
                                        "'24 hours' ORDER BY flagged_at DESC LIMIT 100",
                                        schema, kRfc3339))) {
        for (const auto& row : *rows) {
          report_.partner_flags_24h.push_back({row[0].value_or(""), row[1].value_or(""), row[4].value_or(""),
                                               std::atoll(row[2].value_or("0").c_str()),
                                               std::atoll(row[3].value_or("0").c_str())});
        }
        if (!report_.partner_flags_24h.empty()) {
          warning(fmt::format("{} partner flag(s) raised in the last 24 h (anomalous change or denial rates)",
                              report_.partner_flags_24h.size()));
        }
      }
    }
  }

  void secrets() {
    if (!config_.secrets || !has_table("secret_versions")) return;
    double max_age_days = static_cast<double>(std::chrono::duration_cast<seconds>(config_.secrets->max_age).count()) /
                          86400.0;
    auto rows = query("secret ages", fmt::format("SELECT name, version, extract(epoch FROM now() - created_at)::float8 "
                                                 "FROM {}.secret_versions WHERE stage = 'current' ORDER BY name",
                                                 db_.schema()));
    if (!rows) return;
    for (const auto& row : *rows) {
      SecretAgeStatus age{row[0].value_or(""), std::atoi(row[1].value_or("0").c_str()),
                          std::atof(row[2].value_or("0").c_str()) / 86400.0, max_age_days, "ok"};
      if (age.age_days > max_age_days) {
        age.state = "over";
        problem(fmt::format("secret {} v{} is {:.0f} days old, over secrets.max_age ({:.0f} days): rotate it",
                            age.name, age.version, age.age_days, max_age_days));
      } else if (age.age_days > thresholds_.secret_warning_fraction * max_age_days) {
        age.state = "near";
        warning(fmt::format("secret {} v{} is {:.0f} days old, nearing secrets.max_age ({:.0f} days)", age.name,
                            age.version, age.age_days, max_age_days));
      }
      report_.secrets.push_back(std::move(age));
    }
  }

  const Config& config_;
  state::StateDatabase& db_;
  const StatusThresholds& thresholds_;
  Logging logging_;
  StatusReport report_;
};

}  // namespace

StatusReport gather_status(const Config& config, state::StateDatabase& database, const StatusThresholds& thresholds) {
  return Gatherer(config, database, thresholds).run();
}

}  // namespace crmsync::daemon
