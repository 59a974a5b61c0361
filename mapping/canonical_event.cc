#include "mapping/canonical_event.h"

#include <map>
#include <set>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace crmsync::mapping {

namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void write_string(JsonWriter& out, std::string_view text) {
  out.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

// [{"principal":…,"access":"read|edit"},…]: a sharing's grants and a sharing change's granted.
void write_grants(JsonWriter& out, const std::vector<ShareGrant>& grants) {
  out.StartArray();
  for (const ShareGrant& grant : grants) {
    out.StartObject();
    write_string(out, "principal");
    write_string(out, grant.principal);
    write_string(out, "access");
    write_string(out, to_string(grant.access));
    out.EndObject();
  }
  out.EndArray();
}

void write_optional(JsonWriter& out, std::string_view key, const std::optional<std::string>& value) {
  write_string(out, key);
  if (value) {
    write_string(out, *value);
  } else {
    out.Null();
  }
}

void write_value(JsonWriter& out, const FieldValue& value) {
  std::string json = to_json_value(value);
  out.RawValue(json.data(), json.size(), rapidjson::kStringType);
}

}  // namespace

std::string to_json_value(const FieldValue& value) {
  rapidjson::StringBuffer buffer;
  JsonWriter out(buffer);
  switch (value.kind) {
    case FieldValue::Kind::null: out.Null(); break;
    case FieldValue::Kind::string: write_string(out, value.text); break;
    case FieldValue::Kind::boolean: out.Bool(value.text == "true"); break;
    case FieldValue::Kind::number:
      // The exact decimal text, written as a JSON number. Non-finite values (NaN, Infinity are
      // valid PostgreSQL numerics but not JSON numbers) travel as strings.
      if (!value.text.empty() && value.text.find_first_not_of("0123456789.-+eE") == std::string::npos) {
        return value.text;
      }
      write_string(out, value.text);
      break;
  }
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string stable_event_id(std::string_view parts) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(parts.data(), parts.size(), digest, &length, EVP_sha256(), nullptr);
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0F) | 0x80);  // version 8 (custom)
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3F) | 0x80);  // RFC 4122 variant
  std::string hex;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) hex += '-';
    hex += fmt::format("{:02x}", digest[i]);
  }
  return hex;
}

std::string_view to_string(Actor::Kind kind) {
  switch (kind) {
    case Actor::Kind::partner_user: return "partner_user";
    case Actor::Kind::internal_user: return "internal_user";
    case Actor::Kind::integration: return "integration";
    case Actor::Kind::operator_user: return "operator";
  }
  return "integration";
}

std::string_view to_string(ShareGrant::Access access) {
  return access == ShareGrant::Access::edit ? "edit" : "read";
}

std::string kafka_key(ObjectKind object, const std::string& canonical_id) {
  return std::string(to_string(object)) + ":" + canonical_id;
}

std::string capture_key(const CanonicalEvent& event) {
  switch (event.source) {
    case Side::prm: return kafka_key(event.object, event.prm_id.value_or(""));
    case Side::salesforce:
      return kafka_key(event.object, event.prm_id && !event.prm_id->empty() ? *event.prm_id
                                                                             : "sf:" + event.salesforce_id.value_or(""));
    case Side::dynamics: return kafka_key(event.object, "dynamics:" + event.dynamics_id.value_or(""));
  }
  return kafka_key(event.object, event.prm_id.value_or(""));
}

