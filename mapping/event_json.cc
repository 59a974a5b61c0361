#include "mapping/event_json.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace crmsync::mapping {

namespace {

using rapidjson::Value;

SyncError malformed(std::string_view what) {
  return {ErrorClass::invalid,
          fmt::format("canonical event: {}; the event is dead-lettered", what)};
}

std::optional<std::string> string_member(const Value& object, const char* name) {
  auto member = object.FindMember(name);
  if (member == object.MemberEnd() || !member->value.IsString()) return std::nullopt;
  return std::string(member->value.GetString(), member->value.GetStringLength());
}

// Optional string: absent or null → nothing; a non-string is an error.
Result<std::optional<std::string>> nullable_string(const Value& object, const char* name,
                                                   std::string_view where) {
  auto member = object.FindMember(name);
  if (member == object.MemberEnd() || member->value.IsNull()) return std::optional<std::string>{};
  if (!member->value.IsString())
    return malformed(fmt::format("{}.{} must be a string or null", where, name));
  return std::optional<std::string>(
      std::string(member->value.GetString(), member->value.GetStringLength()));
}

Result<FieldValue> field_value(const Value& typed, const Value& exact, std::string_view name) {
  if (typed.IsNull()) return FieldValue::null_value();
  if (typed.IsBool()) return FieldValue::boolean_value(typed.GetBool());
  if (typed.IsString())
    return FieldValue::string_value(std::string(typed.GetString(), typed.GetStringLength()));
  if (typed.IsNumber() && exact.IsString()) {
    return FieldValue::number_value(std::string(exact.GetString(), exact.GetStringLength()));
  }
  return malformed(fmt::format("fields.{} must be a string, number, boolean or null", name));
}

Result<Actor> parse_actor(const Value& root) {
  Actor actor;
  auto member = root.FindMember("actor");
  if (member == root.MemberEnd() || member->value.IsNull()) return actor;
  if (!member->value.IsObject()) return malformed("actor must be an object");
  const Value& value = member->value;
  std::string kind = string_member(value, "kind").value_or("integration");
  if (kind == "partner_user") {
    actor.kind = Actor::Kind::partner_user;
  } else if (kind == "internal_user") {
    actor.kind = Actor::Kind::internal_user;
  } else if (kind == "integration") {
    actor.kind = Actor::Kind::integration;
  } else if (kind == "operator") {
    actor.kind = Actor::Kind::operator_user;
  } else {
    return malformed("actor.kind must be partner_user, internal_user, integration or operator");
  }
  actor.id = string_member(value, "id").value_or("");
  actor.partner_org = string_member(value, "partner_org").value_or("");
  return actor;
}

Result<Sharing> parse_sharing_value(const Value& value) {
  Sharing sharing;
  if (!value.IsObject()) return malformed("sharing must be an object");
  if (auto owner = value.FindMember("owner");
      owner != value.MemberEnd() && !owner->value.IsNull()) {
    if (!owner->value.IsObject()) return malformed("sharing.owner must be an object");
    auto org = nullable_string(owner->value, "partner_org", "sharing.owner");
    if (!org) return org.error();
    auto user = nullable_string(owner->value, "user", "sharing.owner");
    if (!user) return user.error();
    sharing.owner_partner_org = std::move(org).value();
    sharing.owner_user = std::move(user).value();
  }
  if (auto grants = value.FindMember("grants");
      grants != value.MemberEnd() && !grants->value.IsNull()) {
    if (!grants->value.IsArray()) return malformed("sharing.grants must be an array");
    for (const Value& grant : grants->value.GetArray()) {
      if (!grant.IsObject()) return malformed("sharing.grants[] must be objects");
      auto principal = string_member(grant, "principal");
      auto access = string_member(grant, "access");
      if (!principal || principal->empty())
        return malformed("sharing.grants[].principal must be a non-empty string");
      if (!access || (*access != "read" && *access != "edit")) {
        return malformed("sharing.grants[].access must be \"read\" or \"edit\"");
      }
      sharing.grants.push_back(
          {*principal, *access == "edit" ? ShareGrant::Access::edit : ShareGrant::Access::read});
    }
  }
  sharing.record_type = string_member(value, "record_type").value_or("");
  return sharing;
}

Result<Sharing> parse_sharing(const Value& root) {
  auto member = root.FindMember("sharing");
  if (member == root.MemberEnd() || member->value.IsNull()) return Sharing{};
  return parse_sharing_value(member->value);
}

Result<std::optional<SharingChange>> parse_sharing_change(const Value& root) {
  auto member = root.FindMember("sharing_change");
  if (member == root.MemberEnd() || member->value.IsNull()) return std::optional<SharingChange>{};
  if (!member->value.IsObject()) return malformed("sharing_change must be an object");
  const Value& value = member->value;
  SharingChange change;
  if (value.HasMember("owner_partner_org")) {
    auto org = nullable_string(value, "owner_partner_org", "sharing_change");
    if (!org) return org.error();
    change.owner_partner_org_changed = true;
    change.owner_partner_org = std::move(org).value();
  }
  if (value.HasMember("owner_user")) {
    auto user = nullable_string(value, "owner_user", "sharing_change");
    if (!user) return user.error();
    change.owner_user_changed = true;
    change.owner_user = std::move(user).value();
  }
  if (auto granted = value.FindMember("granted"); granted != value.MemberEnd() && !granted->value.IsNull()) {
    if (!granted->value.IsArray()) return malformed("sharing_change.granted must be an array");
    for (const Value& grant : granted->value.GetArray()) {
      if (!grant.IsObject()) return malformed("sharing_change.granted[] must be objects");
      auto principal = string_member(grant, "principal");
      auto access = string_member(grant, "access");
      if (!principal || principal->empty())
        return malformed("sharing_change.granted[].principal must be a non-empty string");
      if (!access || (*access != "read" && *access != "edit"))
        return malformed("sharing_change.granted[].access must be \"read\" or \"edit\"");
      change.granted.push_back({*principal, *access == "edit" ? ShareGrant::Access::edit : ShareGrant::Access::read});
    }
  }
  if (auto revoked = value.FindMember("revoked"); revoked != value.MemberEnd() && !revoked->value.IsNull()) {
    if (!revoked->value.IsArray()) return malformed("sharing_change.revoked must be an array of principals");
    for (const Value& principal : revoked->value.GetArray()) {
      if (!principal.IsString() || principal.GetStringLength() == 0)
        return malformed("sharing_change.revoked must be an array of non-empty principals");
      change.revoked.emplace_back(principal.GetString(), principal.GetStringLength());
    }
  }
  return std::optional<SharingChange>{std::move(change)};
}

}  // namespace

