#include "state/pg_error.h"

#include <fmt/format.h>

#include <pqxx/except>

namespace crmsync::state {

using mapping::ErrorClass;

ErrorClass classify_sqlstate(std::string_view sqlstate) {
  if (sqlstate.size() != 5) return ErrorClass::transient;
  std::string_view klass = sqlstate.substr(0, 2);
  if (klass == "08") return ErrorClass::transient;  // connection exception
  if (klass == "53") return ErrorClass::transient;  // insufficient resources
  if (klass == "57") return ErrorClass::transient;  // operator intervention (shutdown, cancel)
  if (klass == "58") return ErrorClass::transient;  // system error (I/O)
  if (klass == "28") return ErrorClass::auth;       // invalid authorization
  if (sqlstate == "42501") return ErrorClass::auth;  // insufficient privilege
  if (sqlstate == "40001" || sqlstate == "40P01") return ErrorClass::conflict;  // serialization, deadlock
  if (klass == "55") return ErrorClass::conflict;   // object in use, lock not available
  if (klass == "22" || klass == "23") return ErrorClass::invalid;  // data exception, constraint
  if (klass == "42") return ErrorClass::fatal;  // syntax or undefined object: our bug or wrong schema
  if (klass == "XX") return ErrorClass::fatal;  // internal error
  return ErrorClass::fatal;
}

mapping::SyncError classify_pg_exception(const std::exception& error, std::string_view what_failed) {
  // libpq's messages end with a newline and may span lines; keep log lines single.
  std::string detail = error.what();
  for (char& c : detail) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!detail.empty() && detail.back() == ' ') detail.pop_back();

  if (dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr) {
    return {ErrorClass::transient, fmt::format("{}: connection failed: {}", what_failed, detail)};
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error)) {
    // libpqxx 6.4 leaves sqlstate() empty on some of its typed exceptions: classify by type then.
    ErrorClass klass = classify_sqlstate(sql->sqlstate());
    if (sql->sqlstate().empty()) {
      if (dynamic_cast<const pqxx::insufficient_privilege*>(&error) != nullptr) {
        klass = ErrorClass::auth;
      } else if (dynamic_cast<const pqxx::integrity_constraint_violation*>(&error) != nullptr ||
                 dynamic_cast<const pqxx::data_exception*>(&error) != nullptr) {
        klass = ErrorClass::invalid;
      } else if (dynamic_cast<const pqxx::transaction_rollback*>(&error) != nullptr) {
        klass = ErrorClass::conflict;
      } else if (dynamic_cast<const pqxx::insufficient_resources*>(&error) != nullptr) {
        klass = ErrorClass::transient;
      } else {
        klass = ErrorClass::fatal;
      }
    }
    return {klass, fmt::format("{}: SQLSTATE {}: {}", what_failed, sql->sqlstate(), detail)};
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&error) != nullptr) {
    return {ErrorClass::transient,
            fmt::format("{}: commit outcome unknown (connection lost during commit): {}",
                        what_failed, detail)};
  }
  return {ErrorClass::fatal, fmt::format("{}: {}", what_failed, detail)};
}

}  // namespace crmsync::state
