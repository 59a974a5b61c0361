#include "connectors/prm/prm_event_builder.h"

#include <fmt/format.h>

#include <ctime>

#include "connectors/prm/replication_frames.h"

namespace crmsync::connectors::prm {

namespace {

using mapping::CanonicalEvent;
using mapping::FieldValue;

// Type oids from pg_type.dat (stable across PostgreSQL versions).
constexpr std::uint32_t kBool = 16, kInt8 = 20, kInt2 = 21, kInt4 = 23, kFloat4 = 700,
                        kFloat8 = 701, kNumeric = 1700, kTimestampTz = 1184, kTimestamp = 1114;

// A row's columns by name, whichever way it came (stream tuple or snapshot row).
struct RowView {
  const std::vector<std::string>* names = nullptr;
  const std::vector<std::uint32_t>* types = nullptr;
  std::vector<const ColumnValue*> stream_values;
  const std::vector<std::optional<std::string>>* snapshot_values = nullptr;

  std::optional<std::size_t> index_of(const std::string& column) const {
    for (std::size_t i = 0; i < names->size(); ++i) {
      if ((*names)[i] == column) return i;
    }
    return std::nullopt;
  }
  // nullopt when absent or NULL; unchanged TOAST counts as absent.
  std::optional<std::string> text(const std::string& column) const {
    auto index = index_of(column);
    if (!index) return std::nullopt;
    if (snapshot_values != nullptr) return (*snapshot_values)[*index];
    const ColumnValue* value = stream_values[*index];
    if (value == nullptr || value->kind != ColumnValue::Kind::text) return std::nullopt;
    return value->bytes;
  }
};

struct RelationColumns {
  std::vector<std::string> names;
  std::vector<std::uint32_t> types;
};

RelationColumns columns_of(const RelationMessage& relation) {
  RelationColumns out;
  for (const auto& column : relation.columns) {
    out.names.push_back(column.name);
    out.types.push_back(column.type_oid);
  }
  return out;
}

RowView view_of(const RelationColumns& columns, const TupleData& tuple) {
  RowView view;
  view.names = &columns.names;
  view.types = &columns.types;
  for (std::size_t i = 0; i < columns.names.size(); ++i) {
    view.stream_values.push_back(i < tuple.size() ? &tuple[i] : nullptr);
  }
  return view;
}

mapping::Actor actor_of(const RowView& row, const RecordTableBinding& binding) {
  mapping::Actor actor;
  std::string kind = row.text(binding.actor_kind_column).value_or("integration");
  if (kind == "partner_user") {
    actor.kind = mapping::Actor::Kind::partner_user;
  } else if (kind == "internal_user") {
    actor.kind = mapping::Actor::Kind::internal_user;
  } else {
    actor.kind = mapping::Actor::Kind::integration;
  }
  actor.id = row.text(binding.actor_id_column).value_or("");
  return actor;
}

std::optional<mapping::ShareGrant::Access> parse_access(const std::optional<std::string>& text) {
  if (text == "read") return mapping::ShareGrant::Access::read;
  if (text == "edit") return mapping::ShareGrant::Access::edit;
  return std::nullopt;
}

std::string dead_letter_json(const std::string& reason, const std::string& table,
                             const std::string& lsn) {
  return fmt::format(R"({{"source":"prm","reason":"{}","table":"{}","source_version":"{}"}})",
                     reason, table, lsn);
}

}  // namespace

mapping::FieldValue to_field_value(std::uint32_t type_oid, const std::string& text) {
  switch (type_oid) {
    case kBool: return FieldValue::boolean_value(text == "t" || text == "true");
    case kInt2:
    case kInt4:
    case kInt8:
    case kNumeric:
    case kFloat4:
    case kFloat8: return FieldValue::number_value(text);
    case kTimestampTz: {
      // With DateStyle ISO and TimeZone UTC (set on the capture's connections):
      // "2026-11-27 22:10:11.123+00" → "2026-11-27T22:10:11.123Z".
      std::string out = text;
      if (out.size() > 10 && out[10] == ' ') out[10] = 'T';
      if (out.ends_with("+00")) out.replace(out.size() - 3, 3, "Z");
      return FieldValue::string_value(out);
    }
    case kTimestamp: {
      std::string out = text;
      if (out.size() > 10 && out[10] == ' ') out[10] = 'T';
      return FieldValue::string_value(out);
    }
    default: return FieldValue::string_value(text);
  }
}

std::string postgres_time_to_rfc3339(std::int64_t postgres_us) {
  std::int64_t unix_us = postgres_to_unix_epoch_us(postgres_us);
  std::time_t seconds = static_cast<std::time_t>(unix_us / 1'000'000);
  long micros = static_cast<long>(unix_us % 1'000'000);
  if (micros < 0) {
    micros += 1'000'000;
    --seconds;
  }
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, micros);
}

