#include "state/secret_store.h"

#include <fmt/format.h>

#include "state/state_database.h"

namespace crmsync::state {

namespace {

using mapping::ErrorClass;
using mapping::SyncError;

std::string to_hex(const std::string& bytes) {
  std::string out = "\\x";
  for (unsigned char byte : bytes) out += fmt::format("{:02x}", byte);
  return out;
}

std::string from_hex(const std::string& hex) {
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

SyncError invalid(std::string message) { return {ErrorClass::invalid, std::move(message)}; }

constexpr const char* kSealedColumns =
    "version, master_key_id, encode(wrapped_key, 'hex'), encode(wrap_nonce, 'hex'), "
    "encode(ciphertext, 'hex'), encode(nonce, 'hex')";

// Demotes the current version of `name` (if any) to previous, usable for `grace`, with its audit row.
mapping::Status demote_current(const StateDatabase::Executor& execute, const std::string& schema,
                               const std::string& name, std::chrono::seconds grace,
                               const std::string& operator_name) {
  auto demoted = execute("UPDATE " + schema + ".secret_versions SET stage = 'previous', stage_changed_at = now(), "
                         "usable_until = now() + make_interval(secs => $2::int) WHERE name = $1 AND stage = 'current' "
                         "RETURNING version",
                         {name, std::to_string(grace.count())});
  if (!demoted) return demoted.error();
  for (const auto& row : demoted.value()) {
    auto audited = execute("INSERT INTO " + schema + ".secret_audit (operator, action, name, version, from_stage, to_stage) "
                           "VALUES ($1, 'demote', $2, $3::int, 'current', 'previous')",
                           {operator_name, name, row[0]});
    if (!audited) return audited.error();
  }
  return mapping::ok_status();
}

}  // namespace

std::string_view to_string(SecretStage stage) {
  switch (stage) {
    case SecretStage::pending: return "pending";
    case SecretStage::current: return "current";
    case SecretStage::previous: return "previous";
    case SecretStage::destroyed: return "destroyed";
  }
  return "destroyed";
}

bool SecretStore::is_valid_name(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '.' || c == '_' || c == '-'));
    if (!ok) return false;
  }
  return true;
}

SecretStore::SecretStore(StateDatabase& database, const MasterKey& master, std::chrono::seconds previous_grace)
    : database_(database), master_(master), previous_grace_(previous_grace) {}

mapping::Result<int> SecretStore::put(const std::string& name, const mapping::SecretString& value,
                                      SecretStage stage, const std::string& operator_name) {
  if (!is_valid_name(name)) {
    return invalid(fmt::format("secret name \"{}\": use 1-128 of a-z 0-9 . _ - starting with a letter or digit", name));
  }
  if (value.empty()) return invalid(fmt::format("secret {}: empty value", name));
  if (stage != SecretStage::current && stage != SecretStage::pending) {
    return invalid("a new secret version is put as current or pending");
  }
  const std::string& schema = database_.schema();
  int version = 0;
  auto done = database_.in_transaction([&](const StateDatabase::Executor& execute) -> mapping::Status {
    // Serialise writers of one secret (the version number and the one-current rule).
    if (auto locked = execute("SELECT pg_advisory_xact_lock(hashtext('crmsync.secret.' || $1))", {name}); !locked) {
      return locked.error();
    }
    auto next = execute("SELECT coalesce(max(version), 0) + 1 FROM " + schema + ".secret_versions WHERE name = $1", {name});
    if (!next) return next.error();
    version = std::stoi(*next.value()[0][0]);
    if (stage == SecretStage::pending) {
      auto existing = execute("SELECT version FROM " + schema + ".secret_versions WHERE name = $1 AND stage = 'pending'", {name});
      if (!existing) return existing.error();
      if (!existing.value().empty()) {
        return invalid(fmt::format("secret {} already has a pending version {}; promote or discard it first",
                                   name, *existing.value()[0][0]));
      }
    } else if (auto demoted = demote_current(execute, schema, name, previous_grace_, operator_name); !demoted) {
      return demoted;
    }
    SealedSecret sealed = seal_secret(master_, name, version, value.reveal());
    auto inserted = execute("INSERT INTO " + schema + ".secret_versions (name, version, stage, master_key_id, wrapped_key, "
                            "wrap_nonce, ciphertext, nonce, created_by) VALUES ($1, $2::int, $3, $4, $5::bytea, $6::bytea, "
                            "$7::bytea, $8::bytea, $9)",
                            {name, std::to_string(version), std::string(to_string(stage)), sealed.master_key_id,
                             to_hex(sealed.wrapped_key), to_hex(sealed.wrap_nonce), to_hex(sealed.ciphertext),
                             to_hex(sealed.nonce), operator_name});
    if (!inserted) return inserted.error();
    auto audited = execute("INSERT INTO " + schema + ".secret_audit (operator, action, name, version, to_stage) "
                           "VALUES ($1, 'put', $2, $3::int, $4)",
                           {operator_name, name, std::to_string(version), std::string(to_string(stage))});
    if (!audited) return audited.error();
    return mapping::ok_status();
  });
  if (!done) return done.error();
  return version;
}