Result<CanonicalEvent> parse_event(std::string_view json) {
  // Two parses: one for the types, one that keeps every number's exact text (money must not pass
  // through a double).
  rapidjson::Document typed;
  typed.Parse(json.data(), json.size());
  if (typed.HasParseError()) {
    return malformed(fmt::format("not JSON ({} at offset {})",
                                 rapidjson::GetParseError_En(typed.GetParseError()),
                                 typed.GetErrorOffset()));
  }
  if (!typed.IsObject()) return malformed("the value is not a JSON object");
  rapidjson::Document exact;
  exact.Parse<rapidjson::kParseNumbersAsStringsFlag>(json.data(), json.size());

  CanonicalEvent event;
  if (auto schema = typed.FindMember("schema"); schema != typed.MemberEnd()) {
    if (!schema->value.IsInt() || schema->value.GetInt() != 1)
      return malformed("schema must be 1 (this crmsync reads schema 1)");
  }
  auto event_id = string_member(typed, "event_id");
  if (!event_id || event_id->empty()) return malformed("event_id is missing");
  event.event_id = *event_id;

  auto source = string_member(typed, "source").value_or("");
  if (source == "prm") {
    event.source = Side::prm;
  } else if (source == "salesforce") {
    event.source = Side::salesforce;
  } else if (source == "dynamics") {
    event.source = Side::dynamics;
  } else {
    return malformed("source must be prm, salesforce or dynamics");
  }
  auto object = parse_object_kind(string_member(typed, "object").value_or(""));
  if (!object) return malformed("object must be account or deal");
  event.object = *object;
  auto op = string_member(typed, "op").value_or("");
  if (op == "upsert") {
    event.op = CanonicalEvent::Operation::upsert;
  } else if (op == "delete") {
    event.op = CanonicalEvent::Operation::remove;
  } else {
    return malformed("op must be upsert or delete");
  }

  if (auto ids = typed.FindMember("ids"); ids != typed.MemberEnd()) {
    if (!ids->value.IsObject()) return malformed("ids must be an object");
    auto prm = nullable_string(ids->value, "prm", "ids");
    if (!prm) return prm.error();
    auto salesforce = nullable_string(ids->value, "salesforce", "ids");
    if (!salesforce) return salesforce.error();
    auto dynamics = nullable_string(ids->value, "dynamics", "ids");
    if (!dynamics) return dynamics.error();
    event.prm_id = std::move(prm).value();
    event.salesforce_id = std::move(salesforce).value();
    event.dynamics_id = std::move(dynamics).value();
  }
  const std::optional<std::string>& own_id = event.source == Side::prm ? event.prm_id
                                             : event.source == Side::salesforce
                                                 ? event.salesforce_id
                                                 : event.dynamics_id;
  if (!own_id || own_id->empty())
    return malformed(fmt::format("ids.{} is missing (the source's own id)", source));

  event.source_version = string_member(typed, "source_version").value_or("");
  event.occurred_at = string_member(typed, "occurred_at").value_or("");
  auto actor = parse_actor(typed);
  if (!actor) return actor.error();
  event.actor = std::move(actor).value();

  if (auto fields = typed.FindMember("fields");
      fields != typed.MemberEnd() && !fields->value.IsNull()) {
    if (!fields->value.IsObject()) return malformed("fields must be an object");
    const Value& exact_fields = exact["fields"];
    for (const auto& member : fields->value.GetObject()) {
      std::string name(member.name.GetString(), member.name.GetStringLength());
      auto value = field_value(member.value, exact_fields[member.name], name);
      if (!value) return value.error();
      event.fields.push_back({std::move(name), std::move(value).value()});
    }
  }
  if (auto changed = typed.FindMember("changed");
      changed != typed.MemberEnd() && !changed->value.IsNull()) {
    if (!changed->value.IsArray()) return malformed("changed must be an array of field names");
    for (const Value& name : changed->value.GetArray()) {
      if (!name.IsString()) return malformed("changed must be an array of field names");
      event.changed.emplace_back(name.GetString(), name.GetStringLength());
    }
  }
  auto sharing = parse_sharing(typed);
  if (!sharing) return sharing.error();
  event.sharing = std::move(sharing).value();
  auto sharing_change = parse_sharing_change(typed);
  if (!sharing_change) return sharing_change.error();
  event.sharing_change = std::move(sharing_change).value();
  if (auto observed = typed.FindMember("observed_side_sharing");
      observed != typed.MemberEnd() && !observed->value.IsNull()) {
    if (!observed->value.IsObject()) return malformed("observed_side_sharing must be an object");
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    observed->value.Accept(writer);
    event.observed_side_sharing.assign(buffer.GetString(), buffer.GetSize());
  }
  if (auto snapshot = typed.FindMember("snapshot");
      snapshot != typed.MemberEnd() && snapshot->value.IsBool()) {
    event.snapshot = snapshot->value.GetBool();
  }
  if (auto resolves = typed.FindMember("resolves_conflict");
      resolves != typed.MemberEnd() && !resolves->value.IsNull()) {
    if (!resolves->value.IsInt64() || resolves->value.GetInt64() <= 0) {
      return malformed("resolves_conflict must be a positive integer (a conflict id)");
    }
    if (event.actor.kind != Actor::Kind::operator_user) return malformed("resolves_conflict needs an operator actor");
    event.resolves_conflict = resolves->value.GetInt64();
  }
  if (auto repairs = typed.FindMember("repairs_drift"); repairs != typed.MemberEnd() && !repairs->value.IsNull()) {
    if (!repairs->value.IsArray() || repairs->value.Empty()) {
      return malformed("repairs_drift must be a non-empty array of drift kinds");
    }
    for (const auto& drift : repairs->value.GetArray()) {
      if (!drift.IsString() || drift.GetStringLength() == 0) return malformed("repairs_drift entries must be non-empty strings");
      event.repairs_drift.emplace_back(drift.GetString(), drift.GetStringLength());
    }
  }
  return event;
}