PrmEventBuilder::PrmEventBuilder(PrmBindings bindings, std::string system_id)
    : bindings_(std::move(bindings)), system_id_(std::move(system_id)) {}

BuiltTransaction PrmEventBuilder::build(const CommittedTransaction& transaction) {
  BuiltTransaction built;
  // An echo of crmsync's own apply is not sent back, but the sharing it wrote is kept in the view,
  // so that later events carry the record's whole sharing and their changes are computed against it.
  const bool echo = transaction.written_by_crmsync;
  std::string lsn = transaction.commit.commit_lsn.to_string();
  std::string occurred_at = postgres_time_to_rfc3339(transaction.commit.commit_time_us);
  std::size_t position = 0;

  for (const auto& truncate : echo ? std::vector<TruncatedRelations>{} : transaction.truncates) {
    for (const auto& relation : truncate.relations) {
      std::string table = relation->schema + "." + relation->name;
      built.dead_letters.push_back(
          {"truncate:" + table, "truncate_not_propagated",
           dead_letter_json("TRUNCATE is not propagated to the CRM (it would mass-delete); "
                            "reconcile after restoring the table",
                            table, lsn)});
    }
  }

  for (const RowChange& change : transaction.changes) {
    ++position;
    const RelationMessage& relation = *change.relation;
    RelationColumns columns = columns_of(relation);
    const TupleData& current = change.kind == RowChange::Kind::remove ? change.old_tuple : change.new_tuple;
    RowView row = view_of(columns, current);

    if (bindings_.is_share_table(relation.schema, relation.name)) {
      const ShareTableBinding& share = bindings_.shares;
      auto object = mapping::parse_object_kind(row.text(share.object_type_column).value_or(""));
      auto record_id = row.text(share.record_id_column);
      auto principal_type = row.text(share.principal_type_column);
      auto principal_id = row.text(share.principal_id_column);
      if (!object || !record_id || !principal_type || !principal_id) {
        built.dead_letters.push_back({"share:" + lsn, "share_row_incomplete",
                                      dead_letter_json("share row without record or principal",
                                                       relation.schema + "." + relation.name, lsn)});
        continue;
      }
      SharingView::RecordKey key{*object, *record_id};
      std::string principal = *principal_type + ":" + *principal_id;
      // The event's change is the row's own (this grant, or this revocation), not the view's
      // difference before and after it: after a restart the view is loaded from the PRM as it is
      // now, ahead of the stream being replayed from the slot, so a replayed grant is already in
      // it and its difference was empty — the share never reached the CRMs (the chaos suite).
      mapping::SharingChange row_change;
      if (change.kind == RowChange::Kind::remove) {
        sharing_.revoke(key, principal);
        row_change.revoked.push_back(principal);
      } else {
        if (change.kind == RowChange::Kind::update && change.old_kind) {
          // The key changed (a different principal or record): the old grant is gone.
          RowView old_row = view_of(columns, change.old_tuple);
          auto old_object = mapping::parse_object_kind(old_row.text(share.object_type_column).value_or(""));
          auto old_record = old_row.text(share.record_id_column);
          if (old_object && old_record) {
            std::string old_principal = old_row.text(share.principal_type_column).value_or("") + ":" +
                                        old_row.text(share.principal_id_column).value_or("");
            sharing_.revoke({*old_object, *old_record}, old_principal);
            if (*old_object == *object && *old_record == *record_id && old_principal != principal) {
              row_change.revoked.push_back(old_principal);
            }
          }
        }
        auto access = parse_access(row.text(share.access_column));
        if (!access) {
          built.dead_letters.push_back({"share:" + lsn, "share_access_unknown",
                                        dead_letter_json("share row with an access other than read/edit",
                                                         relation.schema + "." + relation.name, lsn)});
          continue;
        }
        sharing_.grant(key, principal, *access);
        row_change.granted.push_back({principal, *access});
      }
      // A share of a record deleted earlier in this transaction (its shares go with it), or of a
      // record whose own row comes later in it: the record's own event carries the sharing.
      if (echo || !sharing_.knows_record(key)) continue;
      CanonicalEvent event;
      event.event_id = mapping::stable_event_id(fmt::format("prm|{}|{}|{}", system_id_, lsn, position));
      event.object = *object;
      event.op = CanonicalEvent::Operation::upsert;
      event.prm_id = *record_id;
      event.source_version = lsn;
      event.occurred_at = occurred_at;
      event.actor.kind = mapping::Actor::Kind::integration;
      event.changed = {"sharing"};
      event.sharing = sharing_.sharing_of(key);
      event.sharing_change = std::move(row_change);
      built.events.push_back(std::move(event));
      continue;
    }

    const RecordTableBinding* binding = bindings_.record_table(relation.schema, relation.name);
    if (binding == nullptr) {
      ++built.ignored_rows;
      continue;
    }
    auto id = row.text(binding->id_column);
    if (!id) {
      built.dead_letters.push_back({"row:" + lsn, "row_without_id",
                                    dead_letter_json("row without its id column",
                                                     relation.schema + "." + relation.name, lsn)});
      continue;
    }
    SharingView::RecordKey key{binding->object, *id};
    CanonicalEvent event;
    event.event_id = mapping::stable_event_id(fmt::format("prm|{}|{}|{}", system_id_, lsn, position));
    event.object = binding->object;
    event.prm_id = *id;
    event.source_version = lsn;
    event.occurred_at = occurred_at;

    if (change.kind == RowChange::Kind::remove) {
      event.op = CanonicalEvent::Operation::remove;
      event.sharing = sharing_.sharing_of(key);
      sharing_.forget(key);
      if (echo) continue;
      // A delete carries only the key (or the old row with REPLICA IDENTITY FULL): the actor of a
      // delete is not recorded in the row, so it is reported as the integration.
      event.actor = change.old_kind == 'O' ? actor_of(row, *binding) : mapping::Actor{};
      built.events.push_back(std::move(event));
      continue;
    }

    event.op = CanonicalEvent::Operation::upsert;
    event.actor = actor_of(row, *binding);
    std::optional<RowView> old_row;
    if (change.kind == RowChange::Kind::update && change.old_kind == 'O') {
      old_row = view_of(columns, change.old_tuple);
    }
    for (std::size_t i = 0; i < columns.names.size(); ++i) {
      const std::string& name = columns.names[i];
      if (binding->bookkeeping_columns.contains(name)) continue;
      const ColumnValue& value = current[i];
      if (value.kind == ColumnValue::Kind::unchanged_toast) continue;  // unchanged: not sent
      FieldValue field = value.kind == ColumnValue::Kind::null
                             ? FieldValue::null_value()
                             : to_field_value(columns.types[i], value.bytes);
      bool changed = true;
      if (old_row) {
        const ColumnValue* before = old_row->stream_values[i];
        if (before != nullptr && before->kind == value.kind && before->bytes == value.bytes) {
          changed = false;
        }
      }
      if (changed) event.changed.push_back(name);
      event.fields.push_back({name, std::move(field)});
    }
    // The owner columns against the view (which knows them without REPLICA IDENTITY FULL).
    bool known_before = sharing_.knows_record(key);
    mapping::Sharing previous = sharing_.sharing_of(key);
    sharing_.set_owner(key, row.text(binding->owner_org_column), row.text(binding->owner_user_column));
    if (echo) continue;
    event.sharing = sharing_.sharing_of(key);
    if (change.kind == RowChange::Kind::insert) {
      previous = mapping::Sharing{};
    } else if (old_row || !known_before) {
      // The old row's owners when the table has REPLICA IDENTITY FULL: the view may be ahead of
      // the stream (after a restart it is loaded from the PRM as it is now, and the stream is
      // replayed from the slot), so an owner change replayed would read as none. Without the old
      // row and not in the view (cannot happen once it is loaded), the owner is taken as unchanged.
      previous = event.sharing;
      if (old_row) {
        previous.owner_partner_org = old_row->text(binding->owner_org_column);
        previous.owner_user = old_row->text(binding->owner_user_column);
      }
    }
    mapping::SharingChange sharing_change = mapping::sharing_difference(previous, event.sharing);
    if (!sharing_change.empty()) {
      if (change.kind == RowChange::Kind::update) event.changed.push_back("sharing");
      event.sharing_change = std::move(sharing_change);
    }
    built.events.push_back(std::move(event));
  }
  return built;
}

