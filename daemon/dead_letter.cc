#include "daemon/dead_letter.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <rapidjson/document.h>

#include <charconv>
#include <ctime>

#include "connectors/kafka/kafka_topic_reader.h"
#include "mapping/event_json.h"

namespace crmsync::daemon {

namespace {

std::string rfc3339_ms(long long epoch_ms) {
  if (epoch_ms < 0) return "";
  std::time_t seconds = static_cast<std::time_t>(epoch_ms / 1000);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", fmt::gmtime(seconds), epoch_ms % 1000);
}

// The exact text of the "event" member of a dead-letter value. The writer puts it last, and no
// earlier member (two JSON strings) can contain the unescaped sequence "event": — so the first one
// is the member's key.
std::optional<std::string> raw_event_text(const std::string& value) {
  static constexpr std::string_view kKey = "\"event\":";
  std::size_t at = value.find(kKey);
  std::size_t end = value.find_last_of('}');
  if (at == std::string::npos || end == std::string::npos || end <= at + kKey.size()) return std::nullopt;
  std::string text = value.substr(at + kKey.size(), end - at - kKey.size());
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) text.pop_back();
  return text;
}

}  // namespace

std::string dead_letter_id(int partition, long long offset) { return fmt::format("{}:{}", partition, offset); }

std::optional<std::pair<int, long long>> parse_dead_letter_id(std::string_view text) {
  std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  int partition = -1;
  long long offset = -1;
  auto [p_end, p_error] = std::from_chars(text.data(), text.data() + colon, partition);
  auto [o_end, o_error] = std::from_chars(text.data() + colon + 1, text.data() + text.size(), offset);
  if (p_error != std::errc() || p_end != text.data() + colon || o_error != std::errc() ||
      o_end != text.data() + text.size() || partition < 0 || offset < 0) {
    return std::nullopt;
  }
  return std::make_pair(partition, offset);
}

DeadLetterRecord read_dead_letter(const connectors::kafka::TopicRecord& record) {
  DeadLetterRecord letter;
  letter.partition = record.partition;
  letter.offset = record.offset;
  letter.id = dead_letter_id(record.partition, record.offset);
  letter.time = rfc3339_ms(record.timestamp_ms);
  letter.key = record.key;

  rapidjson::Document doc;
  doc.Parse(record.value.c_str(), record.value.size());
  bool ours = !doc.HasParseError() && doc.IsObject() && doc.HasMember("reason") && doc["reason"].IsString() &&
              doc.HasMember("event");
  if (!ours) {
    letter.reason = "not a crmsync dead letter (kept whole as the event text)";
    letter.event_json = record.value;
  } else {
    letter.reason = doc["reason"].GetString();
    if (doc.HasMember("instance") && doc["instance"].IsString()) letter.instance = doc["instance"].GetString();
    const rapidjson::Value& event = doc["event"];
    if (event.IsString()) {
      letter.event_json = event.GetString();  // an event that was not JSON, kept as text
    } else if (auto raw = raw_event_text(record.value)) {
      letter.event_json = std::move(*raw);
    }
  }
  if (auto parsed = mapping::parse_event(letter.event_json)) {
    letter.event = std::move(parsed).value();
    letter.source = std::string(mapping::to_string(letter.event->source));
    letter.object = std::string(mapping::to_string(letter.event->object));
    letter.event_id = letter.event->event_id;
  }
  // The key names the record by its canonical id (the engine resolved it before dead-lettering).
  if (std::size_t colon = letter.key.find(':'); colon != std::string::npos) {
    letter.object = letter.key.substr(0, colon);
    letter.record_id = letter.key.substr(colon + 1);
  }
  return letter;
}

}  // namespace crmsync::daemon
