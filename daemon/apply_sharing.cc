// The sharing steps of a wave (DESIGN §3): what sharing each change leads to, whether a partner's
// PRM change may be propagated, and the owners and shares every side gets.

#include "daemon/apply_item.h"

#include <algorithm>

#include <fmt/format.h>

#include "mapping/sharing_rules.h"

namespace crmsync::daemon {

using mapping::CanonicalEvent;
using mapping::CanonicalFields;
using mapping::FieldValue;
using mapping::Side;
using mapping::Sharing;

namespace {

Sharing without_record_type(Sharing sharing) {
  sharing.record_type.clear();
  return sharing;
}

// The canonical names of the fields a change sets to a value other than the base's.
std::vector<std::string> changed_fields(const WaveItem& item) {
  std::vector<std::string> changed;
  for (const auto& [name, value] : item.incoming) {
    auto base = item.record.base.find(name);
    bool differs = base == item.record.base.end() ? value.kind != FieldValue::Kind::null : base->second != value;
    if (!item.known ? value.kind != FieldValue::Kind::null : differs) changed.push_back(name);
  }
  return changed;
}

// The write of `item` to `side` in this wave, created (with no fields) when there is none yet.
mapping::CrmRecordWrite& write_for(WaveItem& item, Side side, std::map<Side, std::vector<mapping::CrmRecordWrite>>& writes,
                                   std::map<Side, std::vector<WaveItem*>>& writers) {
  auto& side_writers = writers[side];
  for (std::size_t i = 0; i < side_writers.size(); ++i) {
    if (side_writers[i] == &item && writes[side][i].op == CanonicalEvent::Operation::upsert) return writes[side][i];
  }
  mapping::CrmRecordWrite write;
  write.object = item.pending->event.object;
  write.prm_id = item.record_id;
  if (side != Side::prm) write.crm_id = id_on(item.record, side);
  writes[side].push_back(std::move(write));
  side_writers.push_back(&item);
  return writes[side].back();
}

// The PRM's copy of a sharing: owner columns and share rows for principals the PRM knows and that
// are active (a grant to anyone else would be refused by the PRM or would grant a dead principal).
Sharing prm_sharing(const Sharing& sharing, const mapping::PrincipalMap& principals) {
  Sharing out;
  if (sharing.owner_partner_org && principals.org(*sharing.owner_partner_org) != nullptr) {
    out.owner_partner_org = sharing.owner_partner_org;
  }
  if (sharing.owner_user && principals.user(*sharing.owner_user) != nullptr) out.owner_user = sharing.owner_user;
  for (const auto& grant : sharing.grants) {
    if (principals.to_side(Side::prm, grant.principal)) out.grants.push_back(grant);
  }
  return out;
}

}  // namespace

void WavePlanner::decide_sharing_and_authorization(WaveItem& item) const {
  const CanonicalEvent& event = item.pending->event;
  item.sharing_before = without_record_type(item.known ? item.record.sharing : Sharing{});
  item.sharing_after = item.sharing_before;
  if (event.source == Side::prm) {
    if (!item.known) {
      item.sharing_after = without_record_type(event.sharing);
    } else if (event.sharing_change) {
      item.sharing_after = mapping::apply_sharing_change(item.sharing_before, *event.sharing_change);
    }
  } else if (is_sharing_sweep(event)) {
    item.sharing_after = mapping::apply_sharing_change(item.sharing_before, *event.sharing_change);
  }
  item.sharing_changed = item.sharing_after != item.sharing_before;

  if (event.source != Side::prm || event.actor.kind != mapping::Actor::Kind::partner_user) return;
  if (const auto* org = principals_.active_org_of_user(event.actor.id)) item.actor_org = org->prm_id;
  // A quarantined partner's changes wait for an operator (DESIGN §3 anomaly flags).
  if (!item.actor_org.empty() && settings_.quarantined_partner_orgs.count(item.actor_org) != 0) {
    item.outcome = EventOutcome::parked;
    item.reason = "operator:quarantined partner org " + item.actor_org;
    return;
  }
  // A partner's update carries only what the partner changed (the PRM's tables have REPLICA
  // IDENTITY FULL, so `changed` is exact): a value another change left in the row, such as a
  // denied one not reverted yet, is not laundered through the next legitimate edit.
  if (item.known && !event.changed.empty()) {
    const auto& object_mapping = mapping_.of(event.object);
    for (auto it = item.incoming.begin(); it != item.incoming.end();) {
      const auto* field = object_mapping.field(it->first);
      bool changed = field != nullptr && field->on(Side::prm) &&
                     std::find(event.changed.begin(), event.changed.end(), field->on(Side::prm)->name) !=
                         event.changed.end();
      it = changed ? std::next(it) : item.incoming.erase(it);
    }
  }
  mapping::PartnerChange change;
  change.actor = &event.actor;
  change.new_record = !item.known;
  change.sharing_before = &item.sharing_before;
  change.sharing_after = &item.sharing_after;
  change.changed_fields = changed_fields(item);
  change.sharing_changed = item.sharing_changed;
  mapping::AuthorizationDecision decision = mapping::authorize_partner_change(change, mapping_.of(event.object), principals_);
  if (decision.allowed()) return;
  if (decision.record_denied) {
    item.outcome = EventOutcome::denied;
    item.reason = decision.reason;
    item.denied_values = change.changed_fields;
  } else {
    for (const auto& name : decision.denied_fields) {
      item.incoming.erase(name);
      item.denied_values.push_back(name);
    }
  }
  if (decision.record_denied || decision.sharing_denied) {
    item.sharing_after = item.sharing_before;
    item.sharing_changed = false;
  }
  item.denial = std::move(decision);
}

void WavePlanner::plan_sharing_writes(WaveItem& item, std::map<Side, std::vector<mapping::CrmRecordWrite>>& writes,
                                      std::map<Side, std::vector<WaveItem*>>& writers) const {
  const CanonicalEvent& event = item.pending->event;
  if (event.op != CanonicalEvent::Operation::upsert) return;
  const auto& object_mapping = mapping_.of(event.object);

  // A denied PRM change is written back to the values (and sharing) every side agreed on, so the
  // PRM never shows what no CRM holds and the same change is not denied again on every later edit.
  if (item.denial && item.known && event.source == Side::prm && id_on(item.record, Side::prm)) {
    CanonicalFields revert;
    for (const auto& name : item.denied_values) {
      const auto* field = object_mapping.field(name);
      if (field == nullptr || !field->on(Side::prm)) continue;
      auto base = item.record.base.find(name);
      revert[name] = base != item.record.base.end() ? base->second : FieldValue::null_value();
    }
    bool revert_sharing = (item.denial->record_denied || item.denial->sharing_denied) && event.sharing_change &&
                          !event.sharing_change->empty();
    auto native = mapping::to_side_checked(object_mapping, Side::prm, revert);
    if (native.problems.empty() && (!native.fields.empty() || revert_sharing)) {
      mapping::CrmRecordWrite& write = write_for(item, Side::prm, writes, writers);
      write.fields = std::move(native.fields);
      if (revert_sharing) write.prm_sharing = prm_sharing(item.sharing_before, principals_);
    }
  }
  if (item.outcome) return;

  for (SideGateway* gateway : gateways_) {
    Side side = gateway->side();
    if (side == event.source) {
      // The sweep read this CRM: starting from what it held, it gets what the change leads to
      // (e.g. a record a partner user owns gets the Edit share of the user's org).
      if (!is_sharing_sweep(event)) continue;
      mapping::SideSharing held = mapping::sharing_on_side(item.sharing_after, side, principals_);
      held.unresolved.clear();
      if (auto observed = mapping::parse_side_sharing_json(event.observed_side_sharing.empty()
                                                               ? std::string_view("{}")
                                                               : std::string_view(event.observed_side_sharing));
          observed && observed.value().count(side) != 0) {
        held = observed.value().at(side);
        // Only partners' shares are crmsync's to change (a deactivated partner's too, to take
        // them away); internal ones are left as they are.
        for (auto it = held.shares.begin(); it != held.shares.end();) {
          it = principals_.is_partner_principal(side, it->first) ? std::next(it) : held.shares.erase(it);
        }
      }
      mapping::SideSharing desired = mapping::sharing_on_side(item.sharing_after, side, principals_);
      item.side_before[side] = held;
      item.side_desired[side] = desired;
      item.side_after[side] = held;
      if (desired.owner != held.owner) {
        // A partner owner that is no longer (or no longer active) gives way to the internal owner.
        bool partner_owned = held.owner && principals_.is_partner_principal(side, *held.owner);
        std::optional<std::string> owner =
            desired.owner ? desired.owner : partner_owned ? principals_.internal_owner(side) : std::nullopt;
        if (owner) write_for(item, side, writes, writers).owner_id = owner;
      }
      continue;
    }
    if (item.missing.count(side) != 0) continue;
    bool writing = false;
    for (const WaveItem* writer : writers[side]) writing = writing || writer == &item;
    bool on_side = id_on(item.record, side).has_value();
    if (!on_side && !writing) continue;
    if (side == Side::prm) {
      if (!item.sharing_changed && on_side) continue;
      if (!item.sharing_changed && item.sharing_after == Sharing{}) continue;
      write_for(item, side, writes, writers).prm_sharing = prm_sharing(item.sharing_after, principals_);
      continue;
    }
    mapping::SideSharing before;
    if (on_side) {
      auto known = item.record.side_sharing.find(side);
      if (known != item.record.side_sharing.end()) before = known->second;
    }
    mapping::SideSharing desired = mapping::sharing_on_side(item.sharing_after, side, principals_);
    item.side_before[side] = before;
    item.side_desired[side] = desired;
    item.side_after[side] = before;
    if (desired.owner != before.owner) {
      std::optional<std::string> owner = desired.owner ? desired.owner : principals_.internal_owner(side);
      if (owner && (on_side || desired.owner)) write_for(item, side, writes, writers).owner_id = owner;
    }
  }
}

mapping::Status WavePlanner::write_shares(std::vector<WaveItem>& items, bool grants_phase) {
  std::map<Side, std::vector<mapping::CrmShareWrite>> batch;
  std::map<Side, std::vector<WaveItem*>> owners;
  for (auto& item : items) {
    for (const auto& [side, desired] : item.side_desired) {
      auto id = id_on(item.record, side);
      if (!id) continue;  // the record did not reach that side
      if (item.missing.count(side) != 0) continue;  // deleted there
      for (auto& write : mapping::share_writes(item.pending->event.object, *id, item.side_before[side], desired)) {
        if (write.grant != grants_phase) continue;
        batch[side].push_back(std::move(write));
        owners[side].push_back(&item);
      }
    }
  }
  for (auto& [side, shares] : batch) {
    auto results = gateway_for(side).write_shares(shares);
    if (!results) return results.error();
    for (std::size_t i = 0; i < shares.size(); ++i) {
      WaveItem& item = *owners[side][i];
      const mapping::CrmShareWrite& share = shares[i];
      const mapping::Status& result = results.value()[i];
      if (!result) {
        const auto& error = result.error();
        if (mapping::is_retryable(error.error_class) || error.error_class == mapping::ErrorClass::auth) {
          return mapping::SyncError{error.error_class, fmt::format("{} share of {} {}: {}", side_name(side),
                                                                   object_name(item.record.object), item.record_id,
                                                                   error.message)};
        }
        item.failures.push_back(fmt::format("{}: {} of {} for {}: {}", side_name(side),
                                            share.grant ? "grant" : "revocation", share.principal_id,
                                            item.record_id, error.message));
        continue;
      }
      ++item.share_writes_done;
      auto& held = item.side_after[side].shares;
      if (share.grant) {
        held[share.principal_id] = share.access;
      } else {
        held.erase(share.principal_id);
      }
    }
  }
  return mapping::ok_status();
}

}  // namespace crmsync::daemon
