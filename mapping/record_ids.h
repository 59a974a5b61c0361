#pragma once

#include <optional>
#include <string_view>

namespace crmsync::mapping {

// The systems crmsync keeps in sync. The spelling of each value is the one used in canonical
// events ("source": "prm|salesforce|dynamics") and in Kafka topic names.
enum class Side { prm, salesforce, dynamics };

// The synced object kinds ("object": "account|deal").
enum class ObjectKind { account, deal };

std::string_view to_string(Side side);
std::string_view to_string(ObjectKind kind);
std::optional<ObjectKind> parse_object_kind(std::string_view text);
std::optional<Side> parse_side(std::string_view text);

}  // namespace crmsync::mapping
