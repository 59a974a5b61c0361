// The state behind the operator commands on the real state database (migration 0009): parked
// events re-parked by a retry, dead-letter decisions, heartbeats, has_table.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "state/daemon_heartbeat.h"
#include "state/dead_letter_decisions.h"
#include "state/migrator.h"
#include "state/state_database.h"
#include "state/sync_record_store.h"
#include "tests/support/service_env.h"

namespace crmsync::state {
namespace {

using ::testing::HasSubstr;

class OperatorState : public ::testing::Test {
 protected:
  void SetUp() override {
    settings.url = crmsync::testing::require_service_env("CRMSYNC_PG_URL");
    settings.schema = crmsync::testing::unique_name("crmsync_ops");
    auto connected = StateDatabase::connect(settings);
    ASSERT_TRUE(connected.ok()) << connected.error().message;
    db = std::move(connected).value();
    auto migrated = migrate(*db, embedded_migrations(), DryRun::no);
    ASSERT_TRUE(migrated.ok()) << migrated.error().message;
  }
  void TearDown() override {
    if (db) (void)db->execute("DROP SCHEMA IF EXISTS " + settings.schema + " CASCADE");
  }

  // True when the event was newly parked or now waits for something else (journaled then).
  mapping::Result<bool> park_event(const std::string& event_id, const std::string& waiting_for) {
    bool fresh = false;
    auto done = db->in_transaction([&](const StateDatabase::Executor& execute) -> mapping::Status {
      SyncRecordStore store(execute, db->schema());
      auto parked = store.park(event_id, mapping::ObjectKind::deal, waiting_for, "reason for " + waiting_for, "{}");
      if (!parked) return parked.error();
      fresh = parked.value();
      return mapping::ok_status();
    });
    if (!done) return done.error();
    return fresh;
  }
  mapping::Status park(const std::string& event_id, const std::string& waiting_for) {
    auto parked = park_event(event_id, waiting_for);
    return parked ? mapping::ok_status() : mapping::Status(parked.error());
  }
  std::string waiting_for(const std::string& event_id) {
    auto waiting = parked_waiting_for(*db, event_id);
    EXPECT_TRUE(waiting.ok()) << waiting.error().message;
    return waiting.ok() ? waiting.value().value_or("<not parked>") : "";
  }
  mapping::Result<std::optional<std::string>> retry(const std::string& event_id, const std::string& letter) {
    std::optional<std::string> result;
    auto done = db->in_transaction([&](const StateDatabase::Executor& execute) -> mapping::Status {
      auto queued = queue_event_retry(execute, db->schema(), event_id, "deal", letter, "{}", "alice");
      if (!queued) return queued.error();
      result = queued.value();
      return mapping::ok_status();
    });
    if (!done) return done.error();
    return result;
  }
  mapping::Status decide(const std::string& letter, const std::string& event_id, const std::string& decision) {
    return db->in_transaction([&](const StateDatabase::Executor& execute) {
      return record_dead_letter_decision(execute, db->schema(),
                                         {"t.deadletter", letter, event_id, decision, "alice", "", ""});
    });
  }
  std::vector<std::string> resolvable() {
    auto events = resolvable_parked_events(*db, 100);
    EXPECT_TRUE(events.ok()) << events.error().message;
    return events.ok() ? events.value() : std::vector<std::string>{};
  }

