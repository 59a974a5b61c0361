#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/metrics.h"

namespace crmsync::daemon {
namespace {

TEST(Metrics, RendersPrometheusTextFormat) {
  MetricsRegistry registry;
  registry.series("crmsync_events_total", "Events seen.", MetricType::counter,
                  {{"outcome", "applied"}, {"object", "deal"}})
      .add(3);
  registry.series("crmsync_events_total", "Events seen.", MetricType::counter,
                  {{"outcome", "denied"}, {"object", "deal"}})
      .increment();
  registry.series("crmsync_ready", "Ready.", MetricType::gauge).set(0.5);
  EXPECT_EQ(registry.render(),
            "# HELP crmsync_events_total Events seen.\n"
            "# TYPE crmsync_events_total counter\n"
            "crmsync_events_total{object=\"deal\",outcome=\"applied\"} 3\n"
            "crmsync_events_total{object=\"deal\",outcome=\"denied\"} 1\n"
            "# HELP crmsync_ready Ready.\n"
            "# TYPE crmsync_ready gauge\n"
            "crmsync_ready 0.5\n");
}

TEST(Metrics, SameNameAndLabelsIsTheSameSeries) {
  MetricsRegistry registry;
  MetricSeries& a = registry.series("x_total", "x", MetricType::counter, {{"k", "v"}});
  MetricSeries& b = registry.series("x_total", "x", MetricType::counter, {{"k", "v"}});
  EXPECT_EQ(&a, &b);
}

TEST(Metrics, LabelValuesAreEscaped) {
  MetricsRegistry registry;
  registry.series("x", "x", MetricType::gauge, {{"k", "a\"b\\c\nd"}}).set(1);
  EXPECT_THAT(registry.render(), ::testing::HasSubstr("x{k=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

TEST(Metrics, HistogramRendersCumulativeBucketsSumAndCount) {
  MetricsRegistry registry;
  MetricHistogram& latency =
      registry.histogram("crmsync_apply_latency_seconds", "Latency.", {0.1, 1, 10}, {{"source", "prm"}});
  latency.observe(0.05);
  latency.observe(0.1);  // a bound is inclusive (le)
  latency.observe(2);
  latency.observe(60);  // beyond the last bound: +Inf only
  EXPECT_EQ(registry.render(),
            "# HELP crmsync_apply_latency_seconds Latency.\n"
            "# TYPE crmsync_apply_latency_seconds histogram\n"
            "crmsync_apply_latency_seconds_bucket{source=\"prm\",le=\"0.1\"} 2\n"
            "crmsync_apply_latency_seconds_bucket{source=\"prm\",le=\"1\"} 2\n"
            "crmsync_apply_latency_seconds_bucket{source=\"prm\",le=\"10\"} 3\n"
            "crmsync_apply_latency_seconds_bucket{source=\"prm\",le=\"+Inf\"} 4\n"
            "crmsync_apply_latency_seconds_sum{source=\"prm\"} 62.15\n"
            "crmsync_apply_latency_seconds_count{source=\"prm\"} 4\n");
}

TEST(Metrics, HistogramWithoutLabelsAndTheSameSeriesTwice) {
  MetricsRegistry registry;
  MetricHistogram& a = registry.histogram("h_seconds", "h", {1});
  MetricHistogram& b = registry.histogram("h_seconds", "h", {5, 7});  // the first call's bounds stay
  EXPECT_EQ(&a, &b);
  a.observe(3);
  EXPECT_THAT(registry.render(), ::testing::HasSubstr("h_seconds_bucket{le=\"1\"} 0\nh_seconds_bucket{le=\"+Inf\"} 1\n"
                                                       "h_seconds_sum 3\nh_seconds_count 1\n"));
}

TEST(Metrics, AKindMismatchOrUnsortedBoundsIsAProgrammingError) {
  MetricsRegistry registry;
  registry.series("x_total", "x", MetricType::counter);
  EXPECT_THROW(registry.histogram("x_total", "x", {1}), std::logic_error);
  registry.histogram("h_seconds", "h", {1});
  EXPECT_THROW(registry.series("h_seconds", "h", MetricType::gauge), std::logic_error);
  EXPECT_THROW(registry.histogram("other_seconds", "h", {2, 1}), std::logic_error);
  EXPECT_THROW(registry.histogram("other_seconds", "h", {1, 1}), std::logic_error);
}

}  // namespace
}  // namespace crmsync::daemon
