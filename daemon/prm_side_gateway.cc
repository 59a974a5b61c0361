#include "daemon/prm_side_gateway.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "connectors/prm/libpq_session.h"
#include "connectors/prm/prm_applier.h"
#include "connectors/prm/prm_event_builder.h"

namespace crmsync::daemon {

namespace {

using connectors::prm::PgResult;
using connectors::prm::PrmApplier;
using connectors::prm::PrmConnectionSettings;
using connectors::prm::PrmWrite;
using connectors::prm::RecordTableBinding;
using mapping::CrmRecordWrite;
using mapping::CrmWriteResult;
using mapping::ErrorClass;
using mapping::SyncError;

// The reference schema's version and modification columns (every bound record table has them).
constexpr const char* kVersionColumn = "row_version";
constexpr const char* kModifiedColumn = "updated_at";
// invalid_text_representation: an id that the id column's type cannot hold (not a uuid).
constexpr std::string_view kInvalidTextRepresentation = "22P02";

// {"a","b"}: a PostgreSQL array literal whose elements are quoted, with " and \ escaped, so any
// text is one element.
std::string array_literal(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += i == 0 ? "\"" : ",\"";
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

bool is_upsert(const CrmRecordWrite& write) {
  return write.op == mapping::CanonicalEvent::Operation::upsert;
}

}  // namespace

struct PrmSideGateway::Impl {
  PrmConnectionSettings settings;
  connectors::prm::PrmBindings bindings;
  PGconn* reader = nullptr;
  std::unique_ptr<PrmApplier> applier;

  ~Impl() { close_sessions(); }

  // After a transient failure: both sessions are most likely gone (a server restart, a network
  // cut), and a fresh session costs little next to a second failed call.
  void close_sessions() {
    if (reader != nullptr) PQfinish(reader);
    reader = nullptr;
    applier.reset();
  }

  mapping::Status open_reader() {
    if (reader != nullptr && PQstatus(reader) == CONNECTION_OK) return mapping::ok_status();
    if (reader != nullptr) PQfinish(reader);
    reader = nullptr;
    auto opened = connectors::prm::open_prm_session(settings, false, "side-read");
    if (!opened) return opened.error();
    reader = opened.value();
    return mapping::ok_status();
  }

  mapping::Status open_applier() {
    if (applier) return mapping::ok_status();
    auto connected = PrmApplier::connect(settings, bindings);
    if (!connected) return connected.error();
    applier = std::move(connected).value();
    return mapping::ok_status();
  }

  const RecordTableBinding* binding_for(mapping::ObjectKind object) const {
    for (const auto& binding : bindings.records) {
      if (binding.object == object) return &binding;
    }
    return nullptr;
  }

  std::string quote(const std::string& identifier) const {
    char* quoted = PQescapeIdentifier(reader, identifier.c_str(), identifier.size());
    std::string out = quoted != nullptr ? quoted : "\"\"";
    PQfreemem(quoted);
    return out;
  }

  // One SELECT for `ids`. A transient failure closes the sessions (the next call opens fresh
  // ones). `bad_id` is set when an id is not valid text for the id column's type.
  mapping::Result<std::vector<SideRecordState>> select(const std::string& sql,
                                                       const std::vector<std::string>& ids,
                                                       const std::vector<std::string>& fields,
                                                       const std::string& what, bool& bad_id) {
    std::string literal = array_literal(ids);
    const char* values[] = {literal.c_str()};
    PgResult result(PQexecParams(reader, sql.c_str(), 1, nullptr, values, nullptr, nullptr, 0));
    if (!result.ok()) {
      const char* sqlstate = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
      if (sqlstate != nullptr && sqlstate == kInvalidTextRepresentation &&
          PQstatus(reader) == CONNECTION_OK) {
        bad_id = true;
        return std::vector<SideRecordState>{};
      }
      SyncError error = connectors::prm::libpq_error(reader, result.get(), what);
      if (error.error_class == ErrorClass::transient) close_sessions();
      return error;
    }
    std::vector<SideRecordState> records;
    const int rows = PQntuples(result.get());
    const int count = static_cast<int>(fields.size());
    for (int row = 0; row < rows; ++row) {
      SideRecordState record;
      for (int column = 0; column < count; ++column) {
        mapping::FieldValue value =
            PQgetisnull(result.get(), row, column) != 0
                ? mapping::FieldValue::null_value()
                : connectors::prm::to_field_value(PQftype(result.get(), column),
                                                  PQgetvalue(result.get(), row, column));
        record.fields.push_back({fields[static_cast<std::size_t>(column)], std::move(value)});
      }
      record.prm_id = PQgetvalue(result.get(), row, count);
      record.side_id = record.prm_id;
      record.version = PQgetvalue(result.get(), row, count + 1);
      record.modified_at = PQgetvalue(result.get(), row, count + 2);
      records.push_back(std::move(record));
    }
    return records;
  }