  StateDatabaseSettings settings;
  std::unique_ptr<StateDatabase> db;
};

TEST_F(OperatorState, ARetriedEventThatParksAgainWaitsForWhatItParkedFor) {
  auto queued = retry("e-1", "0:7");
  ASSERT_TRUE(queued.ok()) << queued.error().message;
  EXPECT_FALSE(queued.value().has_value());
  EXPECT_EQ(waiting_for("e-1"), "retry:0:7");
  EXPECT_EQ(resolvable().size(), 1u);  // the sweep takes it at once

  // Re-applied, its account is not mapped: parked again, now waiting for the account.
  ASSERT_TRUE(park("e-1", "account:prm:a-1").ok());
  EXPECT_EQ(waiting_for("e-1"), "account:prm:a-1");
  EXPECT_TRUE(resolvable().empty()) << "would be re-applied at every sweep";
}

TEST_F(OperatorState, AnAccountDeleteWaitingForItsDealsGoesOnceNoSyncedDealOnThePrmRefersToIt) {
  auto deal = [&](const std::string& id, const std::string& account, bool on_prm, bool deleted) {
    auto done = db->execute("INSERT INTO " + settings.schema + ".sync_records (object, record_id, on_prm, deleted, base) "
                            "VALUES ('deal', $1, $2::boolean, $3::boolean, $4)",
                            {id, on_prm ? "true" : "false", deleted ? "true" : "false",
                             R"({"account":")" + account + R"(","name":"n"})"});
    ASSERT_TRUE(done.ok()) << done.error().message;
  };
  deal("d-1", "acc-1", true, false);
  deal("d-2", "acc-1", true, true);     // deleted: refers to nothing
  deal("d-3", "acc-1", false, false);   // not on the PRM: holds nothing back there
  deal("d-4", "acc-other", true, false);
  auto parked = park_event("e-5", "deals-of:acc-1");
  ASSERT_TRUE(parked.ok()) << parked.error().message;
  EXPECT_TRUE(parked.value()) << "a new parked event is journaled";
  EXPECT_TRUE(resolvable().empty()) << "d-1 still refers to the account";

  auto again = park_event("e-5", "deals-of:acc-1");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_FALSE(again.value()) << "parked again for the same thing: not worth another journal entry";
  auto other = park_event("e-5", "account:prm:acc-2");
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_TRUE(other.value()) << "now waiting for something else";
  ASSERT_TRUE(park("e-5", "deals-of:acc-1").ok());

  ASSERT_TRUE(db->execute("UPDATE " + settings.schema + ".sync_records SET deleted = true WHERE record_id = 'd-1'").ok());
  EXPECT_EQ(resolvable().size(), 1u);
}

TEST_F(OperatorState, ARetryKeepsWhatAParkedEventWaitsForAndReplacesAnEarlierRetry) {
  ASSERT_TRUE(park("e-2", "account:salesforce:001A").ok());
  auto queued = retry("e-2", "0:8");
  ASSERT_TRUE(queued.ok()) << queued.error().message;
  EXPECT_EQ(queued.value(), std::optional<std::string>("account:salesforce:001A"));
  EXPECT_EQ(waiting_for("e-2"), "account:salesforce:001A");

  ASSERT_TRUE(park("e-3", "operator:quarantined partner").ok());
  ASSERT_TRUE(retry("e-3", "0:9").ok());
  EXPECT_EQ(waiting_for("e-3"), "operator:quarantined partner") << "a retry got past an operator's hold";

  ASSERT_TRUE(retry("e-4", "0:10").ok());
  auto again = retry("e-4", "1:3");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_FALSE(again.value().has_value());
  EXPECT_EQ(waiting_for("e-4"), "retry:1:3");
}

TEST_F(OperatorState, ADecisionOnAnotherEventAtTheSamePlaceIsReplacedOneOnTheSameEventIsAConflict) {
  ASSERT_TRUE(decide("0:1", "e-old", "discarded").ok());
  auto twice = decide("0:1", "e-old", "retried");
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().error_class, mapping::ErrorClass::conflict);
  EXPECT_THAT(twice.error().message, HasSubstr("already has a decision"));

  // The topic was re-created: 0:1 is another letter now.
  ASSERT_TRUE(decide("0:1", "e-new", "retried").ok());
  auto decisions = load_dead_letter_decisions(*db, "t.deadletter");
  ASSERT_TRUE(decisions.ok()) << decisions.error().message;
  ASSERT_EQ(decisions.value().count("0:1"), 1u);
  EXPECT_EQ(decisions.value().at("0:1").event_id, "e-new");
  EXPECT_EQ(decisions.value().at("0:1").decision, "retried");
}

TEST_F(OperatorState, NotReadyIsReplacedAtEveryBeatTheLastErrorIsKept) {
  DaemonHeartbeat beat;
  beat.instance_id = "i-1";
  beat.host = "h";
  beat.pid = 1;
  beat.version = "0";
  beat.started_at = "2025-11-28T00:00:00Z";
  beat.not_ready = R"({"kafka":"down"})";
  ASSERT_TRUE(write_heartbeat(*db, beat).ok());
  auto loaded = load_heartbeats(*db);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded.value().size(), 1u);
  EXPECT_EQ(loaded.value()[0].not_ready, beat.not_ready);
  EXPECT_FALSE(loaded.value()[0].last_error.has_value());

  beat.ready = true;
  beat.not_ready.reset();
  beat.last_error = "apply: fatal";
  ASSERT_TRUE(write_heartbeat(*db, beat).ok());
  beat.last_error.reset();
  ASSERT_TRUE(write_heartbeat(*db, beat).ok());
  loaded = load_heartbeats(*db);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_TRUE(loaded.value()[0].ready);
  EXPECT_FALSE(loaded.value()[0].not_ready.has_value());
  EXPECT_EQ(loaded.value()[0].last_error, std::optional<std::string>("apply: fatal"));
  EXPECT_TRUE(loaded.value()[0].last_error_at.has_value());
}

TEST_F(OperatorState, HasTableSaysWhetherAMigrationCreatedIt) {
  auto present = has_table(*db, "dead_letter_decisions");
  ASSERT_TRUE(present.ok()) << present.error().message;
  EXPECT_TRUE(present.value());
  auto absent = has_table(*db, "no_such_table");
  ASSERT_TRUE(absent.ok()) << absent.error().message;
  EXPECT_FALSE(absent.value());
}

}  // namespace
}  // namespace crmsync::state