std::string fields_to_json(const std::map<std::string, FieldValue>& fields) {
  std::string out = "{";
  for (const auto& [name, value] : fields) {
    if (out.size() > 1) out += ',';
    out += to_json_value(FieldValue::string_value(name));
    out += ':';
    out += to_json_value(value);
  }
  return out + "}";
}

Result<std::map<std::string, FieldValue>> parse_fields_json(std::string_view json) {
  rapidjson::Document typed;
  typed.Parse(json.data(), json.size());
  if (typed.HasParseError() || !typed.IsObject()) {
    return SyncError{ErrorClass::fatal,
                     "stored field values are not a JSON object (state database damaged?)"};
  }
  rapidjson::Document exact;
  exact.Parse<rapidjson::kParseNumbersAsStringsFlag>(json.data(), json.size());
  std::map<std::string, FieldValue> fields;
  for (const auto& member : typed.GetObject()) {
    std::string name(member.name.GetString(), member.name.GetStringLength());
    auto value = field_value(member.value, exact[member.name], name);
    if (!value)
      return SyncError{ErrorClass::fatal, "stored field values: " + value.error().message};
    fields.emplace(std::move(name), std::move(value).value());
  }
  return fields;
}

std::string sharing_to_json(const Sharing& sharing) {
  auto optional_text = [](const std::optional<std::string>& text) {
    return text ? to_json_value(FieldValue::string_value(*text)) : std::string("null");
  };
  std::string out = "{\"owner\":{\"partner_org\":" + optional_text(sharing.owner_partner_org) +
                    ",\"user\":" + optional_text(sharing.owner_user) + "},\"grants\":[";
  bool first = true;
  for (const auto& grant : sharing.grants) {
    if (!first) out += ',';
    first = false;
    out += "{\"principal\":" + to_json_value(FieldValue::string_value(grant.principal)) + ",\"access\":\"" +
           std::string(to_string(grant.access)) + "\"}";
  }
  return out + "]}";
}

Result<Sharing> parse_sharing_json(std::string_view json) {
  rapidjson::Document document;
  document.Parse(json.data(), json.size());
  if (document.HasParseError()) return malformed("stored sharing is not JSON");
  if (document.IsObject() && document.ObjectEmpty()) return Sharing{};
  return parse_sharing_value(document);
}

}  // namespace crmsync::mapping
