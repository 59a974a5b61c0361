#include "connectors/prm/prm_applier.h"

#include <fmt/format.h>

#include "connectors/prm/transaction_assembler.h"
#include "connectors/prm/libpq_session.h"

namespace crmsync::connectors::prm {

namespace {

using mapping::ErrorClass;
using mapping::SyncError;

std::string value_text(const mapping::FieldValue& value) { return value.text; }

}  // namespace

struct PrmApplier::Impl {
  ~Impl() {
    if (connection != nullptr) PQfinish(connection);
  }
  PGconn* connection = nullptr;
  PrmBindings bindings;

  std::string quote(const std::string& identifier) const {
    char* quoted = PQescapeIdentifier(connection, identifier.c_str(), identifier.size());
    std::string out = quoted != nullptr ? quoted : "\"\"";
    PQfreemem(quoted);
    return out;
  }

  // Runs one statement with text parameters (NULL for nullopt; the server infers their types) and
  // returns how many rows it affected.
  mapping::Result<long> run_counting(const std::string& sql,
                                     const std::vector<std::optional<std::string>>& params,
                                     const std::string& what) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& param : params) values.push_back(param ? param->c_str() : nullptr);
    PgResult result(PQexecParams(connection, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                 values.data(), nullptr, nullptr, 0));
    if (!result.ok()) return libpq_error(connection, result.get(), what);
    return std::atol(PQcmdTuples(result.get()));
  }
  mapping::Status run(const std::string& sql, const std::vector<std::optional<std::string>>& params,
                      const std::string& what) {
    auto done = run_counting(sql, params, what);
    if (!done) return done.error();
    return mapping::ok_status();
  }


  const RecordTableBinding* binding_for(mapping::ObjectKind object) const {
    for (const auto& binding : bindings.records) {
      if (binding.object == object) return &binding;
    }
    return nullptr;
  }

  mapping::Status upsert(const PrmUpsert& write) {
    const RecordTableBinding* binding = binding_for(write.object);
    if (binding == nullptr) {
      return SyncError{ErrorClass::fatal, fmt::format("no PRM table bound for {}", mapping::to_string(write.object))};
    }
    std::string table = quote(binding->schema) + "." + quote(binding->table);
    std::string what = fmt::format("apply {} {} to {}.{}", mapping::to_string(write.object), write.prm_id,
                                   binding->schema, binding->table);
    std::vector<std::string> columns = {binding->id_column};
    std::vector<std::optional<std::string>> params = {write.prm_id};
    for (const auto& field : write.fields) {
      if (binding->bookkeeping_columns.contains(field.name)) {
        return SyncError{ErrorClass::invalid, fmt::format("{}: {} is not a writable field", what, field.name)};
      }
      columns.push_back(field.name);
      params.push_back(field.value.kind == mapping::FieldValue::Kind::null
                           ? std::nullopt
                           : std::optional<std::string>(value_text(field.value)));
    }
    if (write.owner_partner_org) {
      columns.push_back(binding->owner_org_column);
      params.push_back(*write.owner_partner_org);
    }
    if (write.owner_user) {
      columns.push_back(binding->owner_user_column);
      params.push_back(*write.owner_user);
    }
    columns.push_back(binding->actor_kind_column);
    params.emplace_back(std::string(mapping::to_string(write.actor.kind)));
    columns.push_back(binding->actor_id_column);
    params.push_back(write.actor.id.empty() ? std::optional<std::string>("crmsync")
                                            : std::optional<std::string>(write.actor.id));

    // UPDATE first, so that a partial write (only some fields) never meets the NOT NULL columns
    // it does not name; INSERT when the record is new.
    std::string assignments;
    for (std::size_t i = 1; i < columns.size(); ++i) {
      assignments += fmt::format("{}{} = ${}", i == 1 ? "" : ", ", quote(columns[i]), i + 1);
    }
    auto updated = run_counting(fmt::format("UPDATE {} SET {} WHERE {} = $1", table, assignments,
                                            quote(binding->id_column)),
                                params, what);
    if (!updated) return updated.error();
    if (updated.value() == 0) {
      std::string column_list;
      std::string placeholders;
      for (std::size_t i = 0; i < columns.size(); ++i) {
        column_list += (i == 0 ? "" : ", ") + quote(columns[i]);
        placeholders += fmt::format("{}${}", i == 0 ? "" : ", ", i + 1);
      }
      if (auto inserted = run(fmt::format("INSERT INTO {} ({}) VALUES ({})", table, column_list, placeholders),
                              params, what);
          !inserted) {
        return inserted;
      }
    }
    if (write.grants) return replace_shares(write.object, write.prm_id, *write.grants, what);
    return mapping::ok_status();
  }

  mapping::Status replace_shares(mapping::ObjectKind object, const std::string& prm_id,
                                 const std::vector<mapping::ShareGrant>& grants, const std::string& what) {
    const ShareTableBinding& share = bindings.shares;
    std::string table = quote(share.schema) + "." + quote(share.table);
    std::string object_text(mapping::to_string(object));
    if (auto cleared = run(fmt::format("DELETE FROM {} WHERE {} = $1 AND {} = $2", table,
                                       quote(share.object_type_column), quote(share.record_id_column)),
                           {object_text, prm_id}, what + " (clear shares)");
        !cleared) {
      return cleared;
    }
    for (const auto& grant : grants) {
      std::size_t colon = grant.principal.find(':');
      if (colon == std::string::npos) {
        return SyncError{ErrorClass::invalid, fmt::format("{}: principal \"{}\" is not type:id", what, grant.principal)};
      }
      std::string sql = fmt::format("INSERT INTO {} ({}, {}, {}, {}, {}) VALUES ($1, $2, $3, $4, $5)", table,
                                    quote(share.object_type_column), quote(share.record_id_column),
                                    quote(share.principal_type_column), quote(share.principal_id_column),
                                    quote(share.access_column));
      if (auto inserted = run(sql, {object_text, prm_id, grant.principal.substr(0, colon),
                                    grant.principal.substr(colon + 1), std::string(mapping::to_string(grant.access))},
                              what + " (share)");
          !inserted) {
        return inserted;
      }
    }
    return mapping::ok_status();
  }

  mapping::Status remove(const PrmDelete& write) {
    const RecordTableBinding* binding = binding_for(write.object);
    if (binding == nullptr) return SyncError{ErrorClass::fatal, "no PRM table bound"};
    return run(fmt::format("DELETE FROM {}.{} WHERE {} = $1", quote(binding->schema), quote(binding->table),
                           quote(binding->id_column)),
               {write.prm_id},
               fmt::format("delete {} {} from {}.{}", mapping::to_string(write.object), write.prm_id,
                           binding->schema, binding->table));
  }
};

