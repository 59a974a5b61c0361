#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "daemon/config.h"

namespace crmsync::state {
class StateDatabase;
}

namespace crmsync::daemon {

// The limits `crmsync status` judges by (docs/operations.md "Reading crmsync status").
struct StatusThresholds {
  long long max_consumer_lag = 10'000;             // events behind on one partition of a change topic
  std::optional<long long> max_slot_lag_bytes;     // default: prm.retained_wal_warning_bytes
  double secret_warning_fraction = 0.8;            // warn when a secret's age passes this share of max_age
  std::chrono::milliseconds kafka_timeout{std::chrono::seconds(10)};
};

struct InstanceStatus {
  std::string instance_id, host, version, started_at, beat_at;
  long long pid = 0;
  std::string state;  // running | stopped | not running (no heartbeat for a while)
  bool ready = false;
  std::vector<std::pair<std::string, std::string>> pipelines;  // pipeline -> running | failed
  std::optional<std::string> last_error, last_error_at, stopped_at;
};

struct PipelineStatus {
  std::string name;  // prm_capture | salesforce_capture | dynamics_capture | apply
  bool running = false;
  std::vector<std::string> instances;  // live instances that run it
};

// One capture's position: where it stands, when it last moved, and its lag when measurable.
struct CursorStatus {
  std::string pipeline;
  std::string name;      // slot, "org object", "org entity set"
  std::string position;  // LSN, SystemModstamp, "delta link"
  std::string updated_at;
  std::optional<long long> lag;  // bytes of WAL (PRM); nothing where the CRM gives no measure
  std::string detail;
};

struct PartitionLag {
  std::string topic;
  int partition = 0;
  std::optional<long long> committed;
  long long high = 0;
  long long lag = 0;
};

struct BudgetStatus {
  std::string crm;  // salesforce | dynamics
  std::string org;
  std::optional<long long> used, limit;
  std::string source;  // "daemon /metrics" | "not recorded"
};

struct SecretAgeStatus {
  std::string name;
  int version = 0;
  double age_days = 0, max_age_days = 0;
  std::string state;  // ok | near | over
};

struct PartnerFlagStatus {
  std::string partner_org, reason, flagged_at;
  long long value = 0, threshold = 0;
};

// Everything `crmsync status` reports, gathered from the state database, Kafka, the PRM and the
// local daemon's admin endpoint. Whatever cannot be read becomes a problem line, never a failure
// of the whole command.
struct StatusReport {
  std::vector<InstanceStatus> instances;
  std::vector<PipelineStatus> pipelines;  // the ones this configuration runs
  std::optional<bool> admin_ready;        // the local admin endpoint's /readyz; nothing when it does not answer
  std::vector<CursorStatus> cursors;
  std::vector<PartitionLag> consumer_lag;
  std::vector<BudgetStatus> budgets;
  std::optional<long long> pending_dead_letters;
  long long open_conflicts = 0, held_deletes = 0, parked_events = 0, parked_over_an_hour = 0, denied_24h = 0;
  std::vector<PartnerFlagStatus> partner_flags_24h;
  std::vector<SecretAgeStatus> secrets;
  std::vector<std::string> problems;  // each makes the exit code 1
  std::vector<std::string> warnings;  // worth a look; exit code unaffected
};

// Gathers the report. Never throws for an unreachable service: that is a problem line.
StatusReport gather_status(const Config& config, state::StateDatabase& database, const StatusThresholds& thresholds);

}  // namespace crmsync::daemon
