#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "connectors/prm/lsn.h"

namespace crmsync::connectors::prm {

// The logical replication messages of PostgreSQL's built-in `pgoutput` plugin (protocol version 1,
// with `messages` on), decoded. Timestamps are microseconds since 2000-01-01 UTC, as on the wire.

struct ColumnValue {
  enum class Kind { null, unchanged_toast, text, binary };
  Kind kind = Kind::null;
  std::string bytes;  // text or binary representation; empty for null and unchanged_toast
};
using TupleData = std::vector<ColumnValue>;

struct RelationColumn {
  std::string name;
  std::uint32_t type_oid = 0;
  std::int32_t type_modifier = -1;
  bool is_key = false;  // part of the replica identity
};

// Sent before the first change of a relation in a session and again whenever its definition
// changes (an added column), so receivers keep the latest per relation id.
struct RelationMessage {
  std::uint32_t relation_id = 0;
  std::string schema;
  std::string name;
  char replica_identity = 'd';  // d default, n nothing, f full, i index
  std::vector<RelationColumn> columns;
};

struct TypeMessage {
  std::uint32_t type_oid = 0;
  std::string schema;
  std::string name;
};

struct BeginMessage {
  Lsn final_lsn;  // the transaction's commit record
  std::int64_t commit_time_us = 0;
  std::uint32_t xid = 0;
};

struct CommitMessage {
  Lsn commit_lsn;
  Lsn end_lsn;  // end of the commit record: the position to confirm once it is safe
  std::int64_t commit_time_us = 0;
};

struct OriginMessage {
  Lsn commit_lsn;
  std::string name;
};

// pg_logical_emit_message(transactional, prefix, content).
struct LogicalMessage {
  bool transactional = false;
  Lsn lsn;
  std::string prefix;
  std::string content;
};

struct InsertMessage {
  std::uint32_t relation_id = 0;
  TupleData new_tuple;
};

struct UpdateMessage {
  std::uint32_t relation_id = 0;
  // 'K': the old key columns (the key changed); 'O': the whole old row (REPLICA IDENTITY FULL).
  std::optional<char> old_kind;
  TupleData old_tuple;
  TupleData new_tuple;
};

struct DeleteMessage {
  std::uint32_t relation_id = 0;
  char old_kind = 'K';
  TupleData old_tuple;
};

struct TruncateMessage {
  std::vector<std::uint32_t> relation_ids;
  bool cascade = false;
  bool restart_identity = false;
};

using PgOutputMessage =
    std::variant<BeginMessage, CommitMessage, OriginMessage, RelationMessage, TypeMessage,
                 InsertMessage, UpdateMessage, DeleteMessage, TruncateMessage, LogicalMessage>;

}  // namespace crmsync::connectors::prm