mapping::Result<mapping::SecretString> SecretStore::open_row(const std::string& name, int version,
                                                             const std::vector<std::optional<std::string>>& row) {
  SealedSecret sealed;
  sealed.master_key_id = row[1].value_or("");
  sealed.wrapped_key = from_hex(row[2].value_or(""));
  sealed.wrap_nonce = from_hex(row[3].value_or(""));
  sealed.ciphertext = from_hex(row[4].value_or(""));
  sealed.nonce = from_hex(row[5].value_or(""));
  return open_secret(master_, name, version, sealed);
}

mapping::Result<std::pair<int, mapping::SecretString>> SecretStore::current_with_version(const std::string& name) {
  auto rows = database_.execute(std::string("SELECT ") + kSealedColumns + " FROM " + database_.schema() +
                                    ".secret_versions WHERE name = $1 AND stage = 'current'",
                                {name});
  if (!rows) return rows.error();
  if (rows.value().empty()) {
    return invalid(fmt::format("secret {} has no current version; add one with `crmsync secrets put {}`", name, name));
  }
  int version = std::stoi(*rows.value()[0][0]);
  auto value = open_row(name, version, rows.value()[0]);
  if (!value) return value.error();
  return std::make_pair(version, std::move(value).value());
}

mapping::Result<mapping::SecretString> SecretStore::current(const std::string& name) {
  auto found = current_with_version(name);
  if (!found) return found.error();
  return std::move(found.value().second);
}

mapping::Result<std::optional<std::pair<int, mapping::SecretString>>> SecretStore::pending(const std::string& name) {
  auto rows = database_.execute(std::string("SELECT ") + kSealedColumns + " FROM " + database_.schema() +
                                    ".secret_versions WHERE name = $1 AND stage = 'pending'",
                                {name});
  if (!rows) return rows.error();
  if (rows.value().empty()) return std::optional<std::pair<int, mapping::SecretString>>();
  int version = std::stoi(*rows.value()[0][0]);
  auto value = open_row(name, version, rows.value()[0]);
  if (!value) return value.error();
  return std::optional<std::pair<int, mapping::SecretString>>(std::make_pair(version, std::move(value).value()));
}

mapping::Result<std::vector<mapping::SecretString>> SecretStore::previous_usable(const std::string& name) {
  auto rows = database_.execute(std::string("SELECT ") + kSealedColumns + " FROM " + database_.schema() +
                                    ".secret_versions WHERE name = $1 AND stage = 'previous' AND usable_until > now() "
                                    "ORDER BY version DESC",
                                {name});
  if (!rows) return rows.error();
  std::vector<mapping::SecretString> values;
  for (const auto& row : rows.value()) {
    auto value = open_row(name, std::stoi(*row[0]), row);
    if (!value) return value.error();
    values.push_back(std::move(value).value());
  }
  return values;
}

