#include "tests/emulators/fault_rules.h"

#include <gtest/gtest.h>

namespace crmsync::emulators {
namespace {

TEST(GlobMatch, StarsMatchAnyRun) {
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("/services/data/*/query*", "/services/data/v59.0/query/01g-2000"));
  EXPECT_TRUE(glob_match("*/accounts*", "/api/data/v9.2/accounts(1)"));
  EXPECT_FALSE(glob_match("/services/*/limits", "/services/data/v59.0/sobjects"));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXXbYY"));
}

TEST(FaultRules, MatchByMethodAndPathForTheNextNRequests) {
  FaultRules rules;
  FaultRule rule;
  rule.method = "POST";
  rule.path_pattern = "*/sobjects/*";
  rule.status = 503;
  rule.times = 2;
  rules.add(rule);
  EXPECT_FALSE(rules.match("GET", "/services/data/v59.0/sobjects/Account"));
  EXPECT_TRUE(rules.match("post", "/services/data/v59.0/sobjects/Account"));
  EXPECT_TRUE(rules.match("POST", "/services/data/v59.0/sobjects/Account"));
  EXPECT_FALSE(rules.match("POST", "/services/data/v59.0/sobjects/Account"));
  EXPECT_EQ(rules.size(), 0u);
}

TEST(FaultRules, InBatchRulesMatchOnlyBatchPartsAndOthersOnlyWholeRequests) {
  FaultRules rules;
  FaultRule part;
  part.path_pattern = "/api/data/*/RetrieveSharedPrincipalsAndAccess*";
  part.status = 429;
  part.in_batch = true;
  part.times = 1;
  rules.add(part);
  FaultRule whole;
  whole.path_pattern = "/api/data/*/accounts*";
  whole.status = 503;
  rules.add(whole);
  EXPECT_FALSE(rules.match("GET", "/api/data/v9.2/RetrieveSharedPrincipalsAndAccess(Target=@t)"));
  EXPECT_FALSE(rules.match("GET", "/api/data/v9.2/accounts", true));
  auto fired =
      rules.match("GET", "/api/data/v9.2/RetrieveSharedPrincipalsAndAccess(Target=@t)", true);
  ASSERT_TRUE(fired);
  EXPECT_EQ(fired->status, 429);
  EXPECT_TRUE(rules.match("GET", "/api/data/v9.2/accounts"));
  EXPECT_EQ(rules.size(), 1u);
}

TEST(FaultRules, UnlimitedRulesStayUntilCleared) {
  FaultRules rules;
  FaultRule rule;
  rule.status = 500;
  rules.add(rule);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(rules.match("GET", "/x"));
  rules.clear();
  EXPECT_FALSE(rules.match("GET", "/x"));
}

TEST(FaultRules, ProbabilityIsDeterministicForASeed) {
  auto pattern = [](std::uint64_t seed) {
    FaultRules rules;
    FaultRule rule;
    rule.status = 500;
    rule.probability = 0.3;
    rule.seed = seed;
    rules.add(rule);
    std::string out;
    for (int i = 0; i < 64; ++i) out += rules.match("GET", "/x") ? 'x' : '.';
    return out;
  };
  EXPECT_EQ(pattern(5), pattern(5));
  EXPECT_NE(pattern(5), pattern(6));
  std::string p = pattern(5);
  auto fired = std::count(p.begin(), p.end(), 'x');
  EXPECT_GT(fired, 5);
  EXPECT_LT(fired, 35);
}

TEST(FaultRules, FirstMatchingRuleWins) {
  FaultRules rules;
  FaultRule slow;
  slow.latency = std::chrono::milliseconds(10);
  slow.path_pattern = "/a*";
  FaultRule failing;
  failing.status = 429;
  rules.add(slow);
  rules.add(failing);
  EXPECT_EQ(rules.match("GET", "/a")->latency.count(), 10);
  EXPECT_EQ(rules.match("GET", "/b")->status, 429);
}

}  // namespace
}  // namespace crmsync::emulators