void PrmEventBuilder::load_snapshot_share(const SnapshotRow& row) {
  const ShareTableBinding& share = bindings_.shares;
  RowView view;
  view.names = &row.columns;
  view.types = &row.type_oids;
  view.snapshot_values = &row.values;
  auto object = mapping::parse_object_kind(view.text(share.object_type_column).value_or(""));
  auto record_id = view.text(share.record_id_column);
  auto access = parse_access(view.text(share.access_column));
  if (!object || !record_id || !access) return;
  sharing_.grant({*object, *record_id},
                 view.text(share.principal_type_column).value_or("") + ":" +
                     view.text(share.principal_id_column).value_or(""),
                 *access);
}

void PrmEventBuilder::load_snapshot_owner(const SnapshotRow& row) {
  const RecordTableBinding* binding = bindings_.record_table(row.schema, row.table);
  if (binding == nullptr) return;
  RowView view;
  view.names = &row.columns;
  view.types = &row.type_oids;
  view.snapshot_values = &row.values;
  auto id = view.text(binding->id_column);
  if (!id) return;
  sharing_.set_owner({binding->object, *id}, view.text(binding->owner_org_column),
                     view.text(binding->owner_user_column));
}

std::optional<mapping::CanonicalEvent> PrmEventBuilder::snapshot_event(const SnapshotRow& row,
                                                                        Lsn consistent_point,
                                                                        const std::string& occurred_at) {
  const RecordTableBinding* binding = bindings_.record_table(row.schema, row.table);
  if (binding == nullptr) return std::nullopt;
  RowView view;
  view.names = &row.columns;
  view.types = &row.type_oids;
  view.snapshot_values = &row.values;
  auto id = view.text(binding->id_column);
  if (!id) return std::nullopt;
  SharingView::RecordKey key{binding->object, *id};
  sharing_.set_owner(key, view.text(binding->owner_org_column), view.text(binding->owner_user_column));

  CanonicalEvent event;
  event.event_id = mapping::stable_event_id(fmt::format("prm-snapshot|{}|{}|{}|{}", system_id_,
                                               consistent_point.to_string(),
                                               mapping::to_string(binding->object), *id));
  event.object = binding->object;
  event.op = CanonicalEvent::Operation::upsert;
  event.prm_id = *id;
  event.source_version = consistent_point.to_string();
  event.occurred_at = occurred_at;
  event.actor = actor_of(view, *binding);
  event.snapshot = true;
  for (std::size_t i = 0; i < row.columns.size(); ++i) {
    if (binding->bookkeeping_columns.contains(row.columns[i])) continue;
    event.fields.push_back({row.columns[i], row.values[i] ? to_field_value(row.type_oids[i], *row.values[i])
                                                          : FieldValue::null_value()});
    event.changed.push_back(row.columns[i]);
  }
  event.sharing = sharing_.sharing_of(key);
  return event;
}

}  // namespace crmsync::connectors::prm
