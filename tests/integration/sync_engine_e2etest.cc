#include "tests/integration/sync_engine_fixture.h"

#include <fmt/chrono.h>

namespace crmsync {
namespace {

using mapping::CanonicalFields;
using mapping::FieldValue;
using mapping::ObjectKind;
using mapping::Side;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::SyncEngine;

// The value of one series (`name{labels}` exactly as rendered) on a /metrics page.
std::optional<double> metric_value(const std::string& page, const std::string& series) {
  std::size_t at = 0;
  while ((at = page.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || page[at - 1] == '\n') return std::stod(page.substr(at + series.size() + 1));
    at += series.size();
  }
  return std::nullopt;
}

TEST_F(SyncEngine, CreatesUpdatesAndDeletesFromEachSideArriveOnTheOtherTwo) {
  ASSERT_NO_FATAL_FAILURE(start(write_config()));

  // PRM → both CRMs.
  std::string account = insert_account("acme");
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, account, "name", name + " acme")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::account, account, "name", name + " acme")) << crmsync->output();
  EXPECT_EQ(on(Side::salesforce, ObjectKind::account, account)->at("billing_country").text, "DE");
  std::string deal = insert_deal(account, "big deal", "1000");
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::deal, deal, "amount", "1000.00")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deal, "amount", "1000.00")) << crmsync->output();
  auto sf_deal = on(Side::salesforce, ObjectKind::deal, deal);
  EXPECT_EQ(sf_deal->at("stage").text, "prospecting");
  EXPECT_EQ(sf_deal->at("close_date").text, "2027-03-31");
  EXPECT_EQ(sf_deal->at("account").text, side_id(Side::salesforce, ObjectKind::account, account));
  EXPECT_EQ(on(Side::dynamics, ObjectKind::deal, deal)->at("account").text,
            side_id(Side::dynamics, ObjectKind::account, account));

  // PRM update.
  scalar("UPDATE prm.deals SET amount = 1500, modified_by_kind = 'internal_user' WHERE id = $1 RETURNING id", {deal});
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::deal, deal, "amount", "1500.00")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deal, "amount", "1500.00")) << crmsync->output();

  // Salesforce update → PRM and Dataverse.
  crm_edit(Side::salesforce, ObjectKind::deal, deal, {{"Amount", FieldValue::number_value("2500")}});
  ASSERT_TRUE(wait_for(Side::prm, ObjectKind::deal, deal, "amount", "2500.00")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deal, "amount", "2500.00")) << crmsync->output();

  // Dataverse update → PRM and Salesforce.
  crm_edit(Side::dynamics, ObjectKind::deal, deal, {{"name", FieldValue::string_value(name + " renamed in dv")}});
  ASSERT_TRUE(wait_for(Side::prm, ObjectKind::deal, deal, "name", name + " renamed in dv")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::deal, deal, "name", name + " renamed in dv")) << crmsync->output();

  // Created in Salesforce (no PRM id there yet) → a PRM account and a Dataverse account, and the
  // Salesforce record gets the PRM id, so nothing is duplicated.
  auto created = sf_client->request("POST", "sobjects/Account",
                                    fmt::format(R"({{"Name":"{} born in salesforce","BillingCountry":"FR"}})", name),
                                    "create Account", std::chrono::steady_clock::now() + seconds(30), true);
  ASSERT_TRUE(created.ok()) << created.error().message;
  std::string born_id;
  ASSERT_TRUE(eventually([&] {
    born_id = scalar("SELECT id::text FROM prm.accounts WHERE name = $1", {name + " born in salesforce"});
    return !born_id.empty();
  })) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, born_id, "name", name + " born in salesforce"))
      << "the Salesforce account did not get its PRM id\n" << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::account, born_id, "billing_country", "FR")) << crmsync->output();

  // Created in Dataverse (no PRM id there yet) → a PRM account and a Salesforce account; the
  // Dataverse record gets the PRM id.
  connectors::dynamics::DataverseRequest create;
  create.method = "POST";
  create.target = "accounts";
  create.headers = {{"Content-Type", "application/json"}};
  create.body = fmt::format(R"({{"name":"{} born in dataverse","address1_country":"NL"}})", name);
  create.description = "create account";
  auto dv_created = dv_client->send(create, std::chrono::steady_clock::now() + seconds(30));
  ASSERT_TRUE(dv_created.ok()) << dv_created.error().message;
  std::string dv_born;
  ASSERT_TRUE(eventually([&] {
    dv_born = scalar("SELECT id::text FROM prm.accounts WHERE name = $1", {name + " born in dataverse"});
    return !dv_born.empty();
  })) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::account, dv_born, "name", name + " born in dataverse"))
      << "the Dataverse account did not get its PRM id\n" << crmsync->output();
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, dv_born, "billing_country", "NL")) << crmsync->output();

  // Delete in Salesforce → gone from the PRM and Dataverse.
  mapping::CrmRecordWrite sf_remove;
  sf_remove.object = ObjectKind::account;
  sf_remove.op = mapping::CanonicalEvent::Operation::remove;
  sf_remove.prm_id = dv_born;
  sf_remove.crm_id = side_id(Side::salesforce, ObjectKind::account, dv_born);
  auto sf_removed = salesforce->write({sf_remove}, "test-user");
  ASSERT_TRUE(sf_removed.ok() && !sf_removed.value()[0].error);
  ASSERT_TRUE(wait_for(Side::prm, ObjectKind::account, dv_born, "", std::nullopt)) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::account, dv_born, "", std::nullopt)) << crmsync->output();

  // Delete in the PRM → gone from both CRMs.
  scalar("DELETE FROM prm.deals WHERE id = $1 RETURNING id", {deal});
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::deal, deal, "", std::nullopt)) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deal, "", std::nullopt)) << crmsync->output();

  // Delete in Dataverse → gone from the PRM and Salesforce.
  std::string dv_account = side_id(Side::dynamics, ObjectKind::account, born_id);
  mapping::CrmRecordWrite remove;
  remove.object = ObjectKind::account;
  remove.op = mapping::CanonicalEvent::Operation::remove;
  remove.prm_id = born_id;
  remove.crm_id = dv_account;
  auto removed = dynamics->write({remove}, "test-user");
  ASSERT_TRUE(removed.ok() && !removed.value()[0].error);
  ASSERT_TRUE(wait_for(Side::prm, ObjectKind::account, born_id, "", std::nullopt)) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, born_id, "", std::nullopt)) << crmsync->output();

  // Nothing came back as a new change: our own writes were recognised.
  EXPECT_GT(journal_count("applied"), 5);
  EXPECT_EQ(journal_count("dead_lettered"), 0) << crmsync->output();

  // The metrics an operator watches (docs/deployment.md "Metrics") saw this traffic. The gauges
  // read from the state DB and the consumer are published every few seconds, the capture counters
  // every second: wait until every one has caught up with the traffic.
  std::string page;
  ASSERT_TRUE(eventually([&] {
    auto metrics = testing::http_get(port, "/metrics");
    if (!metrics) return false;
    page = metrics->body;
    return metric_value(page, "crmsync_consumer_lag").has_value() &&
           metric_value(page, "crmsync_conflicts_open").has_value() &&
           metric_value(page, R"(crmsync_events_captured_total{source="prm",via="capture"})").value_or(0) >= 4 &&
           metric_value(page, R"(crmsync_events_captured_total{source="salesforce",via="capture"})").value_or(0) >= 2 &&
           metric_value(page, R"(crmsync_events_captured_total{source="dynamics",via="capture"})").value_or(0) >= 2 &&
           metric_value(page, R"(crmsync_apply_latency_seconds_count{source="prm"})").value_or(0) >= 4;
  })) << page;
  EXPECT_GE(metric_value(page, R"(crmsync_apply_latency_seconds_count{source="prm"})").value_or(0), 4) << page;
  EXPECT_GE(metric_value(page, R"(crmsync_apply_latency_seconds_bucket{source="prm",le="+Inf"})").value_or(0), 4);
  EXPECT_GT(metric_value(page, R"(crmsync_apply_latency_seconds_sum{source="prm"})").value_or(0), 0) << page;
  EXPECT_GE(metric_value(page, R"(crmsync_apply_latency_seconds_count{source="salesforce"})").value_or(0), 2);
  EXPECT_GT(metric_value(page, R"(crmsync_api_calls_total{crm="salesforce",outcome="ok"})").value_or(0), 5) << page;
  EXPECT_GT(metric_value(page, R"(crmsync_api_calls_total{crm="dynamics",outcome="ok"})").value_or(0), 5) << page;
  double budget = metric_value(page, R"(crmsync_api_budget_ratio{crm="salesforce"})").value_or(-1);
  EXPECT_GT(budget, 0) << page;
  EXPECT_LE(budget, 1) << page;
  EXPECT_GE(metric_value(page, "crmsync_consumer_lag").value_or(-1), 0);
  EXPECT_EQ(metric_value(page, "crmsync_conflicts_open"), 0.0);
  EXPECT_EQ(metric_value(page, R"(crmsync_deadletters_total{stage="apply"})"), 0.0) << page;
  EXPECT_THAT(page, ::testing::HasSubstr("# TYPE crmsync_apply_latency_seconds histogram\n"));
  stop();
}

