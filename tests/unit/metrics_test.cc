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

}  // namespace
}  // namespace crmsync::daemon
