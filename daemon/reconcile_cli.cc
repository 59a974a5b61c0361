#include "daemon/reconcile_cli.h"

#include "daemon/applied_outcomes.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_set>

#include "connectors/dynamics/dataverse_applier.h"
#include "connectors/kafka/kafka_producer.h"
#include "connectors/prm/prm_event_builder.h"
#include "connectors/prm/prm_query_session.h"
#include "connectors/prm/prm_table_binding.h"
#include "daemon/cli.h"
#include "daemon/commands.h"
#include "daemon/drift_scan.h"
#include "daemon/dynamics_service.h"
#include "daemon/dynamics_side_gateway.h"
#include "daemon/engine_mapping.h"
#include "daemon/json_text.h"
#include "daemon/logging.h"
#include "daemon/metrics.h"
#include "daemon/operator_cli.h"
#include "daemon/principal_directory.h"
#include "daemon/prm_side_gateway.h"
#include "daemon/salesforce_service.h"
#include "daemon/salesforce_side_gateway.h"
#include "daemon/settings_from_config.h"
#include "daemon/sharing_sweep.h"
#include "mapping/canonical_event.h"
#include "mapping/record_merge.h"
#include "state/journal.h"
#include "state/secret_crypto.h"
#include "state/state_database.h"
#include "state/store_secret_provider.h"

namespace crmsync::daemon {

namespace {

using mapping::ObjectKind;
using mapping::Side;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kCommand = "reconcile";
constexpr std::size_t kBatchRecords = 200;

// RFC 3339 micros as the literal both CRMs' filters take: 2026-11-28T09:00:00Z (whole seconds,
// rounded down, so that nothing changed within the given second is left out).
std::string utc_seconds_literal(long long micros) {
  auto seconds = std::chrono::sys_seconds(std::chrono::seconds(micros / 1'000'000 - (micros % 1'000'000 < 0 ? 1 : 0)));
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", seconds);
}

std::string finding_json(const DriftFinding& finding) {
  std::string out = fmt::format(R"({{"kind":{})", json_quote(finding.kind));
  if (!finding.field.empty()) {
    out += fmt::format(R"(,"field":{},"prm":{},"crm":{})", json_quote(finding.field), finding.prm_value, finding.crm_value);
  }
  if (finding.kind == "sharing_differs") out += fmt::format(R"(,"possible_exposure":{})", finding.possible_exposure);
  out += fmt::format(R"(,"detail":{}}})", json_quote(finding.detail));
  return out;
}

// The principal directory (principals file + PRM partner directory) as reconcile needs it.
mapping::Result<std::shared_ptr<const mapping::PrincipalMap>> load_principals(const Config& config,
                                                                             const connectors::prm::PrmConnectionSettings& prm) {
  auto bindings = connectors::prm::reference_schema_bindings();
  PrincipalDirectory directory(config.permissions.principals_file, prm_directory_read(prm, bindings.directory));
  return directory.load();
}

}  // namespace

struct ReconcileCli::State {
  CommonOptions* options = nullptr;
  CLI::App* command = nullptr;
  std::string object_name;
  std::string side_name;
  std::string since;
  bool fix = false;
  ChangeOptions change;
  bool no_wait = false;
  int timeout_seconds = 600;
  int progress_seconds = 5;

  // What one run found and did.
  struct Totals {
    std::size_t prm_records = 0;      // PRM records compared
    std::size_t crm_records = 0;      // CRM records listed
    std::size_t drifted = 0;          // records with drift
    std::size_t unrepairable = 0;     // drifted records reconcile cannot repair
    std::map<std::string, std::size_t> kinds;
    std::size_t exposures = 0;
    std::vector<std::string> repair_ids;  // event ids sent (--fix)
  };

