#pragma once

#include <map>
#include <string>
#include <string_view>

#include "mapping/canonical_event.h"
#include "mapping/sync_error.h"

namespace crmsync::mapping {

// Reads a canonical event (the Kafka value, DESIGN §2) as `to_json` writes it. Numbers keep their
// exact decimal text. Anything malformed (not JSON, wrong types, unknown source/object/op, missing
// event_id or record id) is an `invalid` error naming the member; the caller dead-letters the
// event. Messages never contain field values (partner data).
Result<CanonicalEvent> parse_event(std::string_view json);

// A map of field values as one JSON object (exact numbers), and back: how the state database keeps
// base snapshots and conflict values.
std::string fields_to_json(const std::map<std::string, FieldValue>& fields);
Result<std::map<std::string, FieldValue>> parse_fields_json(std::string_view json);

// A record's sharing as stored with its base (the "sharing" object of an event), and back. "{}" is
// no sharing at all.
std::string sharing_to_json(const Sharing& sharing);
Result<Sharing> parse_sharing_json(std::string_view json);

}  // namespace crmsync::mapping
