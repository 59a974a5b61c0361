#include "state/secret_store.h"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "state/journal.h"
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

// One stage change of one secret version, as the audit table and the journal record it: never
// the value.
struct SecretStageChange {
  std::string action;  // put | promote | demote | discard | destroy | rotate-master
  std::string name;
  std::optional<int> version;
  std::string from_stage;  // "" when none
  std::string to_stage;
  std::string detail;  // a reason, or "" (never a value)
};

// Journal actor and source for an operator name: the daemon records itself as "daemon:<instance>",
// every other name is a person ("operator:<name>").
std::pair<std::string, std::string> journal_actor(const std::string& operator_name) {
  if (operator_name.rfind("daemon:", 0) == 0) return {operator_name, "daemon"};
  return {"operator:" + operator_name, "operator"};
}

std::string change_detail(const SecretStageChange& change) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("action");
  writer.String(change.action.c_str());
  writer.Key("secret");
  writer.String(change.name.c_str());
  if (change.version) {
    writer.Key("version");
    writer.Int(*change.version);
  }
  if (!change.from_stage.empty()) {
    writer.Key("from_stage");
    writer.String(change.from_stage.c_str());
  }
  if (!change.to_stage.empty()) {
    writer.Key("to_stage");
    writer.String(change.to_stage.c_str());
  }
  if (!change.detail.empty()) {
    writer.Key("reason");
    writer.String(change.detail.c_str(), static_cast<rapidjson::SizeType>(change.detail.size()));
  }
  writer.EndObject();
  return buffer.GetString();
}

// Writes the audit rows of `changes` and, when a journal key is set, their journal entries, in
// the caller's transaction: a stage change and its record commit together or not at all.
mapping::Status record_changes(const StateDatabase::Executor& execute, const std::string& schema,
                               const std::string& operator_name,
                               const std::optional<mapping::SecretString>& journal_key,
                               const std::vector<SecretStageChange>& changes) {
  std::vector<JournalEntry> entries;
  auto [actor, source] = journal_actor(operator_name);
  for (const auto& change : changes) {
    auto audited = execute("INSERT INTO " + schema + ".secret_audit (operator, action, name, version, from_stage, "
                           "to_stage, detail) VALUES ($1, $2, $3, NULLIF($4, '')::int, NULLIF($5, ''), NULLIF($6, ''), "
                           "NULLIF($7, ''))",
                           {operator_name, change.action, change.name,
                            change.version ? std::to_string(*change.version) : std::string(), change.from_stage,
                            change.to_stage, change.detail});
    if (!audited) return audited.error();
    if (journal_key) {
      JournalEntry entry;
      entry.kind = "secret";
      entry.actor = actor;
      entry.source = source;
      entry.detail_json = change_detail(change);
      entries.push_back(std::move(entry));
    }
  }
  if (!journal_key || entries.empty()) return mapping::ok_status();
  return append_journal(execute, schema, *journal_key, entries);
}

// Demotes the current version of `name` (if any) to previous, usable for `grace`; the change is
// added to `changes`.
mapping::Status demote_current(const StateDatabase::Executor& execute, const std::string& schema,
                               const std::string& name, std::chrono::seconds grace,
                               std::vector<SecretStageChange>& changes) {
  auto demoted = execute("UPDATE " + schema + ".secret_versions SET stage = 'previous', stage_changed_at = now(), "
                         "usable_until = now() + make_interval(secs => $2::int) WHERE name = $1 AND stage = 'current' "
                         "RETURNING version",
                         {name, std::to_string(grace.count())});
  if (!demoted) return demoted.error();
  for (const auto& row : demoted.value()) {
    changes.push_back({"demote", name, std::stoi(*row[0]), "current", "previous", ""});
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

void SecretStore::journal_with(mapping::SecretString key) { journal_key_ = std::move(key); }

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
    }
    std::vector<SecretStageChange> changes;
    if (stage == SecretStage::current) {
      if (auto demoted = demote_current(execute, schema, name, previous_grace_, changes); !demoted) return demoted;
    }
    SealedSecret sealed = seal_secret(master_, name, version, value.reveal());
    auto inserted = execute("INSERT INTO " + schema + ".secret_versions (name, version, stage, master_key_id, wrapped_key, "
                            "wrap_nonce, ciphertext, nonce, created_by) VALUES ($1, $2::int, $3, $4, $5::bytea, $6::bytea, "
                            "$7::bytea, $8::bytea, $9)",
                            {name, std::to_string(version), std::string(to_string(stage)), sealed.master_key_id,
                             to_hex(sealed.wrapped_key), to_hex(sealed.wrap_nonce), to_hex(sealed.ciphertext),
                             to_hex(sealed.nonce), operator_name});
    if (!inserted) return inserted.error();
    changes.push_back({"put", name, version, "", std::string(to_string(stage)), ""});
    return record_changes(execute, schema, operator_name, journal_key_, changes);
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
    std::vector<SecretStageChange> changes;
    if (auto demoted = demote_current(execute, schema, name, previous_grace_, changes); !demoted) return demoted;
    changes.push_back({"promote", name, std::stoi(version), "pending", "current", ""});
    auto promoted = execute("UPDATE " + schema + ".secret_versions SET stage = 'current', stage_changed_at = now() "
                            "WHERE name = $1 AND version = $2::int",
                            {name, version});
    if (!promoted) return promoted.error();
    return record_changes(execute, schema, operator_name, journal_key_, changes);
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
    return record_changes(execute, schema, operator_name, journal_key_,
                          {{"discard", name, std::stoi(*discarded.value()[0][0]), "pending", "destroyed", reason}});
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
    return record_changes(execute, schema, operator_name, journal_key_, {{"destroy", name, version, from, "destroyed", ""}});
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
    std::vector<SecretStageChange> changes;
    for (const auto& row : expired.value()) {
      changes.push_back({"destroy", *row[0], std::stoi(*row[1]), "previous", "destroyed", "grace window ended"});
      ++count;
    }
    return record_changes(execute, schema, operator_name, journal_key_, changes);
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

std::vector<SecretAge> secret_ages(const std::vector<SecretVersionInfo>& versions, const SecretAgePolicy& policy) {
  std::vector<SecretAge> out;
  for (const auto& version : versions) {
    if (version.stage != SecretStage::current) continue;
    SecretAge age;
    age.name = version.name;
    age.version = version.version;
    age.age = std::chrono::seconds(static_cast<long long>(std::max(0.0, version.age_seconds)));
    auto override_for = policy.overrides.find(version.name);
    age.max_age = override_for != policy.overrides.end() ? override_for->second : policy.max_age;
    age.rotation_due = age.age > age.max_age;
    out.push_back(std::move(age));
  }
  return out;
}

mapping::Result<std::vector<SecretAge>> SecretStore::ages(const SecretAgePolicy& policy) {
  auto versions = list();
  if (!versions) return versions.error();
  return secret_ages(versions.value(), policy);
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
    return record_changes(execute, schema, operator_name, journal_key_,
                          {{"rotate-master", "*", std::nullopt, "", "",
                            fmt::format("{} version(s) re-wrapped from master key {} to {}", count, master_.id(),
                                        next.id())}});
  });
  if (!done) return done.error();
  return count;
}

}  // namespace crmsync::state
