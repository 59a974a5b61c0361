#include "connectors/prm/libpq_session.h"

#include <fmt/format.h>

#include <vector>

#include "state/pg_error.h"

namespace crmsync::connectors::prm {

using mapping::ErrorClass;
using mapping::SyncError;

std::string one_line(const char* text) {
  std::string out = text != nullptr ? text : "";
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

mapping::Result<PGconn*> open_prm_session(const PrmConnectionSettings& settings, bool replication,
                                          std::string_view purpose) {
  std::string timeout = std::to_string(settings.connect_timeout.count());
  std::string application = settings.application_name + (replication ? "" : "-" + std::string(purpose));
  const char* options = "-c datestyle=ISO -c timezone=UTC -c extra_float_digits=3";
  // dbname carries the URL and is expanded (expand_dbname = 1); the other keywords override it.
  std::vector<const char*> keywords = {"dbname", "connect_timeout", "application_name", "options"};
  std::vector<const char*> values = {settings.url.c_str(), timeout.c_str(), application.c_str(), options};
  if (replication) {
    keywords.push_back("replication");
    values.push_back("database");
  }
  if (settings.password) {
    keywords.push_back("password");
    values.push_back(settings.password->reveal().c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* connection = PQconnectdbParams(keywords.data(), values.data(), 1);
  std::string what = fmt::format("connect to the PRM database for {}", purpose);
  if (connection == nullptr) return SyncError{ErrorClass::transient, what + ": out of memory"};
  if (PQstatus(connection) != CONNECTION_OK) {
    std::string detail = one_line(PQerrorMessage(connection));
    PQfinish(connection);
    bool refused = detail.find("authentication") != std::string::npos ||
                   detail.find("permission denied") != std::string::npos ||
                   detail.find("must have the replication") != std::string::npos;
    return SyncError{refused ? ErrorClass::auth : ErrorClass::transient, what + ": " + detail};
  }
  return connection;
}

SyncError libpq_error(PGconn* connection, PGresult* result, std::string_view what) {
  const char* sqlstate = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string detail = one_line(result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(connection));
  if (detail.empty()) detail = one_line(PQerrorMessage(connection));
  if (sqlstate == nullptr || PQstatus(connection) != CONNECTION_OK) {
    return {ErrorClass::transient, fmt::format("{}: {}", what, detail)};
  }
  if (const char* constraint = PQresultErrorField(result, PG_DIAG_CONSTRAINT_NAME)) {
    const char* table = PQresultErrorField(result, PG_DIAG_TABLE_NAME);
    return {ErrorClass::invalid, fmt::format("{}: constraint {} on {} violated (SQLSTATE {}): {}", what, constraint,
                                             table != nullptr ? table : "?", sqlstate, detail)};
  }
  ErrorClass klass = state::classify_sqlstate(sqlstate);
  if (std::string_view(sqlstate) == "42703") klass = ErrorClass::invalid;  // unknown column: a mapping problem
  return {klass, fmt::format("{}: SQLSTATE {}: {}", what, sqlstate, detail)};
}

bool is_foreign_key_violation(const mapping::SyncError& error) {
  return error.error_class == ErrorClass::invalid && error.message.find("(SQLSTATE 23503)") != std::string::npos;
}

}  // namespace crmsync::connectors::prm