  int run() {
    if (change.dry_run && !fix) {
      return report_failure(kCommand, "--dry-run goes with --fix (without --fix reconcile changes nothing)", kExitUsage);
    }
    std::string since_literal;
    if (!since.empty()) {
      auto micros = mapping::rfc3339_micros(since);
      if (!micros) {
        return report_failure(kCommand, fmt::format("--since: expected an RFC 3339 time such as 2026-11-28T09:00:00Z, got \"{}\"", since),
                              kExitUsage);
      }
      since_micros = *micros;
      since_literal = utc_seconds_literal(*micros);
    }
    int exit_code = kExitUsage;
    auto session = OperatorSession::open(std::string(kCommand), *options, exit_code);
    if (!session) return exit_code;
    if (auto missing = session->require_tables({"sync_records", "applied_events", "journal", "conflicts"})) return *missing;
    const Config& config = session->config();
    if (!config.prm) return report_failure(kCommand, "the configuration has no [prm] section: there is nothing to compare with", kExitUsage);

    std::vector<Side> sides;
    if (side_name.empty() || side_name == "salesforce") {
      if (config.salesforce) sides.push_back(Side::salesforce);
    }
    if (side_name.empty() || side_name == "dynamics") {
      if (config.dynamics) sides.push_back(Side::dynamics);
    }
    if (sides.empty()) {
      return report_failure(kCommand,
                            side_name.empty() ? "the configuration has neither [salesforce] nor [dynamics]: no CRM to compare with"
                                              : fmt::format("--side {}: the configuration has no [{}] section", side_name, side_name),
                            kExitUsage);
    }
    object = object_name == "deal" ? ObjectKind::deal : ObjectKind::account;

    mapping::MappingDefinition mapping;
    try {
      mapping = load_engine_mapping(config);
    } catch (const std::exception& error) {
      return report_failure(kCommand, error.what(), kExitUsage);
    }
    auto redactor = std::make_shared<LogRedactor>();
    Logging logging{LogFormat::text, LogLevel::warn, redactor};
    connectors::prm::PrmConnectionSettings prm_connection;
    std::unique_ptr<mapping::SecretProvider> secrets;
    try {
      prm_connection = prm_capture_settings_from(config, *redactor).connection;
      if (config.secrets) {
        secrets = std::make_unique<state::StoreSecretProvider>(
            state_settings_from(config, *redactor), state::MasterKey::from_file(config.secrets->master_key_file),
            std::chrono::duration_cast<std::chrono::seconds>(config.secrets->previous_grace),
            [redactor](const mapping::SecretString& value) { redactor->add_secret(value.reveal()); },
            "operator:" + change.operator_name);
      }
    } catch (const std::exception& error) {
      return report_failure(kCommand, session->redactor().redact(error.what()), kExitUsage);
    }
    auto principals = load_principals(config, prm_connection);
    if (!principals) return session->fail(principals.error());

    PrmSideGateway prm(prm_connection, connectors::prm::reference_schema_bindings());
    MetricsRegistry metrics;  // the connectors' series; not served by a command
    if (fix && !change.dry_run) {
      auto created = connectors::kafka::KafkaProducer::create(kafka_settings_from(config), logging.logger("kafka"));
      if (!created) return session->fail(created.error());
      producer = std::move(created).value();
      run_id = fmt::format("{}:{}", change.operator_name,
                           std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::system_clock::now().time_since_epoch()).count());
      auto journaled = journal_operator(*session, fmt::format(R"({{"action":"reconcile","run":{},"phase":"start","object":{},"sides":[{}],"since":{}}})",
                                                             json_quote(run_id), json_quote(object_name), sides_json(sides),
                                                             since.empty() ? "null" : json_quote(since)));
      if (journaled) return *journaled;
    }