TEST_F(SyncEngine, ConcurrentEditsResolveByEachFieldsPolicy) {
  ASSERT_NO_FATAL_FAILURE(start(write_config()));
  std::string account = insert_account("conflicts");
  std::string deal = insert_deal(account, "conflicted", "100");
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::deal, deal, "amount", "100.00")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deal, "amount", "100.00")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::account, account, "website", "https://example.test"));
  stop();

  // Between two syncs, the same fields are edited in the PRM and in Salesforce; Salesforce last.
  scalar("UPDATE prm.accounts SET website = 'https://prm.example', name = $2, modified_by_kind = 'internal_user' "
         "WHERE id = $1 RETURNING id",
         {account, name + " conflicts prm"});
  scalar("UPDATE prm.deals SET stage = 'Qualification', description = 'prm text', modified_by_kind = 'internal_user' "
         "WHERE id = $1 RETURNING id",
         {deal});
  std::this_thread::sleep_for(milliseconds(1100));  // Salesforce stamps whole milliseconds; make it clearly later
  crm_edit(Side::salesforce, ObjectKind::account, account,
           {{"Website", FieldValue::string_value("https://sf.example")}, {"Name", FieldValue::string_value(name + " conflicts sf")}});
  crm_edit(Side::salesforce, ObjectKind::deal, deal,
           {{"StageName", FieldValue::string_value("Negotiation/Review")}, {"Description", FieldValue::string_value("sf text")}});

  ASSERT_NO_FATAL_FAILURE(start(write_config()));
  // website: prm_wins. name: latest_wins (Salesforce edited last). stage: crm_wins.
  EXPECT_TRUE(wait_for(Side::salesforce, ObjectKind::account, account, "website", "https://prm.example")) << crmsync->output();
  EXPECT_TRUE(wait_for(Side::prm, ObjectKind::account, account, "name", name + " conflicts sf")) << crmsync->output();
  EXPECT_TRUE(wait_for(Side::dynamics, ObjectKind::account, account, "website", "https://prm.example"));
  EXPECT_TRUE(wait_for(Side::dynamics, ObjectKind::account, account, "name", name + " conflicts sf"));
  EXPECT_TRUE(wait_for(Side::prm, ObjectKind::deal, deal, "stage", "negotiation")) << crmsync->output();
  EXPECT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deal, "stage", "negotiation"));
  // description: manual — queued, and each side keeps its own text.
  ASSERT_TRUE(eventually([&] {
    return state_scalar("SELECT count(*) FROM " + name + ".conflicts WHERE record_id = $1 AND field = 'description' "
                        "AND status = 'open'", {deal}) == "1";
  })) << crmsync->output();
  EXPECT_EQ(on(Side::prm, ObjectKind::deal, deal)->at("description").text, "prm text");
  EXPECT_EQ(on(Side::salesforce, ObjectKind::deal, deal)->at("description").text, "sf text");
  // The journal says how each was decided.
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = 'conflict_resolved' AND "
                         "record_id = $1 AND policy = 'prm_wins' AND detail LIKE '%\"website\"%'", {account}), "1");
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = 'conflict_resolved' AND "
                         "record_id = $1 AND policy = 'latest_wins' AND detail LIKE '%\"winner\":\"salesforce\"%'",
                         {account}), "1");
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = 'conflict_resolved' AND "
                         "record_id = $1 AND policy = 'crm_wins'", {deal}), "1");
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = 'conflict' AND "
                         "record_id = $1 AND policy = 'manual'", {deal}), "1");
  // The open one shows on /metrics (published every few seconds).
  std::optional<double> open;
  EXPECT_TRUE(eventually([&] {
    auto metrics = testing::http_get(port, "/metrics");
    open = metrics ? metric_value(metrics->body, "crmsync_conflicts_open") : std::nullopt;
    return open == 1.0;
  })) << "crmsync_conflicts_open=" << open.value_or(-1);
  stop();
}

