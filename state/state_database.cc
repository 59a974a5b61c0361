#include "state/state_database.h"

#include <fmt/format.h>

#include "state/pg_error.h"
#include "state/pg_session.h"

namespace crmsync::state {

namespace {

// Percent-encodes a URI parameter value (RFC 3986 unreserved characters pass through).
std::string percent_encode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace

bool url_has_password(std::string_view url) {
  std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return false;
  std::string_view rest = url.substr(scheme_end + 3);
  std::size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  std::size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return false;
  std::string_view user_info = authority.substr(0, at);
  if (user_info.find(':') != std::string_view::npos) return true;
  // A password can also be given as a URI parameter.
  std::size_t query = rest.find('?');
  return query != std::string_view::npos && rest.find("password=", query) != std::string_view::npos;
}

mapping::SecretString build_connection_uri(const StateDatabaseSettings& settings) {
  std::string uri = settings.url;
  char separator = uri.find('?') == std::string::npos ? '?' : '&';
  auto add = [&](std::string_view key, std::string_view value) {
    uri += separator;
    uri += key;
    uri += '=';
    uri += percent_encode(value);
    separator = '&';
  };
  add("connect_timeout", std::to_string(settings.connect_timeout.count()));
  add("application_name", settings.application_name);
  if (settings.password) add("password", settings.password->reveal());
  return mapping::SecretString(std::move(uri));
}

StateDatabase::StateDatabase(std::unique_ptr<Session> session, mapping::SecretString uri, std::string schema)
    : session_(std::move(session)), uri_(std::move(uri)), schema_(std::move(schema)) {}

StateDatabase::~StateDatabase() = default;

mapping::Result<std::unique_ptr<StateDatabase>> StateDatabase::connect(
    const StateDatabaseSettings& settings) {
  try {
    mapping::SecretString uri = build_connection_uri(settings);
    auto session = std::make_unique<Session>(uri.reveal());
    return std::unique_ptr<StateDatabase>(new StateDatabase(std::move(session), std::move(uri), settings.schema));
  } catch (const std::exception& error) {
    return classify_pg_exception(error, "connect to the state database");
  }
}

mapping::Status StateDatabase::reopen_if_broken() {
  if (session_->connection.is_open()) return mapping::ok_status();
  try {
    session_ = std::make_unique<Session>(uri_.reveal());
    return mapping::ok_status();
  } catch (const std::exception& error) {
    return classify_pg_exception(error, "reconnect to the state database");
  }
}

mapping::Status StateDatabase::ping() {
  auto rows = execute("SELECT 1");
  if (!rows) return rows.error();
  return mapping::ok_status();
}

namespace {

QueryRows rows_of(const pqxx::result& result) {
  QueryRows rows;
  rows.reserve(result.size());
  for (const auto& row : result) {
    QueryRow out;
    out.reserve(row.size());
    for (const auto& field : row) {
      if (field.is_null()) {
        out.emplace_back(std::nullopt);
      } else {
        out.emplace_back(field.c_str());
      }
    }
    rows.push_back(std::move(out));
  }
  return rows;
}

}  // namespace

mapping::Result<QueryRows> StateDatabase::execute(std::string_view sql, const QueryRow& params) {
  if (auto reopened = reopen_if_broken(); !reopened) return reopened.error();
  try {
    pqxx::work txn(session_->connection);
    QueryRows rows = rows_of(txn.exec_params(std::string(sql), pqxx::prepare::make_dynamic_params(params)));
    txn.commit();
    return rows;
  } catch (const std::exception& error) {
    return classify_pg_exception(error, "state database query");
  }
}

mapping::Status StateDatabase::in_transaction(const std::function<mapping::Status(const Executor&)>& body) {
  if (auto reopened = reopen_if_broken(); !reopened) return reopened.error();
  try {
    pqxx::work txn(session_->connection);
    std::optional<mapping::SyncError> statement_failure;
    Executor execute = [&](std::string_view sql, const QueryRow& params) -> mapping::Result<QueryRows> {
      if (statement_failure) return *statement_failure;  // the transaction is already aborted
      try {
        return rows_of(txn.exec_params(std::string(sql), pqxx::prepare::make_dynamic_params(params)));
      } catch (const pqxx::broken_connection&) {
        throw;
      } catch (const std::exception& error) {
        statement_failure = classify_pg_exception(error, "state database statement");
        return *statement_failure;
      }
    };
    mapping::Status outcome = body(execute);
    if (!outcome) return outcome;  // pqxx::work rolls back when destroyed uncommitted
    if (statement_failure) return *statement_failure;
    txn.commit();
    return mapping::ok_status();
  } catch (const std::exception& error) {
    return classify_pg_exception(error, "state database transaction");
  }
}

}  // namespace crmsync::state