    if (options->json) {
      std::cout << fmt::format(R"({{"object":{},"sides":[{}],"since":{},"fix":{},"dry_run":{},"drift":[)",
                               json_quote(object_name), sides_json(sides), since.empty() ? "null" : json_quote(since), fix,
                               change.dry_run);
    }
    Totals totals;
    for (Side side : sides) {
      Config crm_config = config;  // the CRM clients only: no capture
      if (crm_config.salesforce) crm_config.salesforce->capture = false;
      if (crm_config.dynamics) crm_config.dynamics->capture = false;
      std::unique_ptr<mapping::SecretProvider> credential_files;
      mapping::SecretProvider* provider = secrets.get();
      std::unique_ptr<SalesforceService> salesforce;
      std::unique_ptr<DynamicsService> dynamics;
      std::unique_ptr<connectors::dynamics::DataverseApplier> applier;
      std::unique_ptr<SideGateway> gateway;
      std::unique_ptr<CrmSharingSource> sharing;
      try {
        if (side == Side::salesforce) {
          if (provider == nullptr) {
            credential_files = salesforce_credential_files(*config.salesforce);
            provider = credential_files.get();
          }
          salesforce = std::make_unique<SalesforceService>(crm_config, *provider, state_settings_from(config, *redactor),
                                                           metrics, logging.logger("salesforce"));
          salesforce->start();
          gateway = std::make_unique<SalesforceSideGateway>(*salesforce->client(), std::chrono::seconds(120));
          sharing = salesforce_sharing_source(*salesforce->client());
        } else {
          if (provider == nullptr) {
            credential_files = dynamics_credential_files(*config.dynamics);
            provider = credential_files.get();
          }
          dynamics = std::make_unique<DynamicsService>(crm_config, *provider, state_settings_from(config, *redactor), metrics,
                                                       logging.logger("dynamics"));
          dynamics->start();
          connectors::dynamics::DataverseApplySettings apply_settings;
          apply_settings.batch_size = static_cast<std::size_t>(config.dynamics->batch_size);
          applier = std::make_unique<connectors::dynamics::DataverseApplier>(*dynamics->client(), apply_settings,
                                                                              logging.logger("dynamics"));
          gateway = std::make_unique<DynamicsSideGateway>(*dynamics->client(), *applier, std::chrono::seconds(120));
          sharing = dynamics_sharing_source(*dynamics->client(), static_cast<std::size_t>(config.dynamics->batch_size));
        }
      } catch (const std::exception& error) {
        return abandon(*session, redactor->redact(error.what()), totals);
      }
      DriftScanner scanner(mapping, object, side, principals.value(), session->database(), prm, *gateway, *sharing);
      if (auto scanned = reconcile_side(side, scanner, *gateway, prm_connection, since_literal, *session, totals); !scanned) {
        return abandon(*session, redactor->redact(scanned.error().message), totals);
      }
    }