  mapping::Result<std::vector<SideRecordState>> read(
      mapping::ObjectKind object, const std::vector<std::string>& prm_ids,
      const std::vector<std::string>& native_fields) {
    const RecordTableBinding* binding = binding_for(object);
    if (binding == nullptr) {
      return SyncError{
          ErrorClass::fatal,
          fmt::format("PRM read: no PRM table is bound for {} (check the PRM bindings)",
                      mapping::to_string(object))};
    }
    if (prm_ids.empty()) return std::vector<SideRecordState>{};
    if (auto opened = open_reader(); !opened) return opened.error();
    std::string columns;
    for (const auto& field : native_fields) columns += quote(field) + ", ";
    std::string id = quote(binding->id_column);
    std::string sql = fmt::format(
        "SELECT {}{}::text, {}::text, to_char({} AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
        "FROM {}.{} WHERE {} = ANY($1)",
        columns, id, quote(kVersionColumn), quote(kModifiedColumn), quote(binding->schema),
        quote(binding->table), id);
    std::string what = fmt::format("read {} {} from {}.{}", prm_ids.size(),
                                   mapping::to_string(object), binding->schema, binding->table);
    return select_valid(sql, prm_ids, native_fields, what);
  }

  mapping::Result<std::vector<SideRecordState>> find_unmapped(mapping::ObjectKind object, const std::string& key_field,
                                                              const std::vector<std::string>& values,
                                                              const std::vector<std::string>& native_fields) {
    const RecordTableBinding* binding = binding_for(object);
    if (binding == nullptr) {
      return SyncError{ErrorClass::fatal, fmt::format("PRM match: no PRM table is bound for {}", mapping::to_string(object))};
    }
    if (values.empty()) return std::vector<SideRecordState>{};
    if (auto opened = open_reader(); !opened) return opened.error();
    std::string columns;
    for (const auto& field : native_fields) columns += quote(field) + ", ";
    std::string sql = fmt::format(
        "SELECT {}{}::text, {}::text, to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
        "FROM {}.{} WHERE {}::text = ANY($1)",
        columns, quote(binding->id_column), quote(kVersionColumn), quote(kModifiedColumn), quote(binding->schema),
        quote(binding->table), quote(key_field));
    bool bad_value = false;
    return select(sql, values, native_fields,
                  fmt::format("match {} {} by {}", values.size(), mapping::to_string(object), key_field), bad_value);
  }

  // select() of `ids`, halving the list while some id cannot be a value of the id column (a CRM
  // record carrying a malformed PRM id) until such ids stand alone: no record has them, and the
  // others are still found.
  mapping::Result<std::vector<SideRecordState>> select_valid(const std::string& sql,
                                                             const std::vector<std::string>& ids,
                                                             const std::vector<std::string>& fields,
                                                             const std::string& what) {
    bool bad_id = false;
    auto records = select(sql, ids, fields, what, bad_id);
    if (!records || !bad_id || ids.size() == 1) return records;
    auto middle = ids.begin() + static_cast<std::ptrdiff_t>(ids.size() / 2);
    auto first = select_valid(sql, {ids.begin(), middle}, fields, what);
    if (!first) return first;
    auto second = select_valid(sql, {middle, ids.end()}, fields, what);
    if (!second) return second;
    for (auto& record : second.value()) first.value().push_back(std::move(record));
    return first;
  }