TEST_F(SyncEngine, RedeliveryChangesNothingAndAKilledDaemonAppliesEveryChangeOnce) {
  ASSERT_NO_FATAL_FAILURE(start(write_config()));
  std::string account = insert_account("burst");
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, account, "name", name + " burst")) << crmsync->output();
  // A 1,000-change burst: 200 deals, each created and then updated four times.
  std::vector<std::string> deals;
  for (int i = 0; i < 200; ++i) deals.push_back(insert_deal(account, "burst " + std::to_string(i), std::to_string(i)));
  std::thread updates([&] {
    for (int round = 1; round <= 4; ++round) {
      for (int i = 0; i < 200; ++i) {
        (void)prm->execute("UPDATE prm.deals SET amount = $2::numeric, modified_by_kind = 'internal_user' WHERE id = $1",
                           {deals[i], std::to_string(i * 10 + round)});
      }
    }
  });
  // Kill -9 while the burst is being applied.
  ASSERT_TRUE(eventually([&] { return journal_count("applied") > 150; }, seconds(120))) << crmsync->output();
  crmsync->send_signal(SIGKILL);
  (void)crmsync->wait_for_exit(seconds(10));
  crmsync.reset();
  updates.join();
  ASSERT_NO_FATAL_FAILURE(start(write_config()));
  for (int i = 0; i < 200; ++i) {
    std::string expected = fmt::format("{}.00", i * 10 + 4);
    ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::deal, deals[i], "amount", expected, seconds(180)))
        << "deal " << i << "\n" << crmsync->output();
    ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::deal, deals[i], "amount", expected, seconds(60))) << "deal " << i;
    auto prm_fields = on(Side::prm, ObjectKind::deal, deals[i]);
    auto sf_fields = on(Side::salesforce, ObjectKind::deal, deals[i]);
    auto dv_fields = on(Side::dynamics, ObjectKind::deal, deals[i]);
    for (const char* field : {"name", "amount", "stage", "close_date", "description"}) {
      EXPECT_EQ(sf_fields->at(field), prm_fields->at(field)) << field << " deal " << i;
      EXPECT_EQ(dv_fields->at(field), prm_fields->at(field)) << field << " deal " << i;
    }
  }
  // No duplicates: every deal exists once on each CRM, and no event was applied twice.
  auto sf_count = sf_client->request("GET", "query?q=" + std::string("SELECT+COUNT()+FROM+Opportunity"), "", "count",
                                     std::chrono::steady_clock::now() + seconds(30), false);
  ASSERT_TRUE(sf_count.ok());
  EXPECT_THAT(sf_count.value().body, ::testing::HasSubstr("\"totalSize\":200"));
  EXPECT_EQ(state_scalar("SELECT count(*) FROM (SELECT event_id FROM " + name +
                         ".journal WHERE event_id <> '' AND kind = 'applied' GROUP BY event_id HAVING count(*) > 1) d"),
            "0");
  stop();

  // Re-delivery of every topic from offset 0 (a new consumer group) changes nothing: every event
  // the first group applied is found applied, no record's base moves, nothing is written again.
  std::string applied_journal = std::to_string(journal_count("applied"));
  std::string bases_before = state_scalar("SELECT md5(string_agg(base, '|' ORDER BY record_id)) FROM " + name + ".sync_records");
  long long applied_before = std::stoll(state_scalar("SELECT count(*) FROM " + name + ".applied_events"));
  ASSERT_NO_FATAL_FAILURE(start(write_config("", name + "-replay")));
  auto duplicates = [&]() -> long long {
    auto metrics = testing::http_get(port, "/metrics");
    if (!metrics) return -1;
    const std::string label = "crmsync_events_applied_total{outcome=\"duplicate\"} ";
    auto at = metrics->body.find(label);
    return at == std::string::npos ? -1 : std::stoll(metrics->body.substr(at + label.size()));
  };
  ASSERT_TRUE(eventually([&] { return duplicates() >= applied_before; }, seconds(120)))
      << "duplicates=" << duplicates() << " applied before=" << applied_before << "\n" << crmsync->output();
  EXPECT_EQ(std::to_string(journal_count("applied")), applied_journal);
  EXPECT_EQ(state_scalar("SELECT md5(string_agg(base, '|' ORDER BY record_id)) FROM " + name + ".sync_records"),
            bases_before);
  stop();
}