    // Repairs: every event delivered, then (unless --no-wait) recorded by the apply workers.
    std::map<std::string, std::size_t> outcomes;
    std::size_t pending = 0;
    std::size_t not_repaired_by_journal = 0;
    if (producer) {
      if (auto flushed = producer->flush(milliseconds(120'000)); !flushed) {
        return abandon(*session, redactor->redact(flushed.error().message), totals);
      }
      if (produce_failures > 0) {
        return abandon(*session,
                       fmt::format("{} repair events were not accepted by Kafka; run reconcile --fix again",
                                   produce_failures.load()),
                       totals);
      }
      if (!no_wait && !totals.repair_ids.empty()) {
        auto last_wait_report = Clock::now();
        auto waited = wait_for_outcomes(
            session->database(), totals.repair_ids, std::chrono::seconds(timeout_seconds), outcomes,
            [&](std::size_t done, std::size_t total) {
              if (Clock::now() - last_wait_report < std::chrono::seconds(progress_seconds)) return;
              std::cerr << fmt::format("crmsync reconcile: {} of {} repairs applied so far\n", done, total);
              last_wait_report = Clock::now();
            });
        if (!waited) return abandon(*session, redactor->redact(waited.error().message), totals);
        pending = waited.value();
        // Applied is not repaired when a side's write was dead-lettered, a manual conflict was
        // queued or the change was denied: the journal says so for the event.
        auto unrepaired = journaled_failures(session->database(), totals.repair_ids);
        if (!unrepaired) return abandon(*session, redactor->redact(unrepaired.error().message), totals);
        not_repaired_by_journal = unrepaired.value();
      }
      auto journaled = journal_operator(
          *session, fmt::format(R"({{"action":"reconcile","run":{},"phase":"end","drifted":{},"repairs":{},"outcomes":{}}})",
                                json_quote(run_id), totals.drifted, totals.repair_ids.size(), outcome_counts_json(outcomes)));
      if (journaled) return *journaled;
    }
    std::size_t not_repaired = not_repaired_by_journal;
    for (const auto& [outcome, count] : outcomes) {
      if (outcome != "applied" && outcome != "echo_skipped") not_repaired += count;
    }

    std::string kinds;
    for (const auto& [kind, count] : totals.kinds) kinds += fmt::format("{}{}={}", kinds.empty() ? "" : " ", kind, count);
    if (options->json) {
      std::cout << fmt::format(
          R"(],"summary":{{"prm_records":{},"crm_records":{},"drifted":{},"kinds":{},"possible_exposures":{},"unrepairable":{},"repairs_sent":{},"outcomes":{},"pending":{}}}}})"
          "\n",
          totals.prm_records, totals.crm_records, totals.drifted, outcome_counts_json(totals.kinds), totals.exposures,
          totals.unrepairable, totals.repair_ids.size(), outcome_counts_json(outcomes), pending);
    } else {
      std::cout << fmt::format("reconcile {}: {} PRM records compared, {} CRM records listed, {} drifted{}\n", object_name,
                               totals.prm_records, totals.crm_records, totals.drifted,
                               kinds.empty() ? "" : " (" + kinds + ")");
      if (totals.exposures > 0) {
        std::cout << fmt::format("  {} records whose sharing differs: possible exposure, check them first\n", totals.exposures);
      }
      if (fix && change.dry_run) {
        std::cout << fmt::format("  dry run: {} repair events would be sent\n", dry_run_repairs);
      } else if (fix) {
        std::cout << fmt::format("  {} repair events sent (run {}){}\n", totals.repair_ids.size(), run_id,
                                 no_wait ? ""
                                         : fmt::format(": {} applied, {} not repaired, {} not applied yet",
                                                       totals.repair_ids.size() - pending - not_repaired, not_repaired,
                                                       pending));
      }
    }
    if (!since.empty() && !options->json) {
      std::cout << "  note: sharing changes do not move a record's modification time: --since leaves out records whose "
                   "only drift is sharing; run without --since for the full check\n";
    }
    if (totals.drifted == 0) return kExitOk;
    if (!fix || change.dry_run) {
      return report_failure(kCommand,
                            fmt::format("{} drifted (record, CRM) pairs{}; `crmsync reconcile --object {} --fix` repairs them",
                                        totals.drifted, totals.exposures > 0 ? ", some a possible exposure" : "", object_name),
                            kExitProblem);
    }
    if (no_wait) return kExitOk;
    if (pending > 0) {
      return report_failure(kCommand,
                            fmt::format("{} of {} repair events were not applied within {} s; is `crmsync run` running? They "
                                        "apply when it does (run {})",
                                        pending, totals.repair_ids.size(), timeout_seconds, run_id),
                            kExitProblem);
    }
    if (not_repaired > 0 || totals.unrepairable > 0) {
      return report_failure(kCommand,
                            fmt::format("{} repairs were not applied and {} drifted records cannot be repaired by reconcile; "
                                        "see the drift report and `crmsync journal show`",
                                        not_repaired, totals.unrepairable),
                            kExitProblem);
    }
    return kExitOk;
  }

 private:
  ObjectKind object = ObjectKind::account;
  long long since_micros = 0;
  // Before the producer: its destructor may still run delivery callbacks that count failures.
  std::atomic<std::size_t> produce_failures{0};
  std::unique_ptr<connectors::kafka::KafkaProducer> producer;
  std::string run_id;
  std::size_t dry_run_repairs = 0;
  bool first_json_entry = true;
  Clock::time_point last_progress = Clock::now();

  static std::string sides_json(const std::vector<Side>& sides) {
    std::string out;
    for (Side side : sides) out += (out.empty() ? "" : ",") + json_quote(mapping::to_string(side));
    return out;
  }

  static std::string outcome_counts_json(const std::map<std::string, std::size_t>& counts) {
    std::string out;
    for (const auto& [name, count] : counts) out += fmt::format("{}{}:{}", out.empty() ? "" : ",", json_quote(name), count);
    return "{" + out + "}";
  }

  // A run that cannot go on: the JSON document is closed with the error, repairs already queued are
  // delivered (they are valid on their own), the end is journaled, and the reason printed. Exit 1
  // (not 2: the configuration was good and repairs may have been sent).
  int abandon(OperatorSession& session, const std::string& reason, const Totals& totals) {
    if (options->json) std::cout << fmt::format(R"(],"error":{}}})" "\n", json_quote(reason));
    if (producer) {
      (void)producer->flush(milliseconds(30'000));
      (void)journal_operator(session, fmt::format(R"({{"action":"reconcile","run":{},"phase":"abandoned","drifted":{},"repairs":{},"reason":{}}})",
                                                  json_quote(run_id), totals.drifted, totals.repair_ids.size(),
                                                  json_quote(reason)));
    }
    return report_failure(kCommand, reason, kExitProblem);
  }

  // How many of the repairs the journal shows as not (wholly) repaired: a side's write
  // dead-lettered, a manual conflict queued, the change denied.
  static mapping::Result<std::size_t> journaled_failures(state::StateDatabase& db, const std::vector<std::string>& event_ids) {
    std::size_t failed = 0;
    for (std::size_t at = 0; at < event_ids.size(); at += 1000) {
      std::string list;
      for (std::size_t i = at; i < std::min(event_ids.size(), at + 1000); ++i) list += (list.empty() ? "" : ",") + event_ids[i];
      auto rows = db.execute(fmt::format("SELECT count(DISTINCT event_id) FROM {}.journal WHERE kind IN ('dead_lettered', "
                                         "'conflict', 'denied') AND event_id = ANY(string_to_array($1, ','))",
                                         db.schema()),
                             {list});
      if (!rows) return rows.error();
      if (!rows.value().empty()) failed += static_cast<std::size_t>(std::stoll(rows.value()[0].at(0).value_or("0")));
    }
    return failed;
  }

  // Journals an operator entry; the exit code when that failed.
  std::optional<int> journal_operator(OperatorSession& session, const std::string& detail) {
    auto key = session.journal_key();
    if (!key) return session.fail(key.error());
    auto journaled = state::append_journal(session.database(), key.value(),
                                           {operator_journal_entry(change, "", "", run_id, detail)});
    if (!journaled) return session.fail(journaled.error());
    return std::nullopt;
  }

  void progress(Side side, const char* phase, std::size_t done, long long total, const Totals& totals, Clock::time_point began,
                bool force = false) {
    auto now = Clock::now();
    if (!force && now - last_progress < std::chrono::seconds(progress_seconds)) return;
    last_progress = now;
    std::string eta;
    double elapsed = std::chrono::duration<double>(now - began).count();
    if (total > 0 && done > 0 && static_cast<long long>(done) < total) {
      eta = fmt::format(", ETA {:.0f} s", elapsed / static_cast<double>(done) * static_cast<double>(total - static_cast<long long>(done)));
    }
    std::cerr << fmt::format("crmsync reconcile: {} vs {}: {} {}{}, {} drifted so far{}\n", object_name,
                             mapping::to_string(side), done, phase,
                             total >= 0 ? fmt::format(" of {}", total) : std::string(), totals.drifted, eta);
  }

  // Reports one drifted record and, with --fix, sends its repairs.
  void handle(const RecordDrift& drift, Totals& totals) {
    ++totals.drifted;
    bool exposure = false;
    for (const auto& finding : drift.findings) {
      ++totals.kinds[finding.kind];
      exposure = exposure || finding.possible_exposure;
    }
    if (exposure) ++totals.exposures;
    if (drift.repairs.empty()) ++totals.unrepairable;
    std::string side(mapping::to_string(drift.side));
    if (options->json) {
      std::vector<std::string> findings;
      for (const auto& finding : drift.findings) findings.push_back(finding_json(finding));
      std::cout << fmt::format(R"({}{{"record":{},"side":{},"crm_id":{},"findings":[{}],"repairs":{}}})",
                               first_json_entry ? "" : ",", drift.record_id.empty() ? "null" : json_quote(drift.record_id),
                               json_quote(side), drift.crm_id.empty() ? "null" : json_quote(drift.crm_id),
                               fmt::join(findings, ","), drift.repairs.size());
      first_json_entry = false;
    } else {
      std::string where = fmt::format("{} {} {}{}", object_name, drift.record_id.empty() ? "(no PRM id)" : drift.record_id,
                                      side, drift.crm_id.empty() ? "" : " " + drift.crm_id);
      for (const auto& finding : drift.findings) {
        if (finding.kind == "field_differs") {
          std::cout << fmt::format("{}: field_differs {}: prm={} {}={} ({})\n", where, finding.field, finding.prm_value, side,
                                   finding.crm_value, one_line(finding.detail));
        } else {
          std::cout << fmt::format("{}: {}{}: {}\n", where, finding.kind, finding.possible_exposure ? " POSSIBLE EXPOSURE" : "",
                                   one_line(finding.detail));
        }
      }
    }
    if (!fix) return;
    if (change.dry_run) {
      dry_run_repairs += drift.repairs.size();
      return;
    }
    std::size_t position = 0;
    for (mapping::CanonicalEvent repair : drift.repairs) {
      // A CRM's drift is sent as the operator's change; a PRM row's keeps the row's actor, so that a
      // partner's change is authorized as any other.
      if (repair.source != Side::prm) repair.actor = {mapping::Actor::Kind::operator_user, change.operator_name, ""};
      if (repair.occurred_at.empty()) {
        repair.occurred_at = fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
      }
      repair.event_id = mapping::stable_event_id(fmt::format("reconcile|{}|{}|{}|{}|{}|{}", run_id, side, object_name,
                                                             drift.record_id, drift.crm_id, position++));
      std::string topic = fmt::format("{}.changes.{}", options_config_prefix, mapping::to_string(repair.source));
      std::string value = mapping::to_json(repair);
      std::string key = mapping::capture_key(repair);
      while (true) {
        auto queued = producer->produce(topic, key, value, [this](const auto& delivered) {
          if (!delivered) ++produce_failures;
        });
        if (queued) break;
        if (queued.error().error_class != mapping::ErrorClass::rate_limited) {
          ++produce_failures;
          break;
        }
        producer->poll(milliseconds(100));  // the local queue is full: let it drain
      }
      totals.repair_ids.push_back(repair.event_id);
    }
  }

  std::string options_config_prefix;

  mapping::Status reconcile_side(Side side, DriftScanner& scanner, SideGateway& gateway,
                                 const connectors::prm::PrmConnectionSettings& prm_connection, const std::string& since_literal,
                                 OperatorSession& session, Totals& totals) {
    options_config_prefix = session.config().kafka.topic_prefix;
    auto bindings = connectors::prm::reference_schema_bindings();
    const connectors::prm::RecordTableBinding* table = nullptr;
    for (const auto& binding : bindings.records) {
      if (binding.object == object) table = &binding;
    }
    if (table == nullptr) {
      return mapping::SyncError{mapping::ErrorClass::fatal, fmt::format("the PRM bindings have no table for {}", object_name)};
    }
    auto query = connectors::prm::PrmQuerySession::open(prm_connection);
    if (!query) return query.error();
    // One read-only snapshot: share rows first (the record's sharing), then the records.
    if (auto begun = query.value()->begin_snapshot(""); !begun) return begun;
    auto total = query.value()->count_rows(table->schema, table->table);
    if (!total) return total.error();
    connectors::prm::PrmEventBuilder builder(bindings, "reconcile");
    auto shares = query.value()->read_table(bindings.shares.schema, bindings.shares.table, 5000,
                                            [&](const connectors::prm::SnapshotRow& row) {
                                              builder.load_snapshot_share(row);
                                              return mapping::ok_status();
                                            });
    if (!shares) return shares.error();

    std::unordered_set<std::string> compared_since;  // with --since: the PRM ids compared in the first pass
    std::vector<PrmRecordRef> batch;
    std::size_t listed = 0;
    const auto began = Clock::now();
    std::string now_text = fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
    auto flush = [&]() -> mapping::Status {
      if (batch.empty()) return mapping::ok_status();
      auto drifted = scanner.compare(batch);
      if (!drifted) return drifted.error();
      totals.prm_records += batch.size();
      batch.clear();
      for (const auto& drift : drifted.value()) handle(drift, totals);
      progress(side, "PRM records read", listed, total.value(), totals, began);
      return mapping::ok_status();
    };
    auto read = query.value()->read_table(
        table->schema, table->table, 1000, [&](const connectors::prm::SnapshotRow& row) -> mapping::Status {
          auto event = builder.snapshot_event(row, connectors::prm::Lsn{}, now_text);
          if (!event || !event->prm_id) return mapping::ok_status();
          // The view keeps an entry for every row read; only the listing of a --since run asks it
          // again (for records changed on the CRM only), so otherwise memory stays at one batch.
          if (since_micros == 0) builder.sharing().forget({object, *event->prm_id});
          ++listed;
          if (since_micros != 0 && !changed_since(row)) return mapping::ok_status();
          if (since_micros != 0) compared_since.insert(*event->prm_id);
          batch.push_back({*event->prm_id, event->sharing, event->actor});
          if (batch.size() >= kBatchRecords) return flush();
          return mapping::ok_status();
        });
    if (!read) return read.error();
    if (auto flushed = flush(); !flushed) return flushed;
    if (auto ended = query.value()->end_snapshot(); !ended) return ended;
    progress(side, "PRM records read", listed, total.value(), totals, began, true);

    // The CRM's records, for those the PRM lacks (and, with --since, those changed only there).
    const auto listing_began = Clock::now();
    auto compared = [&](const std::string& prm_id) { return since_micros == 0 || compared_since.count(prm_id) != 0; };
    auto sharing_of = [&](const std::string& prm_id) { return builder.sharing().sharing_of({object, prm_id}); };
    auto scanned = gateway.scan(object, scanner.crm_fields(), since_literal, [&](std::vector<SideRecordState> page) -> mapping::Status {
      totals.crm_records += page.size();
      for (std::size_t at = 0; at < page.size(); at += kBatchRecords) {
        std::vector<SideRecordState> part(std::make_move_iterator(page.begin() + static_cast<std::ptrdiff_t>(at)),
                                          std::make_move_iterator(page.begin() + static_cast<std::ptrdiff_t>(
                                                                                     std::min(page.size(), at + kBatchRecords))));
        auto drifted = scanner.compare_crm_page(part, compared, sharing_of);
        if (!drifted) return drifted.error();
        for (const auto& drift : drifted.value()) handle(drift, totals);
      }
      progress(side, "CRM records listed", totals.crm_records, -1, totals, listing_began);
      return mapping::ok_status();
    });
    if (!scanned) return scanned;
    return mapping::ok_status();
  }

  // The row's updated_at is at or after --since (a row without one is compared).
  bool changed_since(const connectors::prm::SnapshotRow& row) const {
    for (std::size_t i = 0; i < row.columns.size(); ++i) {
      if (row.columns[i] != "updated_at") continue;
      if (!row.values[i]) return true;
      auto value = connectors::prm::to_field_value(row.type_oids[i], *row.values[i]);
      auto micros = mapping::rfc3339_micros(value.text);
      return !micros || *micros >= since_micros;
    }
    return true;
  }

};

ReconcileCli::ReconcileCli(CLI::App& app, CommonOptions& options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = &options;
  s.command = app.add_subcommand("reconcile", "compare the PRM and the CRMs record by record (fields and sharing); repair drift");
  s.command->add_option("--object", s.object_name, "account or deal")->required()->check(CLI::IsMember({"account", "deal"}));
  s.command->add_option("--side", s.side_name, "only this CRM: salesforce or dynamics (default: every configured one)")
      ->check(CLI::IsMember({"salesforce", "dynamics"}));
  s.command->add_option("--since", s.since, "only records changed at or after this RFC 3339 time, on either side");
  s.command->add_flag("--fix", s.fix, "send repair events through the normal apply path (journaled as `reconcile`)");
  s.command->add_flag("--no-wait", s.no_wait, "with --fix: send the repairs and return, without waiting for them to apply");
  s.command->add_option("--timeout", s.timeout_seconds, "seconds to wait for the apply workers (default 600)")
      ->check(CLI::Range(1, 86400));
  s.command->add_option("--progress-interval", s.progress_seconds, "seconds between progress lines on stderr (default 5)")
      ->check(CLI::Range(1, 3600));
  add_output_options(*s.command, options);
  add_change_options(*s.command, s.change);
}

ReconcileCli::~ReconcileCli() = default;

bool ReconcileCli::chosen() const { return state_->command->parsed(); }

int ReconcileCli::run() { return state_->run(); }

}  // namespace crmsync::daemon
