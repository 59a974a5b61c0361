#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "connectors/prm/pgoutput_decoder.h"
#include "connectors/prm/replication_connection.h"
#include "connectors/prm/replication_frames.h"
#include "state/state_database.h"
#include "tests/support/service_env.h"

namespace crmsync::connectors::prm {
namespace {

using ::testing::HasSubstr;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A scratch table, publication and slot in the PRM database, dropped afterwards: the protocol is
// exercised on the real server independently of the reference schema.
class ReplicationStream : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_settings.url = crmsync::testing::require_service_env("CRMSYNC_PRM_PG_URL");
    name = crmsync::testing::unique_name("repl_test");
    admin = connect_admin();
    run("CREATE TABLE public." + name + " (id int PRIMARY KEY, name text, body text)");
    run("ALTER TABLE public." + name + " ALTER COLUMN body SET STORAGE EXTERNAL");
    run("CREATE PUBLICATION " + name + " FOR TABLE public." + name);
    settings.url = admin_settings.url;
    auto connected = ReplicationConnection::connect(settings);
    ASSERT_TRUE(connected.ok()) << connected.error().message;
    replication = std::move(connected).value();
    auto slot = replication->create_slot(name, false);
    ASSERT_TRUE(slot.ok()) << slot.error().message;
    start = slot.value().consistent_point;
  }

  void TearDown() override {
    replication.reset();  // the slot must be inactive before it can be dropped
    if (!admin) return;
    for (int attempt = 0; attempt < 50; ++attempt) {
      auto dropped = admin->execute(
          "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
          {name});
      if (dropped.ok()) break;
      std::this_thread::sleep_for(milliseconds(100));
    }
    (void)admin->execute("DROP PUBLICATION IF EXISTS " + name);
    (void)admin->execute("DROP TABLE IF EXISTS public." + name);
  }

  std::unique_ptr<state::StateDatabase> connect_admin() {
    auto db = state::StateDatabase::connect(admin_settings);
    if (!db) throw std::runtime_error(db.error().message);
    return std::move(db).value();
  }

  void run(const std::string& sql) {
    auto result = admin->execute(sql);
    ASSERT_TRUE(result.ok()) << sql << ": " << result.error().message;
  }

  // Reads until `count` pgoutput messages arrived (answering keepalives) or 30 s passed.
  std::vector<PgOutputMessage> read_messages(std::size_t count) {
    std::vector<PgOutputMessage> messages;
    auto deadline = std::chrono::steady_clock::now() + seconds(30);
    while (messages.size() < count && std::chrono::steady_clock::now() < deadline) {
      auto frame = replication->read_frame(milliseconds(500));
      if (!frame) throw std::runtime_error(frame.error().message);
      if (!frame.value()) continue;
      auto decoded = decode_server_frame(*frame.value());
      if (!decoded) throw std::runtime_error(decoded.error().message);
      if (auto* keepalive = std::get_if<PrimaryKeepalive>(&decoded.value())) {
        if (keepalive->reply_requested) (void)replication->send_status(last, last, false);
        continue;
      }
      const auto& data = std::get<XLogData>(decoded.value());
      auto message = decode_pgoutput(data.payload);
      if (!message) throw std::runtime_error(message.error().message);
      if (auto* commit = std::get_if<CommitMessage>(&message.value())) last = commit->end_lsn;
      messages.push_back(std::move(message).value());
    }
    return messages;
  }

  state::StateDatabaseSettings admin_settings;
  PrmConnectionSettings settings;
  std::string name;
  std::unique_ptr<state::StateDatabase> admin;
  std::unique_ptr<ReplicationConnection> replication;
  Lsn start;
  Lsn last;
};

TEST_F(ReplicationStream, IdentifiesTheSystem) {
  auto identity = replication->identify_system();
  ASSERT_TRUE(identity.ok()) << identity.error().message;
  EXPECT_FALSE(identity.value().system_id.empty());
  EXPECT_EQ(identity.value().database, "prm");
  EXPECT_GE(identity.value().wal_position, start);
}