TEST_F(SyncEngine, ADealArrivingBeforeItsAccountIsParkedThenApplied) {
  // Salesforce capture off: the test feeds the Salesforce topic itself, deal first.
  std::string config = write_config("", "", false);
  auto account_answer = sf_client->request("POST", "sobjects/Account",
                                           fmt::format(R"({{"Name":"{} parent"}})", name), "create Account",
                                           std::chrono::steady_clock::now() + seconds(30), true);
  ASSERT_TRUE(account_answer.ok());
  std::string sf_account = account_answer.value().body.substr(account_answer.value().body.find("\"id\":\"") + 6, 18);
  auto deal_answer = sf_client->request(
      "POST", "sobjects/Opportunity",
      fmt::format(R"({{"Name":"{} child","StageName":"Prospecting","CloseDate":"2027-01-31","AccountId":"{}"}})", name,
                  sf_account),
      "create Opportunity", std::chrono::steady_clock::now() + seconds(30), true);
  ASSERT_TRUE(deal_answer.ok());
  std::string sf_deal = deal_answer.value().body.substr(deal_answer.value().body.find("\"id\":\"") + 6, 18);

  connectors::kafka::KafkaSettings kafka;
  kafka.brokers = {testing::require_service_env("CRMSYNC_KAFKA_BROKERS")};
  auto producer = connectors::kafka::KafkaProducer::create(kafka, logging.logger("producer"));
  ASSERT_TRUE(producer.ok());
  std::string topic = name + ".changes.salesforce";
  std::string deal_event = fmt::format(
      R"({{"schema":1,"event_id":"{0}-deal","source":"salesforce","object":"deal","op":"upsert",)"
      R"("ids":{{"prm":null,"salesforce":"{1}","dynamics":null}},"source_version":"2026-11-28T00:00:01.000+0000",)"
      R"("occurred_at":"2026-11-28T00:00:01Z","actor":{{"kind":"internal_user","id":"005x","partner_org":null}},)"
      R"("fields":{{"Name":"{0} child","StageName":"Prospecting","CloseDate":"2027-01-31","AccountId":"{2}"}},)"
      R"("changed":[],"sharing":{{"owner":{{"partner_org":null,"user":null}},"grants":[],"record_type":""}}}})",
      name, sf_deal, sf_account);
  std::string account_event = fmt::format(
      R"({{"schema":1,"event_id":"{0}-account","source":"salesforce","object":"account","op":"upsert",)"
      R"("ids":{{"prm":null,"salesforce":"{1}","dynamics":null}},"source_version":"2026-11-28T00:00:02.000+0000",)"
      R"("occurred_at":"2026-11-28T00:00:02Z","actor":{{"kind":"internal_user","id":"005x","partner_org":null}},)"
      R"("fields":{{"Name":"{0} parent"}},"changed":[],)"
      R"("sharing":{{"owner":{{"partner_org":null,"user":null}},"grants":[],"record_type":""}}}})",
      name, sf_account);
  ASSERT_TRUE(producer.value()->produce_and_wait(topic, "deal:sf:" + sf_deal, deal_event, seconds(30)).ok());

  ASSERT_NO_FATAL_FAILURE(start(config));
  ASSERT_TRUE(eventually([&] { return journal_count("parked") == 1; })) << crmsync->output();
  EXPECT_EQ(scalar("SELECT count(*) FROM prm.deals WHERE name = $1", {name + " child"}), "0");
  ASSERT_TRUE(producer.value()->produce_and_wait(topic, "account:sf:" + sf_account, account_event, seconds(30)).ok());
  std::string prm_account;
  ASSERT_TRUE(eventually([&] {
    prm_account = scalar("SELECT account_id::text FROM prm.deals WHERE name = $1", {name + " child"});
    return !prm_account.empty();
  })) << crmsync->output();
  EXPECT_EQ(scalar("SELECT name FROM prm.accounts WHERE id = $1::uuid", {prm_account}), name + " parent");
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".parked_events"), "0");
  stop();
}

