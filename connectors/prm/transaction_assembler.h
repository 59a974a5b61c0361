#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/prm/pgoutput_messages.h"
#include "mapping/sync_error.h"

namespace crmsync::connectors::prm {

// One row change with the relation definition that was current when it happened.
struct RowChange {
  enum class Kind { insert, update, remove };
  Kind kind = Kind::insert;
  std::shared_ptr<const RelationMessage> relation;
  TupleData new_tuple;             // insert, update
  std::optional<char> old_kind;    // 'K' key or 'O' full old row, when the server sent one
  TupleData old_tuple;             // update (with old_kind), delete
};

struct TruncatedRelations {
  std::vector<std::shared_ptr<const RelationMessage>> relations;
  bool cascade = false;
};

// A committed transaction, in commit order, as the capture turns it into events.
struct CommittedTransaction {
  BeginMessage begin;
  CommitMessage commit;
  // The transaction carried a transactional logical message with the crmsync origin prefix as
  // its first message: it was written by crmsync's own apply and must not be captured back.
  bool written_by_crmsync = false;
  std::string origin_marker;
  std::vector<RowChange> changes;
  std::vector<TruncatedRelations> truncates;
};

// Assembles pgoutput messages into committed transactions and keeps the relation definitions
// (which the server re-sends when a table changes). Pure state machine; one thread.
class TransactionAssembler {
 public:
  static constexpr std::string_view kOriginPrefix = "crmsync.origin";

  // Feeds one message; returns the transaction that a Commit completed. Messages out of protocol
  // order (a change outside a transaction, an unknown relation id) are `fatal`: the stream can no
  // longer be trusted and the capture restarts from its slot.
  mapping::Result<std::optional<CommittedTransaction>> feed(PgOutputMessage message);

  bool in_transaction() const { return current_.has_value(); }
  const RelationMessage* relation(std::uint32_t relation_id) const;

 private:
  mapping::Result<std::shared_ptr<const RelationMessage>> relation_for(std::uint32_t relation_id,
                                                                       char tag) const;
  std::map<std::uint32_t, std::shared_ptr<const RelationMessage>> relations_;
  std::optional<CommittedTransaction> current_;
  bool seen_change_in_current_ = false;
};

}  // namespace crmsync::connectors::prm
