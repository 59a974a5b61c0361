#include "daemon/drift_scan.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "daemon/sharing_sweep.h"
#include "daemon/side_gateway.h"
#include "mapping/principal_map.h"
#include "mapping/sharing_rules.h"
#include "state/state_database.h"
#include "state/sync_record_store.h"

namespace crmsync::daemon {

namespace {

using mapping::CanonicalEvent;
using mapping::CanonicalFields;
using mapping::FieldValue;
using mapping::ObjectKind;
using mapping::Side;

// A decimal's digits without sign noise, leading zeros or trailing fraction zeros: "-0120.500" ->
// "-120.5". Nothing when the text is not a plain decimal (then values compare as text).
std::optional<std::string> normalized_decimal(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  auto point = text.find('.');
  std::string_view whole = text.substr(0, point);
  std::string_view fraction = point == std::string_view::npos ? std::string_view() : text.substr(point + 1);
  if (whole.empty() && fraction.empty()) return std::nullopt;
  for (char c : whole) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  for (char c : fraction) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  while (!whole.empty() && whole.front() == '0') whole.remove_prefix(1);
  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  std::string out = whole.empty() ? "0" : std::string(whole);
  if (!fraction.empty()) out += "." + std::string(fraction);
  if (negative && out != "0") out = "-" + out;
  return out;
}

std::string side_name(Side side) { return std::string(mapping::to_string(side)); }

std::string value_json(const CanonicalFields& values, const std::string& name) {
  auto found = values.find(name);
  return found == values.end() ? "null" : mapping::to_json_value(found->second);
}

mapping::Sharing without_record_type(mapping::Sharing sharing) {
  sharing.record_type.clear();
  return sharing;
}

std::string access_name(mapping::ShareGrant::Access access) { return std::string(mapping::to_string(access)); }

}  // namespace

bool same_canonical_value(const FieldValue& a, const FieldValue& b) {
  if (a == b) return true;
  if (a.kind == FieldValue::Kind::number && b.kind == FieldValue::Kind::number) {
    auto left = normalized_decimal(a.text);
    auto right = normalized_decimal(b.text);
    return left && right && *left == *right;
  }
  return false;
}

struct DriftScanner::Impl {
  const mapping::MappingDefinition& mapping;
  const mapping::ObjectMapping& object_mapping;
  ObjectKind object;
  Side crm;
  std::shared_ptr<const mapping::PrincipalMap> principals;
  state::StateDatabase& state;
  SideGateway& prm;
  SideGateway& crm_gateway;
  CrmSharingSource& crm_sharing;
  std::vector<const mapping::FieldMapping*> compared;    // bound on the PRM and the CRM
  std::vector<const mapping::FieldMapping*> references;  // account references of the object
  std::vector<std::string> prm_native;
  std::vector<std::string> crm_native;

  // The state database's view of `ids`: synced records and fields with an open manual conflict.
  struct Known {
    std::map<std::string, state::SyncRecord> records;
    std::map<std::string, std::set<std::string>> open_conflicts;
  };

  mapping::Result<Known> load_known(const std::vector<std::string>& ids) {
    Known known;
    auto loaded = state.in_transaction([&](const state::StateDatabase::Executor& execute) -> mapping::Status {
      state::SyncRecordStore store(execute, state.schema());
      auto records = store.load(object, ids);
      if (!records) return records.error();
      known.records = std::move(records).value();
      auto open = store.open_conflicts(object, ids);
      if (!open) return open.error();
      known.open_conflicts = std::move(open).value();
      return mapping::ok_status();
    });
    if (!loaded) return loaded.error();
    return known;
  }

  // Canonical values of copies read on `side`, account references as canonical ids (left raw when
  // the account is not mapped — then they differ, which is drift too).
  mapping::Result<std::map<std::string, CanonicalFields>> canonical(Side side, const std::vector<SideRecordState>& copies) {
    std::map<std::string, CanonicalFields> out;
    std::vector<std::string> raw;
    for (const auto& copy : copies) {
      auto translation = mapping::to_canonical(object_mapping, side, copy.fields);
      for (const auto* reference : references) {
        auto value = translation.fields.find(reference->name);
        if (value != translation.fields.end() && value->second.kind != FieldValue::Kind::null) raw.push_back(value->second.text);
      }
      out[copy.side_id] = std::move(translation.fields);
    }
    if (raw.empty()) return out;
    std::map<std::string, std::string> resolved;
    auto found = state.in_transaction([&](const state::StateDatabase::Executor& execute) -> mapping::Status {
      state::SyncRecordStore store(execute, state.schema());
      auto ids = store.find_by_side_ids(ObjectKind::account, side, raw);
      if (!ids) return ids.error();
      resolved = std::move(ids).value();
      return mapping::ok_status();
    });
    if (!found) return found.error();
    for (auto& [id, values] : out) {
      for (const auto* reference : references) {
        auto value = values.find(reference->name);
        if (value == values.end() || value->second.kind == FieldValue::Kind::null) continue;
        if (auto canonical_id = resolved.find(value->second.text); canonical_id != resolved.end()) {
          value->second = FieldValue::string_value(canonical_id->second);
        }
      }
    }
    return out;
  }