TEST_F(SyncEngine, AnAccountDeleteThatOvertakesItsDealsDeletesWaitsForThemInsteadOfFailing) {
  // Found by the chaos suite: Salesforce deletes an account's opportunities with it, and the
  // account's delete can reach the engine before theirs; the PRM refuses it (its deals still refer
  // to the account). It must wait for them, not be dead-lettered and leave the account for good.
  // Salesforce capture off: the test feeds the Salesforce topic itself, in that order.
  std::string config = write_config("", "", false);
  auto create = [&](const std::string& object, const std::string& body) {
    auto answer = sf_client->request("POST", "sobjects/" + object, body, "create " + object,
                                     std::chrono::steady_clock::now() + seconds(30), true);
    EXPECT_TRUE(answer.ok());
    return answer.ok() ? answer.value().body.substr(answer.value().body.find("\"id\":\"") + 6, 18) : std::string();
  };
  std::string sf_account = create("Account", fmt::format(R"({{"Name":"{} parent"}})", name));
  std::string sf_deal = create("Opportunity", fmt::format(R"({{"Name":"{} child","StageName":"Prospecting",)"
                                                          R"("CloseDate":"2027-01-31","AccountId":"{}"}})",
                                                          name, sf_account));
  ASSERT_FALSE(sf_account.empty() || sf_deal.empty());
  // Versions (SystemModstamp) from now on: the engine also records the versions it reads back.
  auto event = [&](const std::string& id, const std::string& object, const std::string& op, const std::string& sf_id,
                   int second, const std::string& fields) {
    auto at = std::chrono::floor<seconds>(std::chrono::system_clock::now()) + seconds(second);
    return fmt::format(
        R"({{"schema":1,"event_id":"{0}-{1}","source":"salesforce","object":"{2}","op":"{3}",)"
        R"("ids":{{"prm":null,"salesforce":"{4}","dynamics":null}},"source_version":"{5:%Y-%m-%dT%H:%M:%S}.000+0000",)"
        R"("occurred_at":"{5:%Y-%m-%dT%H:%M:%S}Z","actor":{{"kind":"internal_user","id":"005x","partner_org":null}},)"
        R"("fields":{6},"changed":[],"sharing":{{"owner":{{"partner_org":null,"user":null}},"grants":[],"record_type":""}}}})",
        name, id, object, op, sf_id, at, fields);
  };
  connectors::kafka::KafkaSettings kafka;
  kafka.brokers = {testing::require_service_env("CRMSYNC_KAFKA_BROKERS")};
  auto producer = connectors::kafka::KafkaProducer::create(kafka, logging.logger("producer"));
  ASSERT_TRUE(producer.ok());
  std::string topic = name + ".changes.salesforce";
  auto produce = [&](const std::string& key, const std::string& value) {
    return producer.value()->produce_and_wait(topic, key, value, seconds(30)).ok();
  };
  ASSERT_TRUE(produce("account:sf:" + sf_account,
                      event("account", "account", "upsert", sf_account, 1, fmt::format(R"({{"Name":"{} parent"}})", name))));
  ASSERT_TRUE(produce("deal:sf:" + sf_deal,
                      event("deal", "deal", "upsert", sf_deal, 2,
                            fmt::format(R"({{"Name":"{} child","StageName":"Prospecting","CloseDate":"2027-01-31",)"
                                        R"("AccountId":"{}"}})",
                                        name, sf_account))));

  ASSERT_NO_FATAL_FAILURE(start(config));
  std::string prm_account;
  ASSERT_TRUE(eventually([&] {
    prm_account = scalar("SELECT account_id::text FROM prm.deals WHERE name = $1", {name + " child"});
    return !prm_account.empty();
  })) << crmsync->output();

  // The account's delete first: parked (journaled once, with what it waits for), nothing dead-lettered.
  ASSERT_TRUE(produce("account:sf:" + sf_account, event("account-delete", "account", "delete", sf_account, 60, "{}")));
  // (Dataverse's capture of the account's delete, which the engine wrote there, may be parked too.)
  ASSERT_TRUE(eventually([&] { return journal_count("parked") >= 1; })) << crmsync->output();
  EXPECT_EQ(state_scalar("SELECT string_agg(DISTINCT waiting_for, ',') FROM " + name + ".parked_events"),
            "deals-of:" + prm_account);
  EXPECT_EQ(scalar("SELECT count(*) FROM prm.accounts WHERE id = $1::uuid", {prm_account}), "1");
  EXPECT_EQ(journal_count("dead_lettered"), 0);

  // Its deal's delete: then the account goes too (the parked-events sweep), and nothing waits.
  ASSERT_TRUE(produce("deal:sf:" + sf_deal, event("deal-delete", "deal", "delete", sf_deal, 61, "{}")));
  ASSERT_TRUE(eventually([&] { return scalar("SELECT count(*) FROM prm.accounts WHERE id = $1::uuid", {prm_account}) == "0"; }))
      << crmsync->output();
  EXPECT_EQ(scalar("SELECT count(*) FROM prm.deals WHERE name = $1", {name + " child"}), "0");
  EXPECT_TRUE(eventually([&] { return state_scalar("SELECT count(*) FROM " + name + ".parked_events") == "0"; }));
  EXPECT_EQ(state_scalar("SELECT count(*) - count(DISTINCT event_id) FROM " + name + ".journal WHERE kind = 'parked'"), "0")
      << "a sweep that found the account still referenced journaled it again";
  EXPECT_EQ(journal_count("dead_lettered"), 0);
  EXPECT_EQ(state_scalar("SELECT deleted::text FROM " + name + ".sync_records WHERE object = 'account' AND record_id = $1",
                         {prm_account}),
            "true");
  stop();
}

