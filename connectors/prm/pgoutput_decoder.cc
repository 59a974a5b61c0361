#include "connectors/prm/pgoutput_decoder.h"

#include <fmt/format.h>

#include "connectors/prm/wire_reader.h"

namespace crmsync::connectors::prm {

namespace {

// A relation has at most 1664 columns (MaxTupleAttributeNumber); anything above is corrupt input.
constexpr int kMaxColumns = 1664;

TupleData read_tuple(WireReader& in) {
  std::int16_t count = in.i16();
  if (count < 0 || count > kMaxColumns) in.fail(fmt::format("impossible column count {}", count));
  TupleData tuple;
  tuple.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    ColumnValue value;
    char kind = static_cast<char>(in.u8());
    switch (kind) {
      case 'n': value.kind = ColumnValue::Kind::null; break;
      case 'u': value.kind = ColumnValue::Kind::unchanged_toast; break;
      case 't':
      case 'b': {
        value.kind = kind == 't' ? ColumnValue::Kind::text : ColumnValue::Kind::binary;
        std::int32_t length = in.i32();
        if (length < 0) in.fail(fmt::format("negative value length {}", length));
        value.bytes = std::string(in.bytes(static_cast<std::size_t>(length)));
        break;
      }
      default:
        in.fail(fmt::format("unknown column kind 0x{:02x}", static_cast<unsigned char>(kind)));
    }
    tuple.push_back(std::move(value));
  }
  return tuple;
}

char expect_one_of(WireReader& in, std::string_view allowed, std::string_view what) {
  char tag = static_cast<char>(in.u8());
  if (allowed.find(tag) == std::string_view::npos) {
    in.fail(fmt::format("expected {} marker ({}), got 0x{:02x}", what, allowed,
                        static_cast<unsigned char>(tag)));
  }
  return tag;
}

PgOutputMessage decode(WireReader& in, char tag) {
  switch (tag) {
    case 'B': {
      BeginMessage begin;
      begin.final_lsn = Lsn{in.u64()};
      begin.commit_time_us = in.i64();
      begin.xid = in.u32();
      return begin;
    }
    case 'C': {
      CommitMessage commit;
      in.u8();  // flags, unused
      commit.commit_lsn = Lsn{in.u64()};
      commit.end_lsn = Lsn{in.u64()};
      commit.commit_time_us = in.i64();
      return commit;
    }
    case 'O': {
      OriginMessage origin;
      origin.commit_lsn = Lsn{in.u64()};
      origin.name = in.c_string();
      return origin;
    }
    case 'R': {
      RelationMessage relation;
      relation.relation_id = in.u32();
      relation.schema = in.c_string();
      relation.name = in.c_string();
      relation.replica_identity = static_cast<char>(in.u8());
      std::int16_t count = in.i16();
      if (count < 0 || count > kMaxColumns) in.fail(fmt::format("impossible column count {}", count));
      for (int i = 0; i < count; ++i) {
        RelationColumn column;
        column.is_key = (in.u8() & 1) != 0;
        column.name = in.c_string();
        column.type_oid = in.u32();
        column.type_modifier = in.i32();
        relation.columns.push_back(std::move(column));
      }
      return relation;
    }
    case 'Y': {
      TypeMessage type;
      type.type_oid = in.u32();
      type.schema = in.c_string();
      type.name = in.c_string();
      return type;
    }
    case 'I': {
      InsertMessage insert;
      insert.relation_id = in.u32();
      expect_one_of(in, "N", "new tuple");
      insert.new_tuple = read_tuple(in);
      return insert;
    }
    case 'U': {
      UpdateMessage update;
      update.relation_id = in.u32();
      char marker = expect_one_of(in, "KON", "tuple");
      if (marker != 'N') {
        update.old_kind = marker;
        update.old_tuple = read_tuple(in);
        expect_one_of(in, "N", "new tuple");
      }
      update.new_tuple = read_tuple(in);
      return update;
    }
    case 'D': {
      DeleteMessage removal;
      removal.relation_id = in.u32();
      removal.old_kind = expect_one_of(in, "KO", "old tuple");
      removal.old_tuple = read_tuple(in);
      return removal;
    }
    case 'T': {
      TruncateMessage truncate;
      std::int32_t count = in.i32();
      if (count < 0 || static_cast<std::size_t>(count) > in.remaining()) {
        in.fail(fmt::format("impossible relation count {}", count));
      }
      std::uint8_t options = in.u8();
      truncate.cascade = (options & 1) != 0;
      truncate.restart_identity = (options & 2) != 0;
      for (int i = 0; i < count; ++i) truncate.relation_ids.push_back(in.u32());
      return truncate;
    }
    case 'M': {
      LogicalMessage message;
      message.transactional = (in.u8() & 1) != 0;
      message.lsn = Lsn{in.u64()};
      message.prefix = in.c_string();
      std::int32_t length = in.i32();
      if (length < 0) in.fail(fmt::format("negative message length {}", length));
      message.content = std::string(in.bytes(static_cast<std::size_t>(length)));
      return message;
    }
    default:
      in.fail(fmt::format("unknown pgoutput message tag 0x{:02x}", static_cast<unsigned char>(tag)));
  }
}

}  // namespace

mapping::Result<PgOutputMessage> decode_pgoutput(std::string_view payload) {
  if (payload.empty()) return mapping::SyncError{mapping::ErrorClass::invalid, "pgoutput: empty message"};
  char tag = payload[0];
  WireReader in(payload);
  try {
    in.u8();
    PgOutputMessage message = decode(in, tag);
    if (in.remaining() != 0) {
      in.fail(fmt::format("{} trailing byte(s)", in.remaining()));
    }
    return message;
  } catch (const WireFormatError& error) {
    return mapping::SyncError{mapping::ErrorClass::invalid,
                              fmt::format("pgoutput message '{}': {}", tag, error.what())};
  }
}

}  // namespace crmsync::connectors::prm
