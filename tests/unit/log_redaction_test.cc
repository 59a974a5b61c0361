#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "daemon/logging.h"

namespace crmsync::daemon {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kCanary = "canary-S3cr3t-7f1e";

struct CapturedLines {
  std::vector<std::string> lines;
  LogLineWriter writer() {
    return [this](std::string_view line) { lines.emplace_back(line); };
  }
  std::string all() const {
    std::string text;
    for (const auto& line : lines) text += line;
    return text;
  }
};

class LogRedaction : public ::testing::TestWithParam<LogFormat> {};

TEST_P(LogRedaction, CanarySecretNeverReachesALine) {
  CapturedLines captured;
  auto redactor = std::make_shared<LogRedactor>();
  redactor->add_secret(kCanary);
  Logging logging(GetParam(), LogLevel::trace, redactor, captured.writer());
  auto state_log = logging.logger("state");
  auto kafka_log = logging.logger("kafka");

  state_log->info("connecting url=postgresql://crmsync:{}@db/crmsync", kCanary);
  kafka_log->error("sasl failed password={} attempt={}", kCanary, 3);
  state_log->debug(std::string("embedded") + kCanary + "embedded");
  kafka_log->warn("twice {} and {}", kCanary, kCanary);

  ASSERT_EQ(captured.lines.size(), 4u);
  EXPECT_THAT(captured.all(), Not(HasSubstr(kCanary)));
  EXPECT_THAT(captured.lines[0], HasSubstr("postgresql://crmsync:***@db/crmsync"));
  EXPECT_THAT(captured.lines[1], HasSubstr("attempt=3"));
  EXPECT_THAT(captured.lines[3], HasSubstr("twice *** and ***"));
}

TEST_P(LogRedaction, SecretsRegisteredLaterAreMaskedFromThenOn) {
  CapturedLines captured;
  auto redactor = std::make_shared<LogRedactor>();
  Logging logging(GetParam(), LogLevel::info, redactor, captured.writer());
  auto log = logging.logger("secrets");
  redactor->add_secret("rotated-token-abc123");
  log->info("token=rotated-token-abc123");
  EXPECT_THAT(captured.all(), Not(HasSubstr("rotated-token-abc123")));
}

TEST_P(LogRedaction, StraySpdlogDefaultLoggerIsRedactedToo) {
  CapturedLines captured;
  auto redactor = std::make_shared<LogRedactor>();
  redactor->add_secret(kCanary);
  auto previous = spdlog::default_logger();
  {
    Logging logging(GetParam(), LogLevel::info, redactor, captured.writer());
    logging.install_as_default();
    spdlog::info("third-party code logged {}", kCanary);
  }
  spdlog::set_default_logger(previous);
  ASSERT_EQ(captured.lines.size(), 1u);
  EXPECT_THAT(captured.lines[0], Not(HasSubstr(kCanary)));
}

TEST_P(LogRedaction, SecretThatJsonEscapingWouldChangeIsMaskedBeforeFormatting) {
  CapturedLines captured;
  auto redactor = std::make_shared<LogRedactor>();
  redactor->add_secret("quote\"back\\slash");
  Logging logging(GetParam(), LogLevel::info, redactor, captured.writer());
  logging.logger("x")->info("value={}", "quote\"back\\slash");
  EXPECT_THAT(captured.all(), Not(HasSubstr("quote")));
  EXPECT_THAT(captured.all(), HasSubstr("value=***"));
}

INSTANTIATE_TEST_SUITE_P(BothFormats, LogRedaction,
                         ::testing::Values(LogFormat::json, LogFormat::text));

TEST(LogRedactor, LongerSecretContainingAShorterOneIsMaskedWhole) {
  LogRedactor redactor;
  redactor.add_secret("abcd");
  redactor.add_secret("xxabcdxx");
  EXPECT_EQ(redactor.redact("a xxabcdxx b abcd"), "a *** b ***");
}

TEST(LogRedactor, EmptySecretIsIgnored) {
  LogRedactor redactor;
  redactor.add_secret("");
  EXPECT_EQ(redactor.secret_count(), 0u);
  EXPECT_EQ(redactor.redact("unchanged"), "unchanged");
}

TEST(Logging, JsonLinesAreOneObjectPerLineWithEscapedMessage) {
  CapturedLines captured;
  Logging logging(LogFormat::json, LogLevel::info, std::make_shared<LogRedactor>(),
                  captured.writer());
  logging.logger("daemon")->warn("line one\nline \"two\" id={}", 42);
  ASSERT_EQ(captured.lines.size(), 1u);
  const std::string& line = captured.lines[0];
  EXPECT_TRUE(line.starts_with("{\"time\":\"")) << line;
  EXPECT_THAT(line, HasSubstr("\"level\":\"warning\",\"logger\":\"daemon\","));
  EXPECT_THAT(line, HasSubstr("\"msg\":\"line one\\nline \\\"two\\\" id=42\"}"));
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST(Logging, LevelChangeAppliesToExistingLoggers) {
  CapturedLines captured;
  Logging logging(LogFormat::text, LogLevel::info, std::make_shared<LogRedactor>(),
                  captured.writer());
  auto log = logging.logger("daemon");
  log->debug("hidden");
  logging.set_level(LogLevel::debug);
  log->debug("shown");
  ASSERT_EQ(captured.lines.size(), 1u);
  EXPECT_THAT(captured.lines[0], HasSubstr("shown"));
}

}  // namespace
}  // namespace crmsync::daemon
