#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mapping/secret.h"
#include "mapping/sync_error.h"

namespace crmsync::state {

// How to reach the state database. `url` is a postgresql:// URL without a password; the password,
// when there is one, comes from a credential file and travels as a Secret.
struct StateDatabaseSettings {
  std::string url;
  std::optional<mapping::SecretString> password;
  std::chrono::seconds connect_timeout{5};
  std::string application_name{"crmsync"};
  std::string schema{"crmsync"};
};

// Rows of a query result, as text; a SQL NULL is std::nullopt.
using QueryRow = std::vector<std::optional<std::string>>;
using QueryRows = std::vector<QueryRow>;

// One connection to the state database. Owned by one thread at a time (libpq connections are not
// thread-safe); components that need their own connection open their own. Failures come back
// classified by the single SQLSTATE switch in pg_error.cc.
//
// A connection that broke (the server restarted, a network cut) fails the call that found it
// broken (transient); the next call opens a new session, so long-lived holders (the apply
// workers, the captures' cursors) recover once the server is back. Session state does not survive
// that: a holder that relies on it (the capture leadership's advisory lock) must drop the
// StateDatabase after a failure instead of calling it again.
class StateDatabase {
 public:
  static mapping::Result<std::unique_ptr<StateDatabase>> connect(const StateDatabaseSettings& settings);
  ~StateDatabase();
  StateDatabase(const StateDatabase&) = delete;
  StateDatabase& operator=(const StateDatabase&) = delete;

  // Round trip to the server (SELECT 1). A broken connection is reported as transient.
  mapping::Status ping();

  // Runs one statement with positional parameters ($1, $2, …) in its own transaction.
  mapping::Result<QueryRows> execute(std::string_view sql, const QueryRow& params = {});

  // Several statements in one transaction: `body` runs them through the given executor; the
  // transaction commits when it returns ok and rolls back otherwise (or on a failed statement).
  using Executor = std::function<mapping::Result<QueryRows>(std::string_view sql, const QueryRow& params)>;
  mapping::Status in_transaction(const std::function<mapping::Status(const Executor& execute)>& body);

  const std::string& schema() const { return schema_; }

  // libpqxx-level access for the .cc files of state/ (declared in state/pg_session.h).
  struct Session;
  Session& session() { return *session_; }

 private:
  StateDatabase(std::unique_ptr<Session> session, mapping::SecretString uri, std::string schema);
  // A new session when the current one is closed (broken); an error when the server is not back.
  mapping::Status reopen_if_broken();
  std::unique_ptr<Session> session_;
  mapping::SecretString uri_;
  std::string schema_;
};

// Builds the libpq connection URI: the configured URL plus the password, timeout and application
// name as URI parameters. The result contains the password: keep it in a Secret.
mapping::SecretString build_connection_uri(const StateDatabaseSettings& settings);

// True when `url` is a postgresql:// or postgres:// URL whose user-info part has no password.
bool url_has_password(std::string_view url);

}  // namespace crmsync::state