mapping::Status SecretStore::promote(const std::string& name, const std::string& operator_name) {
  const std::string& schema = database_.schema();
  return database_.in_transaction([&](const StateDatabase::Executor& execute) -> mapping::Status {
    if (auto locked = execute("SELECT pg_advisory_xact_lock(hashtext('crmsync.secret.' || $1))", {name}); !locked) {
      return locked.error();
    }
    auto pending = execute("SELECT version FROM " + schema + ".secret_versions WHERE name = $1 AND stage = 'pending'", {name});
    if (!pending) return pending.error();
    if (pending.value().empty()) return invalid(fmt::format("secret {} has no pending version to promote", name));
    std::string version = *pending.value()[0][0];
    if (auto demoted = demote_current(execute, schema, name, previous_grace_, operator_name); !demoted) {
      return demoted;
    }
    auto promoted = execute("UPDATE " + schema + ".secret_versions SET stage = 'current', stage_changed_at = now() "
                            "WHERE name = $1 AND version = $2::int",
                            {name, version});
    if (!promoted) return promoted.error();
    auto audited = execute("INSERT INTO " + schema + ".secret_audit (operator, action, name, version, from_stage, to_stage) "
                           "VALUES ($1, 'promote', $2, $3::int, 'pending', 'current')",
                           {operator_name, name, version});
    if (!audited) return audited.error();
    return mapping::ok_status();
  });
}

mapping::Status SecretStore::discard_pending(const std::string& name, const std::string& operator_name,
                                             const std::string& reason) {
  const std::string& schema = database_.schema();
  return database_.in_transaction([&](const StateDatabase::Executor& execute) -> mapping::Status {
    auto discarded = execute("UPDATE " + schema + ".secret_versions SET stage = 'destroyed', stage_changed_at = now(), "
                             "master_key_id = NULL, wrapped_key = NULL, wrap_nonce = NULL, ciphertext = NULL, nonce = NULL "
                             "WHERE name = $1 AND stage = 'pending' RETURNING version",
                             {name});
    if (!discarded) return discarded.error();
    if (discarded.value().empty()) return invalid(fmt::format("secret {} has no pending version", name));
    auto audited = execute("INSERT INTO " + schema + ".secret_audit (operator, action, name, version, from_stage, to_stage, detail) "
                           "VALUES ($1, 'discard', $2, $3::int, 'pending', 'destroyed', $4)",
                           {operator_name, name, discarded.value()[0][0], reason});
    if (!audited) return audited.error();
    return mapping::ok_status();
  });
}

mapping::Status SecretStore::destroy(const std::string& name, int version, const std::string& operator_name) {
  const std::string& schema = database_.schema();
  return database_.in_transaction([&](const StateDatabase::Executor& execute) -> mapping::Status {
    auto stage = execute("SELECT stage FROM " + schema + ".secret_versions WHERE name = $1 AND version = $2::int FOR UPDATE",
                         {name, std::to_string(version)});
    if (!stage) return stage.error();
    if (stage.value().empty()) return invalid(fmt::format("secret {} has no version {}", name, version));
    std::string from = *stage.value()[0][0];
    if (from == "current") {
      return invalid(fmt::format("secret {} v{} is current; rotate to a new version before destroying it", name, version));
    }
    if (from == "destroyed") return mapping::ok_status();
    auto destroyed = execute("UPDATE " + schema + ".secret_versions SET stage = 'destroyed', stage_changed_at = now(), "
                             "master_key_id = NULL, wrapped_key = NULL, wrap_nonce = NULL, ciphertext = NULL, nonce = NULL "
                             "WHERE name = $1 AND version = $2::int",
                             {name, std::to_string(version)});
    if (!destroyed) return destroyed.error();
    auto audited = execute("INSERT INTO " + schema + ".secret_audit (operator, action, name, version, from_stage, to_stage) "
                           "VALUES ($1, 'destroy', $2, $3::int, $4, 'destroyed')",
                           {operator_name, name, std::to_string(version), from});
    if (!audited) return audited.error();
    return mapping::ok_status();
  });
}

mapping::Result<int> SecretStore::destroy_expired(const std::string& operator_name) {
  const std::string& schema = database_.schema();
  int count = 0;
  auto done = database_.in_transaction([&](const StateDatabase::Executor& execute) -> mapping::Status {
    auto expired = execute("UPDATE " + schema + ".secret_versions SET stage = 'destroyed', stage_changed_at = now(), "
                           "master_key_id = NULL, wrapped_key = NULL, wrap_nonce = NULL, ciphertext = NULL, nonce = NULL "
                           "WHERE stage = 'previous' AND usable_until <= now() RETURNING name, version",
                           {});
    if (!expired) return expired.error();
    for (const auto& row : expired.value()) {
      if (auto audited = execute("INSERT INTO " + schema + ".secret_audit (operator, action, name, version, from_stage, to_stage, detail) "
                                 "VALUES ($1, 'destroy', $2, $3::int, 'previous', 'destroyed', 'grace window ended')",
                                 {operator_name, row[0], row[1]});
          !audited) {
        return audited.error();
      }
      ++count;
    }
    return mapping::ok_status();
  });
  if (!done) return done.error();
  return count;
}

