#include "state/migrator.h"

#include <fmt/format.h>

#include <map>

#include "state/pg_error.h"
#include "state/pg_session.h"

namespace crmsync::state {

namespace {

struct AppliedMigration {
  std::string name;
  std::string checksum;
};

mapping::SyncError fatal(std::string message) {
  return {mapping::ErrorClass::fatal, std::move(message)};
}

}  // namespace

mapping::Result<MigrationReport> migrate(StateDatabase& database,
                                         std::span<const Migration> migrations, DryRun dry_run) {
  if (auto problem = find_migration_list_problem(migrations)) {
    return fatal("state migrations: " + *problem);
  }
  const std::string& schema = database.schema();
  if (!is_valid_schema_name(schema)) {
    return mapping::SyncError{mapping::ErrorClass::invalid,
                              fmt::format("state.schema: \"{}\" is not a plain lower-case "
                                          "identifier",
                                          schema)};
  }

  int current_step = 0;
  try {
    pqxx::work txn(database.session().connection);
    // Serialises concurrent migrators (several replicas starting at once) on this schema.
    txn.exec_params("SELECT pg_advisory_xact_lock(hashtext($1))", "crmsync.migrate." + schema);
    txn.exec0(fmt::format("CREATE SCHEMA IF NOT EXISTS {}", schema));
    txn.exec0(fmt::format(
        "CREATE TABLE IF NOT EXISTS {}.schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())",
        schema));

    std::map<int, AppliedMigration> applied;
    for (const auto& row :
         txn.exec(fmt::format("SELECT version, name, checksum FROM {}.schema_migrations", schema))) {
      applied[row[0].as<int>()] = {row[1].as<std::string>(), row[2].as<std::string>()};
    }

    MigrationReport report;
    report.version_before = applied.empty() ? 0 : applied.rbegin()->first;
    int newest_known = migrations.empty() ? 0 : migrations.back().version;
    if (report.version_before > newest_known) {
      return fatal(fmt::format(
          "state schema \"{}\" is at version {}, newer than this crmsync knows ({}); run a "
          "crmsync release at least as new as the one that migrated it",
          schema, report.version_before, newest_known));
    }

    for (const Migration& migration : migrations) {
      current_step = migration.version;
      std::string checksum = migration_checksum(migration.sql);
      if (auto it = applied.find(migration.version); it != applied.end()) {
        if (it->second.checksum != checksum) {
          return fatal(fmt::format(
              "state migration {} ({}) was applied with checksum {} but this binary has {}; a "
              "shipped migration must never change: add a new migration instead",
              migration.version, migration.name, it->second.checksum, checksum));
        }
        continue;
      }
      txn.exec0(render_migration_sql(migration.sql, schema));
      txn.exec_params(fmt::format("INSERT INTO {}.schema_migrations (version, name, checksum) "
                                  "VALUES ($1, $2, $3)",
                                  schema),
                      migration.version, std::string(migration.name), checksum);
      report.applied.push_back(migration.version);
    }
    report.version_after = report.applied.empty() ? report.version_before : report.applied.back();

    if (dry_run == DryRun::no) {
      txn.commit();
    } else {
      txn.abort();
    }
    return report;
  } catch (const std::exception& error) {
    std::string what = current_step == 0
                           ? std::string("prepare state schema migration")
                           : fmt::format("apply state migration {}", current_step);
    return classify_pg_exception(error, what);
  }
}

mapping::Result<bool> has_table(StateDatabase& database, std::string_view table) {
  auto present = database.execute("SELECT to_regclass($1) IS NOT NULL", {database.schema() + "." + std::string(table)});
  if (!present) return present.error();
  return !present.value().empty() && present.value()[0].at(0) == "t";
}

}  // namespace crmsync::state
