#include "daemon/apply_item.h"

#include <charconv>

#include <fmt/format.h>

#include "mapping/event_json.h"

namespace crmsync::daemon {

using mapping::CanonicalEvent;
using mapping::FieldValue;
using mapping::ObjectKind;
using mapping::Side;

std::string side_name(Side side) { return std::string(mapping::to_string(side)); }
std::string object_name(ObjectKind object) { return std::string(mapping::to_string(object)); }

const std::string& own_id(const CanonicalEvent& event) {
  static const std::string none;
  const std::optional<std::string>& id = event.source == Side::prm          ? event.prm_id
                                         : event.source == Side::salesforce ? event.salesforce_id
                                                                            : event.dynamics_id;
  return id ? *id : none;
}

std::optional<std::string> id_on(const state::SyncRecord& record, Side side) {
  switch (side) {
    case Side::prm: return record.on_prm ? std::optional<std::string>(record.record_id) : std::nullopt;
    case Side::salesforce: return record.salesforce_id;
    case Side::dynamics: return record.dynamics_id;
  }
  return std::nullopt;
}

void set_id_on(state::SyncRecord& record, Side side, const std::optional<std::string>& id) {
  switch (side) {
    case Side::prm: record.on_prm = true; break;
    case Side::salesforce:
      if (id) record.salesforce_id = id;
      break;
    case Side::dynamics:
      if (id) record.dynamics_id = id;
      break;
  }
}

void forget_side(state::SyncRecord& record, Side side) {
  switch (side) {
    case Side::prm: record.on_prm = false; break;
    case Side::salesforce: record.salesforce_id.reset(); break;
    case Side::dynamics: record.dynamics_id.reset(); break;
  }
  record.side_sharing.erase(side);
}

bool is_sharing_sweep(const CanonicalEvent& event) {
  return event.source != Side::prm && event.sharing_change.has_value() && event.fields.empty();
}

std::string sharing_json(const mapping::Sharing& sharing) { return mapping::sharing_to_json(sharing); }

std::string version_of(const CanonicalEvent& event) {
  if (is_sharing_sweep(event)) return "";  // "sharing:<n>": the record's sharing version, not the CRM's
  // A Dataverse delete comes from the change tracking's list of removed ids, which has no row
  // version: its source_version names the capture pass (a UUID), which compares with versions as
  // text and read as "not newer" about one time in sixteen, dropping the delete. A deleted id is
  // never used again, so a delete is never stale.
  if (event.source == Side::dynamics && event.op == CanonicalEvent::Operation::remove) return "";
  if (event.source == Side::prm) {
    for (const auto& field : event.fields) {
      if (field.name == "row_version") return field.value.text;
    }
    return "";
  }
  return event.source_version;
}

bool not_newer(std::string_view a, std::string_view b) {
  long long x = 0, y = 0;
  auto [end_a, error_a] = std::from_chars(a.data(), a.data() + a.size(), x);
  auto [end_b, error_b] = std::from_chars(b.data(), b.data() + b.size(), y);
  if (error_a == std::errc() && error_b == std::errc() && end_a == a.data() + a.size() &&
      end_b == b.data() + b.size()) {
    return x <= y;
  }
  return a <= b;
}

std::string actor_of(const CanonicalEvent& event) {
  return fmt::format("{}:{}", mapping::to_string(event.actor.kind), event.actor.id);
}

std::string json_text(std::string_view text) { return mapping::to_json_value(FieldValue::string_value(std::string(text))); }

std::string json_value(const std::optional<FieldValue>& value) {
  return value ? mapping::to_json_value(*value) : "null";
}

std::string waiting_key(Side side, const std::string& id) { return fmt::format("account:{}:{}", side_name(side), id); }

std::string referencing_deals_key(const std::string& account_id) { return "deals-of:" + account_id; }

}  // namespace crmsync::daemon
