#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "connectors/prm/pgoutput_decoder.h"
#include "connectors/prm/replication_frames.h"

namespace crmsync::connectors::prm {
namespace {

using ::testing::HasSubstr;

// Builds pgoutput messages byte by byte, as the server sends them (big-endian).
class Wire {
 public:
  Wire& u8(unsigned value) {
    bytes_.push_back(static_cast<char>(value));
    return *this;
  }
  Wire& i16(int value) { return be(static_cast<std::uint64_t>(value), 2); }
  Wire& i32(std::int64_t value) { return be(static_cast<std::uint64_t>(value), 4); }
  Wire& u64(std::uint64_t value) { return be(value, 8); }
  Wire& str(std::string_view text) {
    bytes_.append(text);
    bytes_.push_back('\0');
    return *this;
  }
  Wire& text_column(std::string_view value) {
    u8('t');
    i32(static_cast<std::int64_t>(value.size()));
    bytes_.append(value);
    return *this;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  Wire& be(std::uint64_t value, int width) {
    for (int shift = (width - 1) * 8; shift >= 0; shift -= 8) {
      bytes_.push_back(static_cast<char>((value >> shift) & 0xFF));
    }
    return *this;
  }
  std::string bytes_;
};

template <typename T>
T decode_as(const std::string& bytes) {
  auto decoded = decode_pgoutput(bytes);
  if (!decoded) throw std::runtime_error(decoded.error().message);
  return std::get<T>(decoded.value());
}

TEST(PgoutputDecoder, BeginAndCommit) {
  auto begin = decode_as<BeginMessage>(
      Wire().u8('B').u64(0x16B374D848ULL).u64(7'000'000).i32(901).bytes());
  EXPECT_EQ(begin.final_lsn.to_string(), "16/B374D848");
  EXPECT_EQ(begin.commit_time_us, 7'000'000);
  EXPECT_EQ(begin.xid, 901u);

  auto commit = decode_as<CommitMessage>(
      Wire().u8('C').u8(0).u64(0x100).u64(0x180).u64(42).bytes());
  EXPECT_EQ(commit.commit_lsn.value, 0x100u);
  EXPECT_EQ(commit.end_lsn.value, 0x180u);
  EXPECT_EQ(commit.commit_time_us, 42);
}

TEST(PgoutputDecoder, RelationWithKeyColumns) {
  auto relation = decode_as<RelationMessage>(Wire()
                                                 .u8('R')
                                                 .i32(16384)
                                                 .str("prm")
                                                 .str("deals")
                                                 .u8('d')
                                                 .i16(2)
                                                 .u8(1).str("id").i32(2950).i32(-1)
                                                 .u8(0).str("amount").i32(1700).i32(1310726)
                                                 .bytes());
  EXPECT_EQ(relation.relation_id, 16384u);
  EXPECT_EQ(relation.schema, "prm");
  EXPECT_EQ(relation.name, "deals");
  ASSERT_EQ(relation.columns.size(), 2u);
  EXPECT_TRUE(relation.columns[0].is_key);
  EXPECT_EQ(relation.columns[0].type_oid, 2950u);
  EXPECT_FALSE(relation.columns[1].is_key);
  EXPECT_EQ(relation.columns[1].name, "amount");
  EXPECT_EQ(relation.columns[1].type_modifier, 1310726);
}

TEST(PgoutputDecoder, InsertWithNullAndText) {
  auto insert = decode_as<InsertMessage>(
      Wire().u8('I').i32(16384).u8('N').i16(2).text_column("Ünïcode ' deal").u8('n').bytes());
  EXPECT_EQ(insert.relation_id, 16384u);
  ASSERT_EQ(insert.new_tuple.size(), 2u);
  EXPECT_EQ(insert.new_tuple[0].kind, ColumnValue::Kind::text);
  EXPECT_EQ(insert.new_tuple[0].bytes, "Ünïcode ' deal");
  EXPECT_EQ(insert.new_tuple[1].kind, ColumnValue::Kind::null);
}

TEST(PgoutputDecoder, UpdateKeepsUnchangedToastMarker) {
  auto update = decode_as<UpdateMessage>(
      Wire().u8('U').i32(1).u8('N').i16(2).text_column("42").u8('u').bytes());
  EXPECT_FALSE(update.old_kind.has_value());
  ASSERT_EQ(update.new_tuple.size(), 2u);
  EXPECT_EQ(update.new_tuple[1].kind, ColumnValue::Kind::unchanged_toast);
}

TEST(PgoutputDecoder, UpdateWithOldKeyAndDelete) {
  auto update = decode_as<UpdateMessage>(Wire()
                                             .u8('U').i32(1)
                                             .u8('K').i16(1).text_column("old-id")
                                             .u8('N').i16(1).text_column("new-id")
                                             .bytes());
  EXPECT_EQ(update.old_kind, 'K');
  EXPECT_EQ(update.old_tuple[0].bytes, "old-id");
  EXPECT_EQ(update.new_tuple[0].bytes, "new-id");

  auto removal = decode_as<DeleteMessage>(Wire().u8('D').i32(1).u8('O').i16(1).text_column("x").bytes());
  EXPECT_EQ(removal.old_kind, 'O');
  EXPECT_EQ(removal.old_tuple[0].bytes, "x");
}

TEST(PgoutputDecoder, TruncateTypeOriginAndLogicalMessage) {
  auto truncate = decode_as<TruncateMessage>(Wire().u8('T').i32(2).u8(3).i32(10).i32(11).bytes());
  EXPECT_EQ(truncate.relation_ids, (std::vector<std::uint32_t>{10, 11}));
  EXPECT_TRUE(truncate.cascade);
  EXPECT_TRUE(truncate.restart_identity);

  auto type = decode_as<TypeMessage>(Wire().u8('Y').i32(99999).str("prm").str("tier").bytes());
  EXPECT_EQ(type.name, "tier");

  auto origin = decode_as<OriginMessage>(Wire().u8('O').u64(5).str("node_a").bytes());
  EXPECT_EQ(origin.name, "node_a");

  std::string content = "{\"instance\":\"a\"}";
  auto message = decode_as<LogicalMessage>(
      Wire().u8('M').u8(1).u64(0x200).str("crmsync.origin").i32(static_cast<std::int64_t>(content.size())).bytes() +
      content);
  EXPECT_TRUE(message.transactional);
  EXPECT_EQ(message.prefix, "crmsync.origin");
  EXPECT_EQ(message.content, content);
}

TEST(PgoutputDecoder, MalformedInputIsAnInvalidErrorNeverACrash) {
  struct Case {
    std::string bytes;
    std::string expected;
  };
  std::vector<Case> cases = {
      {"", "empty message"},
      {Wire().u8('Z').bytes(), "unknown pgoutput message tag 0x5a"},
      {Wire().u8('B').u64(1).bytes(), "truncated message"},
      {Wire().u8('I').i32(1).u8('X').bytes(), "expected new tuple marker"},
      {Wire().u8('I').i32(1).u8('N').i16(1).u8('t').i32(100).bytes(), "truncated message"},
      {Wire().u8('I').i32(1).u8('N').i16(-1).bytes(), "impossible column count -1"},
      {Wire().u8('I').i32(1).u8('N').i16(1).u8('q').bytes(), "unknown column kind 0x71"},
      {Wire().u8('R').i32(1).str("prm").bytes() + "deals", "unterminated string"},
      {Wire().u8('T').i32(1'000'000).u8(0).bytes(), "impossible relation count"},
      {Wire().u8('Y').i32(1).str("a").str("b").u8(0).bytes(), "1 trailing byte(s)"},
  };
  for (const auto& c : cases) {
    auto decoded = decode_pgoutput(c.bytes);
    ASSERT_FALSE(decoded.ok()) << c.expected;
    EXPECT_EQ(decoded.error().error_class, mapping::ErrorClass::invalid);
    EXPECT_THAT(decoded.error().message, HasSubstr(c.expected));
  }
}

TEST(ReplicationFrames, XLogDataAndKeepalive) {
  std::string frame = Wire().u8('w').u64(0x10).u64(0x20).u64(99).bytes() + "payload";
  auto decoded = decode_server_frame(frame);
  ASSERT_TRUE(decoded.ok());
  const auto& data = std::get<XLogData>(decoded.value());
  EXPECT_EQ(data.wal_start.value, 0x10u);
  EXPECT_EQ(data.wal_end.value, 0x20u);
  EXPECT_EQ(data.payload, "payload");

  auto keepalive = decode_server_frame(Wire().u8('k').u64(0x30).u64(5).u8(1).bytes());
  ASSERT_TRUE(keepalive.ok());
  EXPECT_TRUE(std::get<PrimaryKeepalive>(keepalive.value()).reply_requested);
  EXPECT_FALSE(decode_server_frame("x").ok());
}

TEST(ReplicationFrames, StandbyStatusLayout) {
  std::string status = encode_standby_status(Lsn{0x0102}, Lsn{0x0A0B}, Lsn{0x0A0B}, 7, true);
  EXPECT_EQ(status, Wire().u8('r').u64(0x0102).u64(0x0A0B).u64(0x0A0B).u64(7).u8(1).bytes());
  EXPECT_EQ(postgres_to_unix_epoch_us(unix_to_postgres_epoch_us(123)), 123);
  EXPECT_EQ(unix_to_postgres_epoch_us(946'684'800'000'000LL), 0);
}

TEST(Lsn, ParsesAndPrintsLikePostgres) {
  EXPECT_EQ(Lsn::parse("16/B374D848")->value, 0x16B374D848ULL);
  EXPECT_EQ(Lsn{0x16B374D848ULL}.to_string(), "16/B374D848");
  EXPECT_EQ(Lsn::parse("0/0")->value, 0u);
  for (const char* bad : {"", "16", "/1", "1/", "G/1", "1/1/1", "100000000/0"}) {
    EXPECT_FALSE(Lsn::parse(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace crmsync::connectors::prm