std::string to_json(const CanonicalEvent& event) {
  rapidjson::StringBuffer buffer;
  JsonWriter out(buffer);
  out.StartObject();
  write_string(out, "schema");
  out.Int(event.schema);
  write_string(out, "event_id");
  write_string(out, event.event_id);
  write_string(out, "source");
  write_string(out, to_string(event.source));
  write_string(out, "object");
  write_string(out, to_string(event.object));
  write_string(out, "op");
  write_string(out, event.op == CanonicalEvent::Operation::upsert ? "upsert" : "delete");
  write_string(out, "ids");
  out.StartObject();
  write_optional(out, "prm", event.prm_id);
  write_optional(out, "salesforce", event.salesforce_id);
  write_optional(out, "dynamics", event.dynamics_id);
  out.EndObject();
  write_string(out, "source_version");
  write_string(out, event.source_version);
  write_string(out, "occurred_at");
  write_string(out, event.occurred_at);
  write_string(out, "actor");
  out.StartObject();
  write_string(out, "kind");
  write_string(out, to_string(event.actor.kind));
  write_string(out, "id");
  write_string(out, event.actor.id);
  write_string(out, "partner_org");
  if (event.actor.partner_org.empty()) {
    out.Null();
  } else {
    write_string(out, event.actor.partner_org);
  }
  out.EndObject();
  write_string(out, "fields");
  out.StartObject();
  for (const Field& field : event.fields) {
    write_string(out, field.name);
    write_value(out, field.value);
  }
  out.EndObject();
  write_string(out, "changed");
  out.StartArray();
  for (const auto& name : event.changed) write_string(out, name);
  out.EndArray();
  write_string(out, "sharing");
  out.StartObject();
  write_string(out, "owner");
  out.StartObject();
  write_optional(out, "partner_org", event.sharing.owner_partner_org);
  write_optional(out, "user", event.sharing.owner_user);
  out.EndObject();
  write_string(out, "grants");
  write_grants(out, event.sharing.grants);
  write_string(out, "record_type");
  write_string(out, event.sharing.record_type);
  out.EndObject();
  if (event.sharing_change) {
    const SharingChange& change = *event.sharing_change;
    write_string(out, "sharing_change");
    out.StartObject();
    if (change.owner_partner_org_changed) write_optional(out, "owner_partner_org", change.owner_partner_org);
    if (change.owner_user_changed) write_optional(out, "owner_user", change.owner_user);
    write_string(out, "granted");
    write_grants(out, change.granted);
    write_string(out, "revoked");
    out.StartArray();
    for (const auto& principal : change.revoked) write_string(out, principal);
    out.EndArray();
    out.EndObject();
  }
  if (!event.observed_side_sharing.empty()) {
    write_string(out, "observed_side_sharing");
    out.RawValue(event.observed_side_sharing.data(), event.observed_side_sharing.size(), rapidjson::kObjectType);
  }
  if (event.snapshot) {
    write_string(out, "snapshot");
    out.Bool(true);
  }
  if (event.resolves_conflict) {
    write_string(out, "resolves_conflict");
    out.Int64(*event.resolves_conflict);
  }
  if (!event.repairs_drift.empty()) {
    write_string(out, "repairs_drift");
    out.StartArray();
    for (const auto& drift : event.repairs_drift) write_string(out, drift);
    out.EndArray();
  }
  out.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Sharing apply_sharing_change(Sharing sharing, const SharingChange& change) {
  if (change.owner_partner_org_changed) sharing.owner_partner_org = change.owner_partner_org;
  if (change.owner_user_changed) sharing.owner_user = change.owner_user;
  std::map<std::string, ShareGrant::Access> grants;
  for (const auto& grant : sharing.grants) grants[grant.principal] = grant.access;
  for (const auto& principal : change.revoked) grants.erase(principal);
  for (const auto& grant : change.granted) grants[grant.principal] = grant.access;
  sharing.grants.clear();
  for (const auto& [principal, access] : grants) sharing.grants.push_back({principal, access});
  return sharing;
}

SharingChange sharing_difference(const Sharing& before, const Sharing& after) {
  SharingChange change;
  if (before.owner_partner_org != after.owner_partner_org) {
    change.owner_partner_org_changed = true;
    change.owner_partner_org = after.owner_partner_org;
  }
  if (before.owner_user != after.owner_user) {
    change.owner_user_changed = true;
    change.owner_user = after.owner_user;
  }
  std::map<std::string, ShareGrant::Access> old_grants;
  for (const auto& grant : before.grants) old_grants[grant.principal] = grant.access;
  std::set<std::string> kept;
  for (const auto& grant : after.grants) {
    kept.insert(grant.principal);
    auto found = old_grants.find(grant.principal);
    if (found == old_grants.end() || found->second != grant.access) change.granted.push_back(grant);
  }
  for (const auto& [principal, access] : old_grants) {
    if (kept.count(principal) == 0) change.revoked.push_back(principal);
  }
  return change;
}

}  // namespace crmsync::mapping
