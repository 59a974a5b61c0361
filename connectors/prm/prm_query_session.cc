#include "connectors/prm/prm_query_session.h"

#include <fmt/format.h>

#include "connectors/prm/libpq_session.h"

namespace crmsync::connectors::prm {

namespace {

using mapping::ErrorClass;
using mapping::SyncError;

std::string quote_identifier(PGconn* connection, const std::string& name) {
  char* quoted = PQescapeIdentifier(connection, name.c_str(), name.size());
  std::string out = quoted != nullptr ? quoted : "\"\"";
  PQfreemem(quoted);
  return out;
}

std::string text_array_literal(const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

}  // namespace

struct PrmQuerySession::Impl {
  ~Impl() {
    if (connection != nullptr) PQfinish(connection);
  }
  PGconn* connection = nullptr;
  int cursor_count = 0;

  mapping::Status exec(const std::string& sql, std::string_view what) {
    PgResult result(PQexec(connection, sql.c_str()));
    auto status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return libpq_error(connection, result.get(), what);
    }
    return mapping::ok_status();
  }
};

PrmQuerySession::PrmQuerySession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PrmQuerySession::~PrmQuerySession() = default;

mapping::Result<std::unique_ptr<PrmQuerySession>> PrmQuerySession::open(
    const PrmConnectionSettings& settings) {
  auto opened = open_prm_session(settings, false, "query");
  if (!opened) return opened.error();
  auto impl = std::make_unique<Impl>();
  impl->connection = opened.value();
  return std::unique_ptr<PrmQuerySession>(new PrmQuerySession(std::move(impl)));
}

mapping::Status PrmQuerySession::begin_snapshot(const std::string& snapshot_name) {
  auto begun = impl_->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "begin snapshot read");
  if (!begun) return begun;
  if (snapshot_name.empty()) return mapping::ok_status();
  char* literal = PQescapeLiteral(impl_->connection, snapshot_name.c_str(), snapshot_name.size());
  std::string sql = std::string("SET TRANSACTION SNAPSHOT ") + (literal != nullptr ? literal : "''");
  PQfreemem(literal);
  return impl_->exec(sql, "import the slot's snapshot");
}

mapping::Result<std::size_t> PrmQuerySession::read_table(
    const std::string& schema, const std::string& table, std::size_t batch_rows,
    const std::function<mapping::Status(const SnapshotRow&)>& on_row) {
  std::string cursor = fmt::format("crmsync_snapshot_{}", ++impl_->cursor_count);
  std::string what = fmt::format("read {}.{}", schema, table);
  auto declared = impl_->exec(fmt::format("DECLARE {} NO SCROLL CURSOR FOR SELECT * FROM {}.{}", cursor,
                                          quote_identifier(impl_->connection, schema),
                                          quote_identifier(impl_->connection, table)),
                              what);
  if (!declared) return declared.error();
  std::size_t total = 0;
  std::string fetch = fmt::format("FETCH {} FROM {}", batch_rows, cursor);
  while (true) {
    PgResult result(PQexec(impl_->connection, fetch.c_str()));
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
      return libpq_error(impl_->connection, result.get(), what);
    }
    int rows = PQntuples(result.get());
    if (rows == 0) break;
    SnapshotRow row;
    row.schema = schema;
    row.table = table;
    int columns = PQnfields(result.get());
    for (int c = 0; c < columns; ++c) {
      row.columns.emplace_back(PQfname(result.get(), c));
      row.type_oids.push_back(PQftype(result.get(), c));
    }
    for (int r = 0; r < rows; ++r) {
      row.values.clear();
      for (int c = 0; c < columns; ++c) {
        if (PQgetisnull(result.get(), r, c)) {
          row.values.emplace_back(std::nullopt);
        } else {
          row.values.emplace_back(std::string(PQgetvalue(result.get(), r, c),
                                              static_cast<std::size_t>(PQgetlength(result.get(), r, c))));
        }
      }
      auto handled = on_row(row);
      if (!handled) return handled.error();
      ++total;
    }
  }
  auto closed = impl_->exec("CLOSE " + cursor, what);
  if (!closed) return closed.error();
  return total;
}

mapping::Status PrmQuerySession::end_snapshot() { return impl_->exec("COMMIT", "end snapshot read"); }

