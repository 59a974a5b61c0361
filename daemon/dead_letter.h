#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "mapping/canonical_event.h"

namespace crmsync::connectors::kafka {
struct TopicRecord;
}

namespace crmsync::daemon {

// One record of the dead-letter topic `<prefix>.deadletter`, as the apply workers write it
// (daemon/apply_service.cc: {"reason":…,"instance":…,"event":<the original event>}), read for
// `crmsync dead-letters`.
//
// Its id is its place on the topic, "<partition>:<offset>" (e.g. "0:17"): stable for as long as
// the topic keeps the record, unique even when one event was dead-lettered more than once (once
// per refusing side, or again after a retry), which the event id is not.
struct DeadLetterRecord {
  std::string id;
  int partition = -1;
  long long offset = -1;
  std::string time;       // when it was dead-lettered (the record's timestamp), RFC 3339, "" if unknown
  std::string key;        // "object:canonical id" ("" for an event that could not be read at all)
  std::string reason;
  std::string instance;   // the daemon instance that dead-lettered it
  std::string event_json; // the original event, exactly as it was consumed
  std::optional<mapping::CanonicalEvent> event;  // when event_json is a readable canonical event
  std::string source;     // prm | salesforce | dynamics ("" when unknown)
  std::string object;     // account | deal ("" when unknown)
  std::string record_id;  // canonical id ("" when unknown)
  std::string event_id;   // "" when unknown
};

std::string dead_letter_id(int partition, long long offset);
// "0:17" → {0, 17}; nothing when it is not that shape.
std::optional<std::pair<int, long long>> parse_dead_letter_id(std::string_view text);

// Reads a dead-letter topic record. A value that is not a crmsync dead letter is kept whole as
// the event text with a reason that says so (it is listed, never dropped).
DeadLetterRecord read_dead_letter(const connectors::kafka::TopicRecord& record);

}  // namespace crmsync::daemon
