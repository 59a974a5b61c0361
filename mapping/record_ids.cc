#include "mapping/record_ids.h"

namespace crmsync::mapping {

std::string_view to_string(Side side) {
  switch (side) {
    case Side::prm: return "prm";
    case Side::salesforce: return "salesforce";
    case Side::dynamics: return "dynamics";
  }
  return "unknown";
}

std::string_view to_string(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::account: return "account";
    case ObjectKind::deal: return "deal";
  }
  return "unknown";
}

std::optional<ObjectKind> parse_object_kind(std::string_view text) {
  for (ObjectKind kind : {ObjectKind::account, ObjectKind::deal}) {
    if (to_string(kind) == text) return kind;
  }
  return std::nullopt;
}

std::optional<Side> parse_side(std::string_view text) {
  for (Side side : {Side::prm, Side::salesforce, Side::dynamics}) {
    if (to_string(side) == text) return side;
  }
  return std::nullopt;
}

}  // namespace crmsync::mapping
