#pragma once

// Internal to the Salesforce connector and the daemon's Salesforce adapters: how a value in a
// Salesforce REST answer becomes a canonical field value. It names a RapidJSON type, so only .cc
// files include it (they parse the answers anyway).

#include <rapidjson/fwd.h>

#include "mapping/canonical_event.h"

namespace crmsync::connectors::salesforce {

// null, booleans and strings as such; numbers with the digits Salesforce sent; anything else
// (compound fields such as addresses) as its JSON text. The capture's events and the side
// gateway's reads both convert through this one function, so a value compares equal whichever
// path read it.
mapping::FieldValue salesforce_field_value(const rapidjson::Value& value);

}  // namespace crmsync::connectors::salesforce