mapping::Result<std::vector<std::string>> PrmQuerySession::tables_without_forced_rls(
    const std::vector<std::string>& qualified_tables) {
  std::string array = text_array_literal(qualified_tables);
  const char* params[] = {array.c_str()};
  PgResult result(PQexecParams(
      impl_->connection,
      "SELECT t.name, c.oid IS NULL, coalesce(c.relrowsecurity, false), "
      "coalesce(c.relforcerowsecurity, false) "
      "FROM unnest($1::text[]) AS t(name) "
      "LEFT JOIN pg_class c ON c.oid = to_regclass(t.name) ORDER BY t.name",
      1, nullptr, params, nullptr, nullptr, 0));
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    return libpq_error(impl_->connection, result.get(), "check row-level security");
  }
  std::vector<std::string> problems;
  for (int r = 0; r < PQntuples(result.get()); ++r) {
    std::string name = PQgetvalue(result.get(), r, 0);
    if (std::string_view(PQgetvalue(result.get(), r, 1)) == "t") {
      problems.push_back(name + " does not exist");
    } else if (std::string_view(PQgetvalue(result.get(), r, 2)) != "t") {
      problems.push_back(name + " has row-level security disabled (ALTER TABLE " + name +
                         " ENABLE ROW LEVEL SECURITY)");
    } else if (std::string_view(PQgetvalue(result.get(), r, 3)) != "t") {
      problems.push_back(name + " does not force row-level security (ALTER TABLE " + name +
                         " FORCE ROW LEVEL SECURITY)");
    }
  }
  return problems;
}

mapping::Result<std::vector<std::string>> PrmQuerySession::tables_missing_from_publication(
    const std::string& publication, const std::vector<std::string>& qualified_tables) {
  std::string array = text_array_literal(qualified_tables);
  const char* params[] = {array.c_str(), publication.c_str()};
  PgResult result(PQexecParams(
      impl_->connection,
      "SELECT t.name FROM unnest($1::text[]) AS t(name) WHERE NOT EXISTS ("
      " SELECT 1 FROM pg_publication_tables p WHERE p.pubname = $2"
      " AND p.schemaname || '.' || p.tablename = t.name) ORDER BY t.name",
      2, nullptr, params, nullptr, nullptr, 0));
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    return libpq_error(impl_->connection, result.get(), "check the publication");
  }
  std::vector<std::string> missing;
  for (int r = 0; r < PQntuples(result.get()); ++r) missing.emplace_back(PQgetvalue(result.get(), r, 0));
  return missing;
}

mapping::Result<long long> PrmQuerySession::count_rows(const std::string& schema, const std::string& table) {
  std::string sql = fmt::format("SELECT count(*) FROM {}.{}", quote_identifier(impl_->connection, schema),
                                quote_identifier(impl_->connection, table));
  PgResult result(PQexec(impl_->connection, sql.c_str()));
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK || PQntuples(result.get()) != 1) {
    return libpq_error(impl_->connection, result.get(), fmt::format("count the rows of {}.{}", schema, table));
  }
  return std::atoll(PQgetvalue(result.get(), 0, 0));
}

mapping::Result<std::optional<long long>> PrmQuerySession::slot_retained_wal_bytes(const std::string& slot) {
  const char* params[] = {slot.c_str()};
  PgResult result(PQexecParams(impl_->connection,
                             "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint "
                             "FROM pg_replication_slots WHERE slot_name = $1",
                             1, nullptr, params, nullptr, nullptr, 0));
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    return libpq_error(impl_->connection, result.get(), "measure slot retained WAL");
  }
  if (PQntuples(result.get()) == 0 || PQgetisnull(result.get(), 0, 0)) return std::optional<long long>();
  return std::optional<long long>(std::atoll(PQgetvalue(result.get(), 0, 0)));
}

mapping::Result<std::optional<PrmQuerySession::SlotPosition>> PrmQuerySession::slot_position(const std::string& slot) {
  const char* params[] = {slot.c_str()};
  PgResult result(PQexecParams(impl_->connection,
                             "SELECT active, coalesce(confirmed_flush_lsn::text, ''), pg_current_wal_lsn()::text, "
                             "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint, 0), "
                             "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, 0) "
                             "FROM pg_replication_slots WHERE slot_name = $1",
                             1, nullptr, params, nullptr, nullptr, 0));
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    return libpq_error(impl_->connection, result.get(), "read replication slot position");
  }
  if (PQntuples(result.get()) == 0) return std::optional<SlotPosition>();
  SlotPosition position;
  position.active = std::string_view(PQgetvalue(result.get(), 0, 0)) == "t";
  position.confirmed_lsn = PQgetvalue(result.get(), 0, 1);
  position.current_lsn = PQgetvalue(result.get(), 0, 2);
  position.lag_bytes = std::atoll(PQgetvalue(result.get(), 0, 3));
  position.retained_bytes = std::atoll(PQgetvalue(result.get(), 0, 4));
  return std::optional<SlotPosition>(std::move(position));
}

}  // namespace crmsync::connectors::prm