mapping::Result<std::vector<SecretVersionInfo>> SecretStore::list() {
  auto rows = database_.execute(
      "SELECT name, version, stage, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), created_by, "
      "to_char(stage_changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
      "to_char(usable_until AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
      "extract(epoch FROM now() - created_at)::float8, coalesce(master_key_id, '') FROM " +
      database_.schema() + ".secret_versions ORDER BY name, version");
  if (!rows) return rows.error();
  std::vector<SecretVersionInfo> out;
  for (const auto& row : rows.value()) {
    SecretVersionInfo info;
    info.name = *row[0];
    info.version = std::stoi(*row[1]);
    std::string stage = *row[2];
    info.stage = stage == "pending" ? SecretStage::pending
                 : stage == "current" ? SecretStage::current
                 : stage == "previous" ? SecretStage::previous
                                       : SecretStage::destroyed;
    info.created_at = *row[3];
    info.created_by = *row[4];
    info.stage_changed_at = *row[5];
    info.usable_until = row[6];
    info.age_seconds = std::stod(*row[7]);
    info.master_key_id = *row[8];
    out.push_back(std::move(info));
  }
  return out;
}

mapping::Result<std::map<std::string, int>> SecretStore::current_versions() {
  auto rows = database_.execute("SELECT name, version FROM " + database_.schema() +
                                ".secret_versions WHERE stage = 'current'");
  if (!rows) return rows.error();
  std::map<std::string, int> out;
  for (const auto& row : rows.value()) out[*row[0]] = std::stoi(*row[1]);
  return out;
}

mapping::Result<int> SecretStore::rotate_master(const MasterKey& next, const std::string& operator_name) {
  const std::string& schema = database_.schema();
  int count = 0;
  auto done = database_.in_transaction([&](const StateDatabase::Executor& execute) -> mapping::Status {
    auto rows = execute(std::string("SELECT name, ") + kSealedColumns + " FROM " + schema +
                            ".secret_versions WHERE stage <> 'destroyed' ORDER BY name, version FOR UPDATE",
                        {});
    if (!rows) return rows.error();
    for (const auto& row : rows.value()) {
      std::string name = *row[0];
      int version = std::stoi(*row[1]);
      SealedSecret sealed;
      sealed.master_key_id = row[2].value_or("");
      sealed.wrapped_key = from_hex(row[3].value_or(""));
      sealed.wrap_nonce = from_hex(row[4].value_or(""));
      sealed.ciphertext = from_hex(row[5].value_or(""));
      sealed.nonce = from_hex(row[6].value_or(""));
      if (sealed.master_key_id == next.id()) continue;  // already under the new key (a resumed rotation)
      auto rewrapped = rewrap_secret(master_, next, name, version, sealed);
      if (!rewrapped) return rewrapped.error();
      auto updated = execute("UPDATE " + schema + ".secret_versions SET master_key_id = $3, wrapped_key = $4::bytea, "
                             "wrap_nonce = $5::bytea WHERE name = $1 AND version = $2::int",
                             {name, std::to_string(version), rewrapped.value().master_key_id,
                              to_hex(rewrapped.value().wrapped_key), to_hex(rewrapped.value().wrap_nonce)});
      if (!updated) return updated.error();
      ++count;
    }
    auto audited = execute("INSERT INTO " + schema + ".secret_audit (operator, action, name, detail) "
                           "VALUES ($1, 'rotate-master', '*', $2)",
                           {operator_name, fmt::format("{} version(s) re-wrapped from master key {} to {}", count,
                                                       master_.id(), next.id())});
    if (!audited) return audited.error();
    return mapping::ok_status();
  });
  if (!done) return done.error();
  return count;
}

}  // namespace crmsync::state
