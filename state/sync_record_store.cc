#include "state/sync_record_store.h"

#include <algorithm>

#include <fmt/format.h>

#include "mapping/event_json.h"

namespace crmsync::state {

namespace {

mapping::Status as_status(const mapping::Result<QueryRows>& result) {
  if (!result) return result.error();
  return mapping::ok_status();
}

std::string versions_json(const std::map<std::string, std::string>& versions) {
  std::map<std::string, mapping::FieldValue> as_fields;
  for (const auto& [side, version] : versions) as_fields[side] = mapping::FieldValue::string_value(version);
  return mapping::fields_to_json(as_fields);
}

}  // namespace

std::string json_string_array(const std::vector<std::string>& values) {
  std::string out = "[";
  for (const auto& value : values) {
    if (out.size() > 1) out += ',';
    out += mapping::to_json_value(mapping::FieldValue::string_value(value));
  }
  return out + "]";
}

SyncRecordStore::SyncRecordStore(const StateDatabase::Executor& execute, std::string schema)
    : execute_(execute), schema_(std::move(schema)) {}

mapping::Status SyncRecordStore::lock(std::vector<std::string> keys) {
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  if (keys.empty()) return mapping::ok_status();
  return as_status(execute_(
      "SELECT pg_advisory_xact_lock(hashtextextended(k, 7)) FROM jsonb_array_elements_text($1::jsonb) "
      "WITH ORDINALITY AS t(k, n) ORDER BY n",
      {json_string_array(keys)}));
}

namespace {

constexpr const char* kRecordColumns =
    "record_id, on_prm, salesforce_id, dynamics_id, base, versions, deleted, sharing, sharing_version, side_sharing";

mapping::Result<SyncRecord> record_from_row(mapping::ObjectKind object, const QueryRow& row) {
  SyncRecord record;
  record.object = object;
  record.record_id = row[0].value_or("");
  record.on_prm = row[1] == "t";
  record.salesforce_id = row[2];
  record.dynamics_id = row[3];
  auto base = mapping::parse_fields_json(row[4].value_or("{}"));
  if (!base) return base.error();
  record.base = std::move(base).value();
  auto versions = mapping::parse_fields_json(row[5].value_or("{}"));
  if (!versions) return versions.error();
  for (const auto& [side, value] : versions.value()) record.versions[side] = value.text;
  record.deleted = row[6] == "t";
  auto sharing = mapping::parse_sharing_json(row[7].value_or("{}"));
  if (!sharing) return sharing.error();
  record.sharing = std::move(sharing).value();
  record.sharing_version = std::stoll(row[8].value_or("0"));
  auto side_sharing = mapping::parse_side_sharing_json(row[9].value_or("{}"));
  if (!side_sharing) return side_sharing.error();
  record.side_sharing = std::move(side_sharing).value();
  return record;
}

}  // namespace

mapping::Result<std::map<std::string, SyncRecord>> SyncRecordStore::load(mapping::ObjectKind object,
                                                                         const std::vector<std::string>& record_ids) {
  std::map<std::string, SyncRecord> records;
  if (record_ids.empty()) return records;
  auto rows = execute_(fmt::format("SELECT {} FROM {}.sync_records WHERE object = $1 AND record_id IN "
                                   "(SELECT jsonb_array_elements_text($2::jsonb))",
                                   kRecordColumns, schema_),
                       {std::string(mapping::to_string(object)), json_string_array(record_ids)});
  if (!rows) return rows.error();
  for (const QueryRow& row : rows.value()) {
    auto record = record_from_row(object, row);
    if (!record) return record.error();
    records.emplace(record.value().record_id, std::move(record).value());
  }
  return records;
}

mapping::Result<std::vector<SyncRecord>> SyncRecordStore::synced_on(mapping::ObjectKind object, mapping::Side side,
                                                                    const std::string& after, std::size_t limit) {
  std::string column = side == mapping::Side::salesforce ? "salesforce_id" : "dynamics_id";
  auto rows = execute_(fmt::format("SELECT {} FROM {}.sync_records WHERE object = $1 AND {} IS NOT NULL AND NOT deleted "
                                   "AND record_id > $2 ORDER BY record_id LIMIT {}",
                                   kRecordColumns, schema_, column, limit),
                       {std::string(mapping::to_string(object)), after});
  if (!rows) return rows.error();
  std::vector<SyncRecord> records;
  for (const QueryRow& row : rows.value()) {
    auto record = record_from_row(object, row);
    if (!record) return record.error();
    records.push_back(std::move(record).value());
  }
  return records;
}

mapping::Result<std::map<std::string, std::string>> SyncRecordStore::find_by_side_ids(
    mapping::ObjectKind object, mapping::Side side, const std::vector<std::string>& side_ids) {
  std::map<std::string, std::string> found;
  if (side_ids.empty()) return found;
  std::string column = side == mapping::Side::salesforce ? "salesforce_id"
                       : side == mapping::Side::dynamics ? "dynamics_id"
                                                         : "record_id";
  auto rows = execute_(fmt::format("SELECT {0}, record_id FROM {1}.sync_records WHERE object = $1 AND {0} IN "
                                   "(SELECT jsonb_array_elements_text($2::jsonb)){2}",
                                   column, schema_, side == mapping::Side::prm ? " AND on_prm" : ""),
                       {std::string(mapping::to_string(object)), json_string_array(side_ids)});
  if (!rows) return rows.error();
  for (const QueryRow& row : rows.value()) found[row[0].value_or("")] = row[1].value_or("");
  return found;
}

mapping::Status SyncRecordStore::save(const SyncRecord& record) {
  return as_status(execute_(
      fmt::format("INSERT INTO {}.sync_records (object, record_id, on_prm, salesforce_id, dynamics_id, base, versions, "
                  "deleted, sharing, sharing_version, side_sharing) VALUES ($1, $2, $3::boolean, $4, $5, $6, $7, "
                  "$8::boolean, $9, $10::bigint, $11) ON CONFLICT (object, record_id) DO "
                  "UPDATE SET on_prm = EXCLUDED.on_prm, salesforce_id = EXCLUDED.salesforce_id, dynamics_id = "
                  "EXCLUDED.dynamics_id, base = EXCLUDED.base, versions = EXCLUDED.versions, deleted = EXCLUDED.deleted, "
                  "sharing = EXCLUDED.sharing, sharing_version = EXCLUDED.sharing_version, "
                  "side_sharing = EXCLUDED.side_sharing, updated_at = now()",
                  schema_),
      {std::string(mapping::to_string(record.object)), record.record_id, record.on_prm ? "true" : "false",
       record.salesforce_id, record.dynamics_id, mapping::fields_to_json(record.base), versions_json(record.versions),
       record.deleted ? "true" : "false", mapping::sharing_to_json(record.sharing),
       std::to_string(record.sharing_version), mapping::side_sharing_to_json(record.side_sharing)}));
}

mapping::Status SyncRecordStore::record_denial(const std::string& event_id, mapping::ObjectKind object,
                                               const std::string& record_id, const std::string& actor,
                                               const std::optional<std::string>& partner_org, std::string_view scope,
                                               const std::string& reason) {
  return as_status(execute_(fmt::format("INSERT INTO {}.denied_changes (event_id, object, record_id, actor, partner_org, "
                                        "scope, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                                        schema_),
                            {event_id, std::string(mapping::to_string(object)), record_id, actor, partner_org,
                             std::string(scope), reason}));
}

mapping::Result<std::set<std::string>> SyncRecordStore::already_applied(const std::vector<std::string>& event_ids) {
  std::set<std::string> applied;
  if (event_ids.empty()) return applied;
  auto rows = execute_(fmt::format("SELECT event_id FROM {}.applied_events WHERE event_id IN "
                                   "(SELECT jsonb_array_elements_text($1::jsonb))",
                                   schema_),
                       {json_string_array(event_ids)});
  if (!rows) return rows.error();
  for (const QueryRow& row : rows.value()) applied.insert(row[0].value_or(""));
  return applied;
}

mapping::Status SyncRecordStore::mark_applied(const std::string& event_id, std::string_view outcome) {
  return as_status(execute_(fmt::format("INSERT INTO {}.applied_events (event_id, outcome) VALUES ($1, $2) "
                                        "ON CONFLICT (event_id) DO NOTHING",
                                        schema_),
                            {event_id, std::string(outcome)}));
}

mapping::Result<std::map<std::string, std::set<std::string>>> SyncRecordStore::open_conflicts(
    mapping::ObjectKind object, const std::vector<std::string>& record_ids) {
  std::map<std::string, std::set<std::string>> open;
  if (record_ids.empty()) return open;
  auto rows = execute_(fmt::format("SELECT record_id, field FROM {}.conflicts WHERE object = $1 AND status = 'open' "
                                   "AND record_id IN (SELECT jsonb_array_elements_text($2::jsonb))",
                                   schema_),
                       {std::string(mapping::to_string(object)), json_string_array(record_ids)});
  if (!rows) return rows.error();
  for (const QueryRow& row : rows.value()) open[row[0].value_or("")].insert(row[1].value_or(""));
  return open;
}

mapping::Status SyncRecordStore::queue_conflict(const ConflictRecord& conflict) {
  return as_status(execute_(
      fmt::format("INSERT INTO {}.conflicts (object, record_id, field, policy, base, side_values, event_id) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (object, record_id, field) WHERE status = 'open' "
                  "DO UPDATE SET side_values = EXCLUDED.side_values, event_id = EXCLUDED.event_id",
                  schema_),
      {std::string(mapping::to_string(conflict.object)), conflict.record_id, conflict.field, conflict.policy,
       conflict.base ? std::optional<std::string>(mapping::to_json_value(*conflict.base)) : std::nullopt,
       mapping::fields_to_json(conflict.side_values), conflict.event_id}));
}

mapping::Result<bool> SyncRecordStore::resolve_conflict(std::int64_t id, const std::string& resolution) {
  auto rows = execute_(fmt::format("UPDATE {}.conflicts SET status = 'resolved', resolved_at = now(), resolution = $2 "
                                   "WHERE id = $1::bigint AND status = 'open' RETURNING id",
                                   schema_),
                       {std::to_string(id), resolution});
  if (!rows) return rows.error();
  return !rows.value().empty();
}

mapping::Result<bool> SyncRecordStore::park(const std::string& event_id, mapping::ObjectKind object,
                                            const std::string& waiting_for, const std::string& reason,
                                            const std::string& event_json) {
  // Parked again (re-applied by the sweep or an operator's retry, and still not appliable): it now
  // waits for what it waits for this time. Keeping an operator retry's "retry:" marker would have
  // the sweep re-apply it every round. A row comes back only when inserted or changed.
  auto rows = execute_(fmt::format("INSERT INTO {0}.parked_events (event_id, object, waiting_for, reason, event) "
                                   "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO UPDATE SET "
                                   "waiting_for = EXCLUDED.waiting_for, reason = EXCLUDED.reason "
                                   "WHERE {0}.parked_events.waiting_for IS DISTINCT FROM EXCLUDED.waiting_for RETURNING id",
                                   schema_),
                       {event_id, std::string(mapping::to_string(object)), waiting_for, reason, event_json});
  if (!rows) return rows.error();
  return !rows.value().empty();
}

mapping::Status SyncRecordStore::unpark(const std::string& event_id) {
  return as_status(execute_(fmt::format("DELETE FROM {}.parked_events WHERE event_id = $1", schema_), {event_id}));
}

mapping::Result<std::vector<std::string>> SyncRecordStore::parked_for(const std::vector<std::string>& keys) {
  std::vector<std::string> events;
  if (keys.empty()) return events;
  auto rows = execute_(fmt::format("SELECT event FROM {}.parked_events WHERE waiting_for IN "
                                   "(SELECT jsonb_array_elements_text($1::jsonb)) ORDER BY id",
                                   schema_),
                       {json_string_array(keys)});
  if (!rows) return rows.error();
  for (const QueryRow& row : rows.value()) events.push_back(row[0].value_or(""));
  return events;
}

mapping::Result<long long> SyncRecordStore::recent_deletes(mapping::Side source, std::chrono::milliseconds window) {
  auto rows = execute_(fmt::format("SELECT count(*) FROM {}.recent_deletes WHERE source = $1 AND applied_at > "
                                   "now() - make_interval(secs => $2::double precision / 1000)",
                                   schema_),
                       {std::string(mapping::to_string(source)), std::to_string(window.count())});
  if (!rows) return rows.error();
  return std::stoll(rows.value().at(0).at(0).value_or("0"));
}

mapping::Status SyncRecordStore::record_delete(mapping::Side source) {
  return as_status(execute_(fmt::format("INSERT INTO {}.recent_deletes (source) VALUES ($1)", schema_),
                            {std::string(mapping::to_string(source))}));
}

mapping::Status SyncRecordStore::hold_delete(const std::string& event_id, mapping::Side source,
                                             mapping::ObjectKind object, const std::string& record_id,
                                             const std::string& event_json) {
  return as_status(execute_(fmt::format("INSERT INTO {}.held_deletes (event_id, source, object, record_id, event) "
                                        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING",
                                        schema_),
                            {event_id, std::string(mapping::to_string(source)), std::string(mapping::to_string(object)),
                             record_id, event_json}));
}

mapping::Result<std::vector<std::string>> resolvable_parked_events(StateDatabase& db, std::size_t limit) {
  // waiting_for is "account:<side>:<id on that side>" (ids contain no ':'); "deals-of:<canonical
  // account id>" (deals in base JSON name their account canonically); or "retry:<dead letter id>"
  // for an operator's retry of a dead letter (state/dead_letter_decisions.h): resolvable at once.
  auto rows = db.execute(fmt::format(
      "SELECT p.event FROM {0}.parked_events p WHERE p.waiting_for LIKE 'retry:%' "
      "OR (p.waiting_for LIKE 'account:%' AND EXISTS (SELECT 1 FROM {0}.sync_records r "
      "WHERE r.object = 'account' AND CASE split_part(p.waiting_for, ':', 2) "
      "WHEN 'prm' THEN r.on_prm AND r.record_id = split_part(p.waiting_for, ':', 3) "
      "WHEN 'salesforce' THEN r.salesforce_id = split_part(p.waiting_for, ':', 3) "
      "WHEN 'dynamics' THEN r.dynamics_id = split_part(p.waiting_for, ':', 3) ELSE false END)) "
      "OR (p.waiting_for LIKE 'deals-of:%' AND NOT EXISTS (SELECT 1 FROM {0}.sync_records d "
      "WHERE d.object = 'deal' AND d.on_prm AND NOT d.deleted "
      "AND d.base::jsonb ->> 'account' = split_part(p.waiting_for, ':', 2))) "
      "ORDER BY p.id LIMIT {1}",
      db.schema(), limit));
  if (!rows) return rows.error();
  std::vector<std::string> events;
  for (const QueryRow& row : rows.value()) events.push_back(row[0].value_or(""));
  return events;
}

}  // namespace crmsync::state
