#include "connectors/prm/prm_table_binding.h"

namespace crmsync::connectors::prm {

const RecordTableBinding* PrmBindings::record_table(const std::string& schema,
                                                    const std::string& table) const {
  for (const auto& binding : records) {
    if (binding.schema == schema && binding.table == table) return &binding;
  }
  return nullptr;
}

bool PrmBindings::is_share_table(const std::string& schema, const std::string& table) const {
  return shares.schema == schema && shares.table == table;
}

bool PrmBindings::is_ignored(const std::string& schema, const std::string& table) const {
  return ignored_tables.contains(schema + "." + table);
}

PrmBindings reference_schema_bindings() {
  const std::set<std::string> bookkeeping = {"id",
                                             "owner_partner_org_id",
                                             "owner_partner_user_id",
                                             "modified_by_kind",
                                             "modified_by_id",
                                             "created_at",
                                             "updated_at",
                                             "row_version"};
  PrmBindings bindings;
  bindings.records.push_back({"prm", "accounts", mapping::ObjectKind::account, "id",
                              "owner_partner_org_id", "owner_partner_user_id", "modified_by_kind",
                              "modified_by_id", bookkeeping});
  bindings.records.push_back({"prm", "deals", mapping::ObjectKind::deal, "id",
                              "owner_partner_org_id", "owner_partner_user_id", "modified_by_kind",
                              "modified_by_id", bookkeeping});
  bindings.shares = {"prm", "shares", "object_type", "record_id", "principal_type", "principal_id",
                     "access"};
  bindings.directory = {.schema = "prm",
                        .orgs_table = "partner_orgs",
                        .org_id_column = "id",
                        .org_name_column = "name",
                        .org_tier_column = "tier",
                        .org_active_column = "active",
                        .users_table = "partner_users",
                        .user_id_column = "id",
                        .user_org_column = "partner_org_id",
                        .user_email_column = "email",
                        .user_active_column = "active"};
  bindings.ignored_tables = {"prm.partner_orgs", "prm.partner_users", "prm.account_internal",
                             "prm.deal_internal"};
  return bindings;
}

}  // namespace crmsync::connectors::prm
