#pragma once

// Internal to connectors/prm: what every libpq session of the PRM connector shares — opening a
// connection with the capture's session settings, owning results, and the one classification of
// libpq failures (by SQLSTATE, naming the constraint a write violated). Only .cc files include it.

#include <libpq-fe.h>

#include <string>
#include <string_view>

#include "connectors/prm/replication_connection.h"
#include "mapping/sync_error.h"

namespace crmsync::connectors::prm {

// Owns one PGresult.
class PgResult {
 public:
  explicit PgResult(PGresult* result) : result_(result) {}
  ~PgResult() { PQclear(result_); }
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  PGresult* get() const { return result_; }
  bool ok() const {
    auto status = PQresultStatus(result_);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
  }

 private:
  PGresult* result_;
};

// Opens a session on the PRM database (`replication=database` when asked) with ISO dates, UTC and
// exact floats, so that values read as text are the same whichever session read them. The caller
// owns the connection (PQfinish). `purpose` names it in errors and in application_name.
mapping::Result<PGconn*> open_prm_session(const PrmConnectionSettings& settings, bool replication,
                                          std::string_view purpose);

// A failed statement (or lost connection) as a classified error: by SQLSTATE; a violated
// constraint is `invalid` and named; an unknown column is `invalid` (a mapping problem); no
// SQLSTATE or a broken connection is `transient`.
mapping::SyncError libpq_error(PGconn* connection, PGresult* result, std::string_view what);

// Whether `error` (made by libpq_error) is a foreign key violation (SQLSTATE 23503): for a delete,
// other rows still refer to the row.
bool is_foreign_key_violation(const mapping::SyncError& error);

// libpq's multi-line messages as one log-friendly line.
std::string one_line(const char* text);

}  // namespace crmsync::connectors::prm
