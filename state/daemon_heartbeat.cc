#include "state/daemon_heartbeat.h"

#include <fmt/format.h>

#include <cstdlib>

namespace crmsync::state {

namespace {

constexpr const char* kRfc3339 = "YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"";

// {"a":"running",...}: names and states are our own identifiers, never free text.
std::string pipelines_json(const std::map<std::string, std::string>& pipelines) {
  std::string out = "{";
  for (const auto& [name, state] : pipelines) {
    if (out.size() > 1) out += ',';
    out += fmt::format("\"{}\":\"{}\"", name, state);
  }
  return out + "}";
}

// The inverse of pipelines_json (flat object of plain strings).
std::map<std::string, std::string> parse_pipelines(const std::string& text) {
  std::map<std::string, std::string> out;
  std::size_t at = 0;
  auto next_string = [&](std::string& into) {
    std::size_t open = text.find('"', at);
    if (open == std::string::npos) return false;
    std::size_t close = text.find('"', open + 1);
    if (close == std::string::npos) return false;
    into = text.substr(open + 1, close - open - 1);
    at = close + 1;
    return true;
  };
  std::string name;
  std::string state;
  while (next_string(name) && next_string(state)) out[name] = state;
  return out;
}

}  // namespace

mapping::Status write_heartbeat(StateDatabase& db, const DaemonHeartbeat& beat) {
  std::optional<std::string> error = beat.last_error;
  auto rows = db.execute(
      fmt::format("INSERT INTO {}.daemon_heartbeats (instance_id, host, pid, version, started_at, ready, pipelines, "
                  "last_error, last_error_at) VALUES ($1, $2, $3::integer, $4, $5::timestamptz, $6::boolean, $7, $8, "
                  "CASE WHEN $8::text IS NULL THEN NULL ELSE now() END) "
                  "ON CONFLICT (instance_id) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, "
                  "version = EXCLUDED.version, started_at = EXCLUDED.started_at, beat_at = now(), stopped_at = NULL, "
                  "ready = EXCLUDED.ready, pipelines = EXCLUDED.pipelines, "
                  "last_error = coalesce(EXCLUDED.last_error, daemon_heartbeats.last_error), "
                  "last_error_at = CASE WHEN EXCLUDED.last_error IS NULL THEN daemon_heartbeats.last_error_at "
                  "WHEN EXCLUDED.last_error IS DISTINCT FROM daemon_heartbeats.last_error THEN now() "
                  "ELSE daemon_heartbeats.last_error_at END",
                  db.schema()),
      {beat.instance_id, beat.host, std::to_string(beat.pid), beat.version, beat.started_at,
       beat.ready ? "true" : "false", pipelines_json(beat.pipelines), error});
  if (!rows) return rows.error();
  return mapping::ok_status();
}

mapping::Status mark_heartbeat_stopped(StateDatabase& db, const std::string& instance_id) {
  auto rows = db.execute(fmt::format("UPDATE {}.daemon_heartbeats SET stopped_at = now(), beat_at = now(), "
                                     "ready = false WHERE instance_id = $1",
                                     db.schema()),
                         {instance_id});
  if (!rows) return rows.error();
  return mapping::ok_status();
}

mapping::Result<std::vector<DaemonHeartbeat>> load_heartbeats(StateDatabase& db) {
  auto rows = db.execute(fmt::format(
      "SELECT instance_id, host, pid, version, to_char(started_at AT TIME ZONE 'UTC', '{1}'), ready, pipelines, "
      "last_error, to_char(beat_at AT TIME ZONE 'UTC', '{1}'), extract(epoch FROM now() - beat_at)::float8, "
      "to_char(stopped_at AT TIME ZONE 'UTC', '{1}'), to_char(last_error_at AT TIME ZONE 'UTC', '{1}') "
      "FROM {0}.daemon_heartbeats ORDER BY beat_at DESC",
      db.schema(), kRfc3339));
  if (!rows) return rows.error();
  std::vector<DaemonHeartbeat> out;
  for (const QueryRow& row : rows.value()) {
    DaemonHeartbeat beat;
    beat.instance_id = row[0].value_or("");
    beat.host = row[1].value_or("");
    beat.pid = std::atoll(row[2].value_or("0").c_str());
    beat.version = row[3].value_or("");
    beat.started_at = row[4].value_or("");
    beat.ready = row[5].value_or("f") == "t";
    beat.pipelines = parse_pipelines(row[6].value_or("{}"));
    beat.last_error = row[7];
    beat.beat_at = row[8].value_or("");
    beat.seconds_since_beat = std::atof(row[9].value_or("0").c_str());
    beat.stopped_at = row[10];
    beat.last_error_at = row[11];
    out.push_back(std::move(beat));
  }
  return out;
}

}  // namespace crmsync::state