PrmApplier::PrmApplier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PrmApplier::~PrmApplier() = default;

mapping::Result<std::unique_ptr<PrmApplier>> PrmApplier::connect(const PrmConnectionSettings& settings,
                                                                  PrmBindings bindings) {
  auto opened = open_prm_session(settings, false, "apply");
  if (!opened) return opened.error();
  auto impl = std::make_unique<Impl>();
  impl->bindings = std::move(bindings);
  impl->connection = opened.value();
  return std::unique_ptr<PrmApplier>(new PrmApplier(std::move(impl)));
}

mapping::Status PrmApplier::apply(const std::vector<PrmWrite>& writes, const std::string& origin) {
  if (auto begun = impl_->run("BEGIN", {}, "begin PRM apply"); !begun) return begun;
  // The marker must be the transaction's first change (TransactionAssembler checks that).
  auto outcome = impl_->run("SELECT pg_logical_emit_message(true, $1, $2)",
                            {std::string(TransactionAssembler::kOriginPrefix), origin}, "mark PRM apply");
  for (std::size_t i = 0; outcome.ok() && i < writes.size(); ++i) {
    outcome = std::visit(
        [this](const auto& write) -> mapping::Status {
          if constexpr (std::is_same_v<std::decay_t<decltype(write)>, PrmUpsert>) {
            return impl_->upsert(write);
          } else {
            return impl_->remove(write);
          }
        },
        writes[i]);
  }
  if (outcome.ok()) outcome = impl_->run("COMMIT", {}, "commit PRM apply");
  if (!outcome.ok()) {
    // A failed COMMIT has already ended the transaction; otherwise roll it back.
    if (PQtransactionStatus(impl_->connection) != PQTRANS_IDLE) {
      PgResult rollback(PQexec(impl_->connection, "ROLLBACK"));
    }
    return outcome;
  }
  return mapping::ok_status();
}

}  // namespace crmsync::connectors::prm
