#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace crmsync::state {

// One versioned step of the state schema. `sql` may contain `{schema}`, replaced by the
// configured schema name (state.schema) when the migration is applied.
struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

// The migrations compiled into this binary from state/migrations/*.sql, in version order.
const std::vector<Migration>& embedded_migrations();

// Checks that a list of migrations can be applied: versions start at 1, increase by one, names
// are not empty, SQL is not empty. Returns a message naming the first problem, or nothing.
std::optional<std::string> find_migration_list_problem(std::span<const Migration> migrations);

// A stable fingerprint of a migration's SQL (FNV-1a 64, hex), recorded when it is applied so that
// a migration edited after it shipped is detected instead of silently diverging.
std::string migration_checksum(std::string_view sql);

// Replaces every `{schema}` in `sql` with `schema`.
std::string render_migration_sql(std::string_view sql, std::string_view schema);

// True when `schema` is a plain lower-case PostgreSQL identifier that needs no quoting.
bool is_valid_schema_name(std::string_view schema);

}  // namespace crmsync::state
