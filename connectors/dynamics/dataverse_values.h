#pragma once

// Internal to the Dataverse connector and the daemon's Dataverse adapters: how a column value in a
// Web API answer becomes a canonical field value. It names a RapidJSON type, so only .cc files
// include it (they parse the answers anyway).

#include <rapidjson/fwd.h>

#include <optional>

#include "mapping/canonical_event.h"

namespace crmsync::connectors::dynamics {

// null, strings and booleans as such; integers exactly; decimals (JSON numbers) as the shortest
// text that reads back as the same double; nothing for objects and arrays ($expand), which are
// not record fields. The capture's events and the side gateway's reads both convert through this
// one function, so a value compares equal whichever path read it.
std::optional<mapping::FieldValue> dataverse_field_value(const rapidjson::Value& value);

}  // namespace crmsync::connectors::dynamics
