#include "connectors/prm/transaction_assembler.h"

#include <fmt/format.h>

namespace crmsync::connectors::prm {

namespace {

mapping::SyncError protocol_error(std::string message) {
  return {mapping::ErrorClass::fatal, "replication stream out of order: " + std::move(message)};
}

}  // namespace

const RelationMessage* TransactionAssembler::relation(std::uint32_t relation_id) const {
  auto it = relations_.find(relation_id);
  return it == relations_.end() ? nullptr : it->second.get();
}

mapping::Result<std::shared_ptr<const RelationMessage>> TransactionAssembler::relation_for(
    std::uint32_t relation_id, char tag) const {
  auto it = relations_.find(relation_id);
  if (it == relations_.end()) {
    return protocol_error(fmt::format("'{}' for relation {} before its Relation message", tag,
                                      relation_id));
  }
  return it->second;
}

mapping::Result<std::optional<CommittedTransaction>> TransactionAssembler::feed(
    PgOutputMessage message) {
  using Done = std::optional<CommittedTransaction>;
  if (auto* begin = std::get_if<BeginMessage>(&message)) {
    if (current_) return protocol_error("Begin inside a transaction");
    current_.emplace();
    current_->begin = *begin;
    seen_change_in_current_ = false;
    return Done();
  }
  if (auto* relation = std::get_if<RelationMessage>(&message)) {
    relations_[relation->relation_id] = std::make_shared<const RelationMessage>(std::move(*relation));
    return Done();
  }
  if (std::holds_alternative<TypeMessage>(message) || std::holds_alternative<OriginMessage>(message)) {
    return Done();
  }
  if (auto* logical = std::get_if<LogicalMessage>(&message)) {
    // Only a transactional marker that precedes every row change marks the transaction as ours;
    // a non-transactional message is not part of any transaction.
    if (logical->transactional && current_ && !seen_change_in_current_ &&
        logical->prefix == kOriginPrefix) {
      current_->written_by_crmsync = true;
      current_->origin_marker = logical->content;
    }
    return Done();
  }
  if (!current_) return protocol_error("row change or Commit outside a transaction");
  if (auto* commit = std::get_if<CommitMessage>(&message)) {
    current_->commit = *commit;
    Done done(std::move(*current_));
    current_.reset();
    return done;
  }
  seen_change_in_current_ = true;
  RowChange change;
  if (auto* insert = std::get_if<InsertMessage>(&message)) {
    auto relation = relation_for(insert->relation_id, 'I');
    if (!relation) return relation.error();
    change.kind = RowChange::Kind::insert;
    change.relation = relation.value();
    change.new_tuple = std::move(insert->new_tuple);
  } else if (auto* update = std::get_if<UpdateMessage>(&message)) {
    auto relation = relation_for(update->relation_id, 'U');
    if (!relation) return relation.error();
    change.kind = RowChange::Kind::update;
    change.relation = relation.value();
    change.old_kind = update->old_kind;
    change.old_tuple = std::move(update->old_tuple);
    change.new_tuple = std::move(update->new_tuple);
  } else if (auto* removal = std::get_if<DeleteMessage>(&message)) {
    auto relation = relation_for(removal->relation_id, 'D');
    if (!relation) return relation.error();
    change.kind = RowChange::Kind::remove;
    change.relation = relation.value();
    change.old_kind = removal->old_kind;
    change.old_tuple = std::move(removal->old_tuple);
  } else if (auto* truncate = std::get_if<TruncateMessage>(&message)) {
    TruncatedRelations truncated;
    truncated.cascade = truncate->cascade;
    for (std::uint32_t id : truncate->relation_ids) {
      auto relation = relation_for(id, 'T');
      if (!relation) return relation.error();
      truncated.relations.push_back(relation.value());
    }
    current_->truncates.push_back(std::move(truncated));
    return Done();
  } else {
    return protocol_error("unexpected message");
  }
  for (const TupleData* tuple : {&change.new_tuple, &change.old_tuple}) {
    if (!tuple->empty() && tuple->size() != change.relation->columns.size()) {
      return protocol_error(fmt::format("tuple of {} columns for {}.{} which has {}", tuple->size(),
                                        change.relation->schema, change.relation->name,
                                        change.relation->columns.size()));
    }
  }
  current_->changes.push_back(std::move(change));
  return Done();
}

}  // namespace crmsync::connectors::prm
