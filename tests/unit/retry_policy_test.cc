#include <gtest/gtest.h>

#include "mapping/retry_policy.h"

namespace crmsync::mapping {
namespace {

using std::chrono::milliseconds;

TEST(RetryPolicy, GrowsExponentiallyUpToTheCap) {
  RetryPolicy policy{milliseconds(100), milliseconds(1000), 2.0, 0.0};
  auto middle = [] { return 0.5; };
  EXPECT_EQ(policy.delay_for_attempt(0, middle), milliseconds(100));
  EXPECT_EQ(policy.delay_for_attempt(1, middle), milliseconds(200));
  EXPECT_EQ(policy.delay_for_attempt(3, middle), milliseconds(800));
  EXPECT_EQ(policy.delay_for_attempt(4, middle), milliseconds(1000));
  EXPECT_EQ(policy.delay_for_attempt(400, middle), milliseconds(1000));
}

TEST(RetryPolicy, JitterSpreadsAroundTheBaseAndNeverPassesTheCap) {
  RetryPolicy policy{milliseconds(1000), milliseconds(10'000), 2.0, 0.2};
  EXPECT_EQ(policy.delay_for_attempt(0, [] { return 0.0; }), milliseconds(800));
  EXPECT_EQ(policy.delay_for_attempt(0, [] { return 0.5; }), milliseconds(1000));
  EXPECT_EQ(policy.delay_for_attempt(0, [] { return 0.999999; }), milliseconds(1200));
  EXPECT_EQ(policy.delay_for_attempt(10, [] { return 0.999999; }), milliseconds(10'000));
}

TEST(RetryPolicy, ProductionRandomStaysInRange) {
  auto uniform = make_uniform_random();
  for (int i = 0; i < 1000; ++i) {
    double value = uniform();
    ASSERT_GE(value, 0.0);
    ASSERT_LT(value, 1.0);
  }
}

}  // namespace
}  // namespace crmsync::mapping