  // The PRM ids among the upserts of `writes` that exist now: a write of any other is a creation.
  mapping::Result<std::set<std::string>> existing_records(
      const std::vector<CrmRecordWrite>& writes) {
    std::map<mapping::ObjectKind, std::vector<std::string>> ids;
    for (const auto& write : writes) {
      if (is_upsert(write)) ids[write.object].push_back(write.prm_id);
    }
    std::set<std::string> existing;
    for (const auto& [object, object_ids] : ids) {
      auto records = read(object, object_ids, {});
      if (!records) return records.error();
      for (const auto& record : records.value()) existing.insert(record.prm_id);
    }
    return existing;
  }

  // Applies `writes` in one transaction; a transient failure closes the sessions.
  mapping::Status apply(const std::vector<PrmWrite>& writes, const std::string& origin) {
    if (auto opened = open_applier(); !opened) return opened;
    auto applied = applier->apply(writes, origin);
    if (!applied && applied.error().error_class == ErrorClass::transient) close_sessions();
    return applied;
  }
};

PrmSideGateway::PrmSideGateway(PrmConnectionSettings settings,
                               connectors::prm::PrmBindings bindings)
    : impl_(std::make_unique<Impl>()) {
  impl_->settings = std::move(settings);
  impl_->bindings = std::move(bindings);
}

PrmSideGateway::~PrmSideGateway() = default;

mapping::Result<std::vector<SideRecordState>> PrmSideGateway::read(
    mapping::ObjectKind object, const std::vector<std::string>& prm_ids,
    const std::vector<std::string>& native_fields) {
  return impl_->read(object, prm_ids, native_fields);
}

mapping::Result<std::vector<SideRecordState>> PrmSideGateway::find_unmapped(
    mapping::ObjectKind object, const std::string& key_field, const std::vector<std::string>& values,
    const std::vector<std::string>& native_fields) {
  return impl_->find_unmapped(object, key_field, values, native_fields);
}

mapping::Result<std::vector<CrmWriteResult>> PrmSideGateway::write(
    const std::vector<CrmRecordWrite>& writes, const std::string& origin) {
  if (writes.empty()) return std::vector<CrmWriteResult>{};
  auto existing = impl_->existing_records(writes);
  if (!existing) return existing.error();

  std::vector<PrmWrite> prm_writes;
  std::vector<CrmWriteResult> results;
  for (const auto& write : writes) {
    CrmWriteResult result;
    result.crm_id = write.prm_id;
    if (is_upsert(write)) {
      connectors::prm::PrmUpsert upsert;
      upsert.object = write.object;
      upsert.prm_id = write.prm_id;
      upsert.fields = write.fields;
      upsert.actor = {mapping::Actor::Kind::integration, "crmsync", ""};
      if (write.prm_sharing) {
        upsert.owner_partner_org.emplace(write.prm_sharing->owner_partner_org);  // set, possibly to NULL
        upsert.owner_user.emplace(write.prm_sharing->owner_user);
        upsert.grants = write.prm_sharing->grants;
      }
      prm_writes.emplace_back(std::move(upsert));
      result.created = !existing.value().contains(write.prm_id);
    } else {
      prm_writes.emplace_back(connectors::prm::PrmDelete{write.object, write.prm_id});
    }
    results.push_back(std::move(result));
  }

  auto applied = impl_->apply(prm_writes, origin);
  if (applied) return results;
  if (applied.error().error_class != ErrorClass::invalid) return applied.error();
  // A record violated a constraint, so the transaction changed nothing: apply them one by one
  // (each in its own transaction) so that only the bad ones fail.
  for (std::size_t i = 0; i < prm_writes.size(); ++i) {
    auto one = prm_writes.size() == 1 ? applied : impl_->apply({prm_writes[i]}, origin);
    if (one) continue;
    if (one.error().error_class != ErrorClass::invalid) return one.error();
    results[i].created = false;
    results[i].error = one.error();
    results[i].still_referenced = std::holds_alternative<connectors::prm::PrmDelete>(prm_writes[i]) &&
                                  connectors::prm::is_foreign_key_violation(one.error());
  }
  return results;
}

}  // namespace crmsync::daemon