TEST_F(SyncEngine, AMassDeleteBeyondTheGuardIsHeldForAnOperator) {
  ASSERT_NO_FATAL_FAILURE(start(write_config("delete_guard_max = 2\ndelete_guard_window = \"10m\"\n")));
  std::vector<std::string> accounts;
  for (int i = 0; i < 4; ++i) accounts.push_back(insert_account("doomed " + std::to_string(i)));
  for (const auto& account : accounts) {
    ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, account, "billing_country", "DE")) << crmsync->output();
  }
  scalar("DELETE FROM prm.accounts WHERE name LIKE $1 RETURNING id", {name + " doomed%"});
  ASSERT_TRUE(eventually([&] { return journal_count("delete_held") == 2; })) << crmsync->output();
  EXPECT_EQ(state_scalar("SELECT count(*) FROM " + name + ".held_deletes WHERE status = 'held'"), "2");
  int still_on_salesforce = 0;
  for (const auto& account : accounts) {
    if (on(Side::salesforce, ObjectKind::account, account)) ++still_on_salesforce;
  }
  EXPECT_EQ(still_on_salesforce, 2) << "two deletes applied, two held";
  stop();
}

TEST_F(SyncEngine, FirstSyncPairsExistingRecordsByMatchKeyAndParksAmbiguousOnes) {
  // Before crmsync ever ran: "twin" exists in the PRM and in Salesforce (no PRM id there);
  // "pair" exists twice in the PRM and once in Salesforce.
  auto create_in_salesforce = [&](const std::string& account_name) {
    auto created = sf_client->request("POST", "sobjects/Account",
                                      fmt::format(R"({{"Name":"{}","BillingCountry":"DE"}})", account_name),
                                      "create Account", std::chrono::steady_clock::now() + seconds(30), true);
    ASSERT_TRUE(created.ok()) << created.error().message;
  };
  auto salesforce_count = [&](const std::string& account_name) {
    auto answer = sf_client->request(
        "GET", "query?q=" + connectors::http::percent_encode("SELECT COUNT() FROM Account WHERE Name = '" + account_name + "'"),
        "", "count", std::chrono::steady_clock::now() + seconds(30), false);
    if (!answer) return -1;
    auto at = answer.value().body.find("\"totalSize\":");
    return at == std::string::npos ? -1 : std::stoi(answer.value().body.substr(at + 12));
  };
  std::string twin = insert_account("twin");
  ASSERT_NO_FATAL_FAILURE(create_in_salesforce(name + " twin"));
  insert_account("pair");
  insert_account("pair");
  ASSERT_NO_FATAL_FAILURE(create_in_salesforce(name + " pair"));

  ASSERT_NO_FATAL_FAILURE(start(write_config()));
  // The twins are paired: the Salesforce account gets the PRM id, and nothing is duplicated.
  ASSERT_TRUE(wait_for(Side::salesforce, ObjectKind::account, twin, "name", name + " twin")) << crmsync->output();
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::account, twin, "name", name + " twin")) << crmsync->output();
  EXPECT_EQ(salesforce_count(name + " twin"), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM prm.accounts WHERE name = $1", {name + " twin"}), "1");
  // Two PRM candidates for one Salesforce record: parked for an operator, not guessed.
  ASSERT_TRUE(eventually([&] {
    return state_scalar("SELECT count(*) FROM " + name + ".parked_events WHERE waiting_for = 'operator:ambiguous-match'") ==
           "3";
  })) << crmsync->output();
  EXPECT_EQ(salesforce_count(name + " pair"), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM prm.accounts WHERE name = $1", {name + " pair"}), "2");
  stop();
}

TEST_F(SyncEngine, PermanentlyFailingEventsAreDeadLetteredAndDoNotBlockTheirPartition) {
  std::string config = write_config("", "", false);
  connectors::kafka::KafkaSettings kafka;
  kafka.brokers = {testing::require_service_env("CRMSYNC_KAFKA_BROKERS")};
  auto producer = connectors::kafka::KafkaProducer::create(kafka, logging.logger("producer"));
  ASSERT_TRUE(producer.ok());
  std::string topic = name + ".changes.salesforce";
  auto event = [&](const std::string& id, const std::string& stage, const std::string& account_name) {
    return fmt::format(
        R"({{"schema":1,"event_id":"{0}-{1}","source":"salesforce","object":"account","op":"upsert",)"
        R"("ids":{{"prm":null,"salesforce":"001{1}","dynamics":null}},"source_version":"2026-11-28T00:00:01.000+0000",)"
        R"("occurred_at":"2026-11-28T00:00:01Z","actor":{{"kind":"internal_user","id":"005x","partner_org":null}},)"
        R"("fields":{{"Name":"{2}"{3}}},"changed":[],)"
        R"("sharing":{{"owner":{{"partner_org":null,"user":null}},"grants":[],"record_type":""}}}})",
        name, id, account_name, stage);
  };
  // One key (one partition): not JSON, then an event whose field value is an object (refused by
  // the event parser), then a good event that must still be applied.
  std::string key = "account:sf:same";
  ASSERT_TRUE(producer.value()->produce_and_wait(topic, key, "{not json", seconds(30)).ok());
  std::string bad = event("bad", "", "x");
  bad.replace(bad.find("\"Name\":\"x\""), 10, "\"Name\":{\"a\":1}");
  ASSERT_TRUE(producer.value()->produce_and_wait(topic, key, bad, seconds(30)).ok());
  // The good one is a real Salesforce account (the engine writes its PRM id back to it).
  auto created = sf_client->request("POST", "sobjects/Account",
                                    fmt::format(R"({{"Name":"{} after the bad ones"}})", name), "create Account",
                                    std::chrono::steady_clock::now() + seconds(30), true);
  ASSERT_TRUE(created.ok());
  std::string sf_id = created.value().body.substr(created.value().body.find("\"id\":\"") + 6, 18);
  std::string good = event("good", "", name + " after the bad ones");
  good.replace(good.find("001good"), 7, sf_id);
  ASSERT_TRUE(producer.value()->produce_and_wait(topic, key, good, seconds(30)).ok());

  ASSERT_NO_FATAL_FAILURE(start(config));
  ASSERT_TRUE(eventually([&] {
    return scalar("SELECT count(*) FROM prm.accounts WHERE name = $1", {name + " after the bad ones"}) == "1";
  })) << crmsync->output();
  EXPECT_EQ(journal_count("dead_lettered"), 2);
  std::optional<double> dead_lettered;
  EXPECT_TRUE(eventually([&] {
    auto metrics = testing::http_get(port, "/metrics");
    dead_lettered = metrics ? metric_value(metrics->body, R"(crmsync_deadletters_total{stage="apply"})") : std::nullopt;
    return dead_lettered == 2.0;
  })) << "crmsync_deadletters_total{stage=\"apply\"}=" << dead_lettered.value_or(-1);

  // Both are on the dead-letter topic with their reason.
  auto consumer = connectors::kafka::KafkaConsumer::create(kafka, testing::unique_name("dl"), logging.logger("c"));
  ASSERT_TRUE(consumer.ok());
  ASSERT_TRUE(consumer.value()->subscribe({name + ".deadletter"}).ok());
  std::vector<std::string> letters;
  auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (letters.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    auto polled = consumer.value()->poll(milliseconds(200));
    if (polled.ok() && polled.value()) letters.push_back(polled.value()->value);
  }
  ASSERT_EQ(letters.size(), 2u);
  EXPECT_THAT(letters[0], ::testing::HasSubstr("not JSON"));
  EXPECT_THAT(letters[1], ::testing::HasSubstr("fields.Name"));
  EXPECT_THAT(letters[1], ::testing::HasSubstr("\"reason\":"));
  stop();
}

// A Dataverse user edits a record after the engine read it and before the engine's write lands:
// the write carries the ETag it read (If-Match), Dataverse answers 412, and the engine reads and
// merges again, so the edit is decided by the field's policy and journaled, never silently
// overwritten. The engine's read of the record is held in the emulator (injected latency) so that
// the edit falls inside that window.
TEST_F(SyncEngine, ADataverseEditBetweenTheEnginesReadAndWriteIsAConflictNotAnOverwrite) {
  ASSERT_NO_FATAL_FAILURE(start(write_config()));
  std::string account = insert_account("etag");
  ASSERT_TRUE(wait_for(Side::dynamics, ObjectKind::account, account, "website", "https://example.test")) << crmsync->output();

  auto emulator_admin = [&](const std::string& method, const std::string& path, const std::string& body) {
    auto answer = dv_transport->send({method, dynamics_emulator->base_url() + path, {{"Content-Type", "application/json"}},
                                      body, "admin"},
                                     std::chrono::steady_clock::now() + seconds(10));
    ASSERT_TRUE(answer.ok() && answer.value().status < 300) << (answer ? answer.value().body : answer.error().message);
  };
  std::string dv_id = side_id(Side::dynamics, ObjectKind::account, account);
  ASSERT_FALSE(dv_id.empty());
  // Every read of accounts answers 4 s late, with what the table held when the request arrived.
  emulator_admin("POST", "/_emulator/faults", R"({"method":"GET","path":"/api/data/*/accounts","latency_ms":4000})");
  scalar("UPDATE prm.accounts SET website = 'https://prm-race.example', modified_by_kind = 'internal_user' "
         "WHERE id = $1 RETURNING id",
         {account});
  std::this_thread::sleep_for(milliseconds(1500));  // the engine's read is in the emulator by now
  mapping::CrmRecordWrite edit;  // a $batch by the record's id: no read on the way
  edit.object = ObjectKind::account;
  edit.prm_id = account;
  edit.crm_id = dv_id;
  edit.fields = {{"websiteurl", FieldValue::string_value("https://dv-race.example")}};
  auto edited = dynamics->write({edit}, "test-user");
  ASSERT_TRUE(edited.ok() && !edited.value()[0].error) << (edited ? edited.value()[0].error->message : edited.error().message);

  // website is prm_wins: the PRM's value ends up everywhere, and the journal holds the conflict
  // with Dataverse's value in it (an overwrite would leave no trace of it).
  ASSERT_TRUE(eventually([&] {
    return state_scalar("SELECT count(*) FROM " + name + ".journal WHERE kind = 'conflict_resolved' AND record_id = $1 "
                        "AND policy = 'prm_wins' AND detail LIKE '%dv-race.example%'", {account}) == "1";
  }, seconds(90))) << crmsync->output();
  emulator_admin("DELETE", "/_emulator/faults", "");
  EXPECT_TRUE(wait_for(Side::dynamics, ObjectKind::account, account, "website", "https://prm-race.example")) << crmsync->output();
  EXPECT_TRUE(wait_for(Side::salesforce, ObjectKind::account, account, "website", "https://prm-race.example"));
  EXPECT_TRUE(wait_for(Side::prm, ObjectKind::account, account, "website", "https://prm-race.example"));
  stop();
}

}  // namespace
}  // namespace crmsync