TEST_F(ReplicationStream, InsertUpdateDeleteInCommitOrder) {
  ASSERT_TRUE(replication->start_replication(name, start, name).ok());
  run("INSERT INTO public." + name + " VALUES (1, 'first', 'b')");
  run("UPDATE public." + name + " SET name = 'renamed' WHERE id = 1");
  run("DELETE FROM public." + name + " WHERE id = 1");

  auto messages = read_messages(10);  // B R I C, B U C, B D C
  ASSERT_EQ(messages.size(), 10u);
  EXPECT_TRUE(std::holds_alternative<BeginMessage>(messages[0]));
  const auto& relation = std::get<RelationMessage>(messages[1]);
  EXPECT_EQ(relation.name, name);
  ASSERT_EQ(relation.columns.size(), 3u);
  EXPECT_TRUE(relation.columns[0].is_key);
  const auto& insert = std::get<InsertMessage>(messages[2]);
  EXPECT_EQ(insert.relation_id, relation.relation_id);
  EXPECT_EQ(insert.new_tuple[1].bytes, "first");
  const auto& first_commit = std::get<CommitMessage>(messages[3]);
  const auto& update = std::get<UpdateMessage>(messages[5]);
  EXPECT_EQ(update.new_tuple[1].bytes, "renamed");
  const auto& removal = std::get<DeleteMessage>(messages[8]);
  EXPECT_EQ(removal.old_kind, 'K');
  EXPECT_EQ(removal.old_tuple[0].bytes, "1");
  const auto& last_commit = std::get<CommitMessage>(messages[9]);
  EXPECT_GT(last_commit.commit_lsn, first_commit.commit_lsn);
}

TEST_F(ReplicationStream, UnchangedToastedColumnIsMarkedNotSent) {
  ASSERT_TRUE(replication->start_replication(name, start, name).ok());
  std::string large(200'000, 'x');
  auto inserted = admin->execute("INSERT INTO public." + name + " VALUES (2, 'big', $1)", {large});
  ASSERT_TRUE(inserted.ok()) << inserted.error().message;
  run("UPDATE public." + name + " SET name = 'big renamed' WHERE id = 2");
  auto messages = read_messages(7);
  ASSERT_EQ(messages.size(), 7u);
  const auto& insert = std::get<InsertMessage>(messages[2]);
  EXPECT_EQ(insert.new_tuple[2].bytes.size(), large.size());
  const auto& update = std::get<UpdateMessage>(messages[5]);
  EXPECT_EQ(update.new_tuple[1].bytes, "big renamed");
  EXPECT_EQ(update.new_tuple[2].kind, ColumnValue::Kind::unchanged_toast);
}

TEST_F(ReplicationStream, TransactionalLogicalMessageArrivesRightAfterBegin) {
  // The basis of PRM echo suppression (DESIGN §2): the apply transaction emits its marker first.
  ASSERT_TRUE(replication->start_replication(name, start, name).ok());
  run("DO $$ BEGIN PERFORM pg_logical_emit_message(true, 'crmsync.origin', 'apply-1'); "
      "INSERT INTO public." + name + " VALUES (3, 'applied', NULL); END $$");
  auto messages = read_messages(5);  // B M R I C
  ASSERT_EQ(messages.size(), 5u);
  EXPECT_TRUE(std::holds_alternative<BeginMessage>(messages[0]));
  const auto& marker = std::get<LogicalMessage>(messages[1]);
  EXPECT_TRUE(marker.transactional);
  EXPECT_EQ(marker.prefix, "crmsync.origin");
  EXPECT_EQ(marker.content, "apply-1");
  EXPECT_TRUE(std::holds_alternative<InsertMessage>(messages[3]));
}

TEST_F(ReplicationStream, AddedColumnMidStreamSendsANewRelation) {
  ASSERT_TRUE(replication->start_replication(name, start, name).ok());
  run("INSERT INTO public." + name + " VALUES (4, 'before', NULL)");
  run("ALTER TABLE public." + name + " ADD COLUMN region text");
  run("INSERT INTO public." + name + " VALUES (5, 'after', NULL, 'emea')");
  auto messages = read_messages(8);  // B R I C, B R I C
  ASSERT_EQ(messages.size(), 8u);
  EXPECT_EQ(std::get<RelationMessage>(messages[1]).columns.size(), 3u);
  const auto& changed = std::get<RelationMessage>(messages[5]);
  ASSERT_EQ(changed.columns.size(), 4u);
  EXPECT_EQ(changed.columns[3].name, "region");
  EXPECT_EQ(std::get<InsertMessage>(messages[6]).new_tuple[3].bytes, "emea");
}

TEST_F(ReplicationStream, TruncateIsStreamed) {
  ASSERT_TRUE(replication->start_replication(name, start, name).ok());
  run("TRUNCATE public." + name);
  auto messages = read_messages(4);  // B R T C
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(std::get<TruncateMessage>(messages[2]).relation_ids.size(), 1u);
}

TEST_F(ReplicationStream, MissingSlotIsReported) {
  auto started = replication->start_replication("no_such_slot_here", start, name);
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.error().message, HasSubstr("does not exist"));
}

}  // namespace
}  // namespace crmsync::connectors::prm
