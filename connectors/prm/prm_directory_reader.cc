#include "connectors/prm/prm_directory_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <optional>

#include "connectors/prm/prm_event_builder.h"
#include "connectors/prm/prm_query_session.h"

namespace crmsync::connectors::prm {

namespace {

using mapping::ErrorClass;
using mapping::SyncError;

constexpr std::size_t kBatchRows = 1000;
constexpr std::uint32_t kBoolTypeOid = 16;  // pg_type.oid of boolean

// The bound columns of one directory row, read by name from a SELECT * row. Every failure is
// `invalid`: the binding does not fit the table, and no retry changes that.
class DirectoryRow {
 public:
  DirectoryRow(const SnapshotRow& row, std::string table) : row_(row), table_(std::move(table)) {}

  // A column that must hold a value (an id).
  mapping::Result<std::string> required(const std::string& column) const {
    auto index = find(column);
    if (!index) return index.error();
    const auto& value = row_.values[index.value()];
    if (!value) {
      return SyncError{ErrorClass::invalid,
                       fmt::format("PRM partner directory: a row of {} has a null {}; bind a "
                                   "non-null key column as the id",
                                   table_, column)};
    }
    return *value;
  }

  // A text column; null reads as empty (matches no tier, no email).
  mapping::Result<std::string> text(const std::string& column) const {
    auto index = find(column);
    if (!index) return index.error();
    return row_.values[index.value()].value_or("");
  }

  // A boolean column; null reads as false (deny by default).
  mapping::Result<bool> flag(const std::string& column) const {
    auto index = find(column);
    if (!index) return index.error();
    if (row_.type_oids[index.value()] != kBoolTypeOid) {
      return SyncError{ErrorClass::invalid,
                       fmt::format("PRM partner directory: column {} of {} is not boolean (type "
                                   "oid {}); bind a boolean active flag",
                                   column, table_, row_.type_oids[index.value()])};
    }
    const auto& value = row_.values[index.value()];
    return value.has_value() && *value == "t";
  }

 private:
  mapping::Result<std::size_t> find(const std::string& column) const {
    auto it = std::find(row_.columns.begin(), row_.columns.end(), column);
    if (it == row_.columns.end()) {
      return SyncError{ErrorClass::invalid,
                       fmt::format("PRM partner directory: {} has no column \"{}\"; check the "
                                   "directory binding (PrmBindings::directory)",
                                   table_, column)};
    }
    return static_cast<std::size_t>(it - row_.columns.begin());
  }

  const SnapshotRow& row_;
  std::string table_;
};

mapping::Result<PartnerOrgInfo> org_from(const SnapshotRow& row,
                                         const PartnerDirectoryBinding& binding) {
  DirectoryRow columns(row, binding.schema + "." + binding.orgs_table);
  auto id = columns.required(binding.org_id_column);
  if (!id) return id.error();
  auto name = columns.text(binding.org_name_column);
  if (!name) return name.error();
  auto tier = columns.text(binding.org_tier_column);
  if (!tier) return tier.error();
  auto active = columns.flag(binding.org_active_column);
  if (!active) return active.error();
  return PartnerOrgInfo{std::move(id).value(), std::move(name).value(), std::move(tier).value(),
                        active.value()};
}

mapping::Result<PartnerUserInfo> user_from(const SnapshotRow& row,
                                           const PartnerDirectoryBinding& binding) {
  DirectoryRow columns(row, binding.schema + "." + binding.users_table);
  auto id = columns.required(binding.user_id_column);
  if (!id) return id.error();
  auto org = columns.text(binding.user_org_column);
  if (!org) return org.error();
  auto email = columns.text(binding.user_email_column);
  if (!email) return email.error();
  auto active = columns.flag(binding.user_active_column);
  if (!active) return active.error();
  return PartnerUserInfo{std::move(id).value(), std::move(org).value(), std::move(email).value(),
                         active.value()};
}

// Both tables, inside the transaction read_partner_directory opened.
mapping::Result<PartnerDirectory> read_tables(PrmQuerySession& session,
                                              const PartnerDirectoryBinding& binding) {
  PartnerDirectory directory;
  auto orgs = session.read_table(binding.schema, binding.orgs_table, kBatchRows,
                                 [&](const SnapshotRow& row) -> mapping::Status {
                                   auto org = org_from(row, binding);
                                   if (!org) return org.error();
                                   directory.orgs.push_back(std::move(org).value());
                                   return mapping::ok_status();
                                 });
  if (!orgs) return orgs.error();
  auto users = session.read_table(binding.schema, binding.users_table, kBatchRows,
                                  [&](const SnapshotRow& row) -> mapping::Status {
                                    auto user = user_from(row, binding);
                                    if (!user) return user.error();
                                    directory.users.push_back(std::move(user).value());
                                    return mapping::ok_status();
                                  });
  if (!users) return users.error();
  return directory;
}

}  // namespace

mapping::Result<PartnerDirectory> read_partner_directory(PrmQuerySession& session,
                                                         const PartnerDirectoryBinding& binding) {
  if (auto begun = session.begin_snapshot(""); !begun) return begun.error();
  auto directory = read_tables(session, binding);
  // Always ends the transaction: COMMIT of a transaction a failed read aborted rolls it back, so
  // the session stays usable. When the read failed, its error is the one to act on; a failed end
  // then (most likely the same lost connection) adds nothing to it.
  auto ended = session.end_snapshot();
  if (!directory) return directory.error();
  if (!ended) return ended.error();
  auto& value = directory.value();
  std::sort(value.orgs.begin(), value.orgs.end(),
            [](const PartnerOrgInfo& a, const PartnerOrgInfo& b) { return a.id < b.id; });
  std::sort(value.users.begin(), value.users.end(),
            [](const PartnerUserInfo& a, const PartnerUserInfo& b) { return a.id < b.id; });
  return std::move(directory).value();
}

}  // namespace crmsync::connectors::prm