  CanonicalEvent event_from(Side source, const SideRecordState& copy, const std::string& prm_id) const {
    CanonicalEvent event;
    event.source = source;
    event.object = object;
    event.op = CanonicalEvent::Operation::upsert;
    if (!prm_id.empty()) event.prm_id = prm_id;
    if (source == Side::salesforce) event.salesforce_id = copy.side_id;
    if (source == Side::dynamics) event.dynamics_id = copy.side_id;
    if (source != Side::prm) event.source_version = copy.version;
    event.occurred_at = copy.modified_at;
    event.fields = copy.fields;
    for (const auto& field : copy.fields) event.changed.push_back(field.name);
    event.sharing.record_type = std::string(mapping::to_string(object));
    return event;
  }

  // Compares the CRM's partner owner and shares with what `prm_sharing` gives on the CRM.
  void compare_sharing(const mapping::Sharing& prm_sharing, const mapping::SideSharing& held_all,
                       std::vector<DriftFinding>& findings) const {
    const mapping::PrincipalMap& map = *principals;
    mapping::SideSharing desired = mapping::sharing_on_side(prm_sharing, crm, map);
    auto name_of = [&](const std::string& side_principal) {
      auto canonical = map.from_side(crm, side_principal);
      return canonical ? fmt::format("{} ({})", *canonical, side_principal) : side_principal;
    };
    std::vector<std::string> extra;
    std::vector<std::string> missing;
    for (const auto& [principal, access] : held_all.shares) {
      if (!map.is_partner_principal(crm, principal)) continue;
      auto wanted = desired.shares.find(principal);
      if (wanted == desired.shares.end()) {
        extra.push_back(fmt::format("{} {}", name_of(principal), access_name(access)));
      } else if (wanted->second != access) {
        extra.push_back(fmt::format("{} {} (the PRM gives {})", name_of(principal), access_name(access),
                                    access_name(wanted->second)));
      }
    }
    for (const auto& [principal, access] : desired.shares) {
      if (held_all.shares.count(principal) == 0) missing.push_back(fmt::format("{} {}", name_of(principal), access_name(access)));
    }
    bool partner_owner_held = held_all.owner && map.is_partner_principal(crm, *held_all.owner);
    bool owner_differs = desired.owner ? held_all.owner != desired.owner : partner_owner_held;
    if (extra.empty() && missing.empty() && !owner_differs) return;
    std::vector<std::string> parts;
    if (!extra.empty()) {
      parts.push_back(fmt::format("{} shares with {} but the PRM does not", side_name(crm), fmt::join(extra, ", ")));
    }
    if (!missing.empty()) {
      parts.push_back(fmt::format("the PRM shares with {} but {} does not", fmt::join(missing, ", "), side_name(crm)));
    }
    if (owner_differs) {
      parts.push_back(fmt::format("owner on {} is {}, the PRM's sharing gives {}", side_name(crm),
                                  held_all.owner ? name_of(*held_all.owner) : std::string("none"),
                                  desired.owner ? name_of(*desired.owner) : std::string("an internal owner")));
    }
    DriftFinding finding;
    finding.kind = "sharing_differs";
    finding.possible_exposure = true;
    finding.detail = fmt::format("{}", fmt::join(parts, "; "));
    findings.push_back(std::move(finding));
  }
};

DriftScanner::DriftScanner(const mapping::MappingDefinition& mapping, ObjectKind object, Side crm,
                           std::shared_ptr<const mapping::PrincipalMap> principals, state::StateDatabase& state,
                           SideGateway& prm, SideGateway& crm_gateway, CrmSharingSource& crm_sharing)
    : impl_(new Impl{mapping, mapping.of(object), object, crm, std::move(principals), state, prm, crm_gateway, crm_sharing,
                     {}, {}, {}, {}}) {
  Impl& s = *impl_;
  for (const auto& field : s.object_mapping.fields) {
    if (field.on(Side::prm) && field.on(crm)) s.compared.push_back(&field);
    if (field.type == mapping::FieldType::reference && field.references) s.references.push_back(&field);
  }
  s.prm_native = s.object_mapping.native_read_names(Side::prm);
  s.crm_native = s.object_mapping.native_read_names(crm);
}

DriftScanner::~DriftScanner() = default;

const std::vector<std::string>& DriftScanner::prm_fields() const { return impl_->prm_native; }
const std::vector<std::string>& DriftScanner::crm_fields() const { return impl_->crm_native; }

mapping::Result<std::vector<RecordDrift>> DriftScanner::compare(const std::vector<PrmRecordRef>& records) {
  Impl& s = *impl_;
  std::vector<RecordDrift> drifted;
  if (records.empty()) return drifted;
  std::vector<std::string> ids;
  for (const auto& record : records) ids.push_back(record.prm_id);

  auto known = s.load_known(ids);
  if (!known) return known.error();
  auto prm_copies = s.prm.read(s.object, ids, s.prm_native);
  if (!prm_copies) return prm_copies.error();
  auto crm_copies = s.crm_gateway.read(s.object, ids, s.crm_native);
  if (!crm_copies) return crm_copies.error();
  std::map<std::string, const SideRecordState*> prm_by_id;
  for (const auto& copy : prm_copies.value()) prm_by_id[copy.prm_id] = &copy;
  std::map<std::string, const SideRecordState*> crm_by_id;
  std::vector<std::string> crm_ids;
  for (const auto& copy : crm_copies.value()) {
    crm_by_id[copy.prm_id] = &copy;
    crm_ids.push_back(copy.side_id);
  }
  std::map<std::string, mapping::SideSharing> crm_sharing;
  if (!crm_ids.empty()) {
    auto read = s.crm_sharing.read(s.object, crm_ids);
    if (!read) return read.error();
    crm_sharing = std::move(read).value();
  }
  // Records crmsync wrote to the CRM that its PRM id no longer finds: are they still there?
  std::set<std::string> still_there;
  {
    std::vector<std::string> unfound;
    for (const auto& ref : records) {
      if (crm_by_id.count(ref.prm_id) != 0) continue;
      auto found = known.value().records.find(ref.prm_id);
      if (found == known.value().records.end()) continue;
      const auto& id = s.crm == Side::salesforce ? found->second.salesforce_id : found->second.dynamics_id;
      if (id) unfound.push_back(*id);
    }
    if (!unfound.empty()) {
      auto read = s.crm_sharing.read(s.object, unfound);
      if (!read) return read.error();
      for (const auto& [id, ignored] : read.value()) still_there.insert(id);
    }
  }
  auto prm_values = s.canonical(Side::prm, prm_copies.value());
  if (!prm_values) return prm_values.error();
  auto crm_values = s.canonical(s.crm, crm_copies.value());
  if (!crm_values) return crm_values.error();

  for (const auto& ref : records) {
    auto prm_copy = prm_by_id.find(ref.prm_id);
    if (prm_copy == prm_by_id.end()) continue;  // deleted on the PRM since it was listed: its capture brings that
    const state::SyncRecord* record = nullptr;
    if (auto found = known.value().records.find(ref.prm_id); found != known.value().records.end()) record = &found->second;
    if (record != nullptr && record->deleted) continue;  // a delete on its way
    RecordDrift drift;
    drift.object = s.object;
    drift.record_id = ref.prm_id;
    drift.side = s.crm;
    const mapping::Sharing agreed = record != nullptr ? without_record_type(record->sharing) : mapping::Sharing{};
    const mapping::Sharing prm_sharing = without_record_type(ref.sharing);

    auto crm_copy = crm_by_id.find(ref.prm_id);
    if (crm_copy == crm_by_id.end()) {
      DriftFinding finding;
      finding.kind = "missing_on_" + side_name(s.crm);
      std::optional<std::string> known_id;
      if (record != nullptr) known_id = s.crm == Side::salesforce ? record->salesforce_id : record->dynamics_id;
      if (known_id && still_there.count(*known_id) != 0) {
        // Not found by PRM id, yet the record crmsync wrote is there: its PRM id field was cleared
        // or changed. A re-create would duplicate it.
        drift.crm_id = *known_id;
        finding.detail = fmt::format("{} {} is there but its PRM id field no longer holds {}: put it back in {} "
                                     "(reconcile does not, to avoid a duplicate)",
                                     side_name(s.crm), *known_id, ref.prm_id, side_name(s.crm));
        drift.findings.push_back(std::move(finding));
        drifted.push_back(std::move(drift));
        continue;
      }
      finding.detail = known_id ? fmt::format("gone from {} without a delete any capture saw", side_name(s.crm))
                                : fmt::format("never reached {}", side_name(s.crm));
      drift.findings.push_back(std::move(finding));
      CanonicalEvent repair = s.event_from(Side::prm, *prm_copy->second, ref.prm_id);
      repair.actor = ref.actor;
      repair.sharing = ref.sharing;
      repair.sharing.record_type = std::string(mapping::to_string(s.object));
      repair.repairs_drift.push_back("missing_on:" + side_name(s.crm));
      drift.repairs.push_back(std::move(repair));
      drifted.push_back(std::move(drift));
      continue;
    }
    drift.crm_id = crm_copy->second->side_id;

    // Fields.
    const CanonicalFields& prm_canonical = prm_values.value()[prm_copy->second->side_id];
    const CanonicalFields& crm_canonical = crm_values.value()[crm_copy->second->side_id];
    std::set<std::string> open;
    if (auto conflicts = known.value().open_conflicts.find(ref.prm_id); conflicts != known.value().open_conflicts.end()) {
      open = conflicts->second;
    }
    std::vector<std::string> crm_drifted;
    std::vector<std::string> prm_drifted;
    for (const auto* field : s.compared) {
      if (open.count(field->name) != 0) continue;  // an operator decides it (`crmsync conflicts`)
      auto on_prm = prm_canonical.find(field->name);
      auto on_crm = crm_canonical.find(field->name);
      if (on_prm == prm_canonical.end() || on_crm == crm_canonical.end()) continue;  // not answered
      if (same_canonical_value(on_prm->second, on_crm->second)) continue;
      DriftFinding finding;
      finding.kind = "field_differs";
      finding.field = field->name;
      // Internal fields (cost, margin) keep their values out of a report that may be pasted anywhere.
      bool internal = field->field_class == mapping::FieldClass::internal;
      finding.prm_value = internal ? "\"(internal)\"" : value_json(prm_canonical, field->name);
      finding.crm_value = internal ? "\"(internal)\"" : value_json(crm_canonical, field->name);
      const FieldValue* base = nullptr;
      if (record != nullptr) {
        if (auto found = record->base.find(field->name); found != record->base.end()) base = &found->second;
      }
      bool crm_moved = base == nullptr || !same_canonical_value(on_crm->second, *base);
      finding.detail = crm_moved ? fmt::format("{} holds a value the sides never agreed on", side_name(s.crm))
                                 : "the PRM holds a value the sides never agreed on";
      (crm_moved ? crm_drifted : prm_drifted).push_back(field->name);
      drift.findings.push_back(std::move(finding));
    }

    // Sharing (records whose owner and shares the CRM reads back).
    bool sharing_drift = false;
    if (auto held = crm_sharing.find(crm_copy->second->side_id); held != crm_sharing.end()) {
      std::size_t before = drift.findings.size();
      s.compare_sharing(prm_sharing, held->second, drift.findings);
      sharing_drift = drift.findings.size() != before;
      if (sharing_drift && record == nullptr) {
        drift.findings.back().detail += " (the record is not synced yet: nothing to restore)";
      }
      if (sharing_drift && record != nullptr) {
        // What the sharing sweep would send: the CRM's changes since crmsync last wrote or saw its
        // sharing there; when there are none but the CRM does not hold the agreed sharing, the agreed
        // sharing written there again (an empty change against what it holds).
        mapping::SideSharing last;
        if (auto known_there = record->side_sharing.find(s.crm); known_there != record->side_sharing.end()) {
          last = known_there->second;
        }
        mapping::SharingChange change = mapping::observed_sharing_change(s.crm, record->sharing, last, held->second,
                                                                         *s.principals);
        mapping::SideSharing agreed_there = mapping::sharing_on_side(agreed, s.crm, *s.principals);
        mapping::SideSharing partner_held = held->second;
        for (auto it = partner_held.shares.begin(); it != partner_held.shares.end();) {
          it = s.principals->is_partner_principal(s.crm, it->first) ? std::next(it) : partner_held.shares.erase(it);
        }
        bool owner_ok = agreed_there.owner ? partner_held.owner == agreed_there.owner
                                           : !(partner_held.owner && s.principals->is_partner_principal(s.crm, *partner_held.owner));
        if (!change.empty() || partner_held.shares != agreed_there.shares || !owner_ok) {
          CanonicalEvent restore;
          restore.source = s.crm;
          restore.object = s.object;
          restore.op = CanonicalEvent::Operation::upsert;
          restore.prm_id = ref.prm_id;
          if (s.crm == Side::salesforce) restore.salesforce_id = crm_copy->second->side_id;
          if (s.crm == Side::dynamics) restore.dynamics_id = crm_copy->second->side_id;
          restore.source_version = fmt::format("sharing:{}", record->sharing_version);
          restore.changed = {"sharing"};
          restore.sharing = mapping::apply_sharing_change(record->sharing, change);
          restore.sharing.record_type = std::string(mapping::to_string(s.object));
          restore.sharing_change = change;
          restore.observed_side_sharing = mapping::side_sharing_to_json({{s.crm, held->second}});
          restore.repairs_drift.push_back("sharing_differs:" + side_name(s.crm));
          drift.repairs.push_back(std::move(restore));
        }
      }
    }
    if (!crm_drifted.empty()) {
      CanonicalEvent repair = s.event_from(s.crm, *crm_copy->second, ref.prm_id);
      for (const auto& name : crm_drifted) repair.repairs_drift.push_back(fmt::format("field_differs:{}:{}", side_name(s.crm), name));
      // Sent first: the sharing restore above carries the sharing version it was compared with.
      drift.repairs.insert(drift.repairs.begin(), std::move(repair));
    }
    if (!prm_drifted.empty()) {
      CanonicalEvent repair = s.event_from(Side::prm, *prm_copy->second, ref.prm_id);
      repair.actor = ref.actor;
      repair.sharing = ref.sharing;
      repair.sharing.record_type = std::string(mapping::to_string(s.object));
      for (const auto& name : prm_drifted) repair.repairs_drift.push_back(fmt::format("field_differs:prm:{}", name));
      drift.repairs.insert(drift.repairs.begin(), std::move(repair));
    }
    if (!drift.findings.empty()) drifted.push_back(std::move(drift));
  }
  return drifted;
}

mapping::Result<std::vector<RecordDrift>> DriftScanner::compare_crm_page(
    const std::vector<SideRecordState>& page, const std::function<bool(const std::string&)>& compared,
    const std::function<mapping::Sharing(const std::string&)>& prm_sharing_of) {
  Impl& s = *impl_;
  std::vector<RecordDrift> drifted;
  std::vector<std::string> prm_ids;
  for (const auto& copy : page) {
    if (!copy.prm_id.empty()) prm_ids.push_back(copy.prm_id);
  }
  std::set<std::string> on_prm;
  if (!prm_ids.empty()) {
    auto held = s.prm.read(s.object, prm_ids, {});
    if (!held) return held.error();
    for (const auto& copy : held.value()) on_prm.insert(copy.prm_id);
  }
  auto known = s.load_known(prm_ids);
  if (!known) return known.error();
  std::vector<PrmRecordRef> not_compared;
  for (const auto& copy : page) {
    if (!copy.prm_id.empty() && on_prm.count(copy.prm_id) != 0) {
      if (!compared(copy.prm_id)) not_compared.push_back({copy.prm_id, prm_sharing_of(copy.prm_id), mapping::Actor{}});
      continue;
    }
    RecordDrift drift;
    drift.object = s.object;
    drift.record_id = copy.prm_id;
    drift.side = s.crm;
    drift.crm_id = copy.side_id;
    DriftFinding finding;
    finding.kind = "missing_on_prm";
    finding.detail = copy.prm_id.empty() ? fmt::format("a {} record that carries no PRM id", side_name(s.crm))
                                         : fmt::format("{} holds PRM id {}, which the PRM does not", side_name(s.crm), copy.prm_id);
    auto record = known.value().records.find(copy.prm_id);
    if (record != known.value().records.end() && record->second.deleted) {
      // Reconcile never deletes: the delete is replayed (`crmsync replay --source prm`) or done by hand.
      finding.detail = fmt::format("deleted on the PRM, but {} still holds it; not repaired by reconcile (it never "
                                   "deletes): replay the PRM delete or delete it in {}",
                                   side_name(s.crm), side_name(s.crm));
      drift.findings.push_back(std::move(finding));
      drifted.push_back(std::move(drift));
      continue;
    }
    drift.findings.push_back(std::move(finding));
    CanonicalEvent repair = s.event_from(s.crm, copy, copy.prm_id);
    repair.repairs_drift.push_back("missing_on:prm");
    drift.repairs.push_back(std::move(repair));
    drifted.push_back(std::move(drift));
  }
  if (!not_compared.empty()) {
    auto more = compare(not_compared);
    if (!more) return more.error();
    for (auto& drift : more.value()) drifted.push_back(std::move(drift));
  }
  return drifted;
}

}  // namespace crmsync::daemon
