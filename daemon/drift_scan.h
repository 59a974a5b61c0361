#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mapping/canonical_event.h"
#include "mapping/mapping_definition.h"
#include "mapping/sync_error.h"

namespace crmsync::mapping {
class PrincipalMap;
}
namespace crmsync::state {
class StateDatabase;
}

namespace crmsync::daemon {

class SideGateway;
class CrmSharingSource;
struct SideRecordState;

// One difference `crmsync reconcile` found between the PRM and a CRM (DESIGN §6).
struct DriftFinding {
  // missing_on_prm | missing_on_salesforce | missing_on_dynamics | field_differs | sharing_differs
  std::string kind;
  std::string field;      // field_differs: the canonical field name
  std::string prm_value;  // field_differs: JSON text of each side's canonical value
  std::string crm_value;
  // sharing_differs: a partner principal has access (or ownership) on one side only.
  bool possible_exposure = false;
  std::string detail;  // what differs, in words (principals, never field values)
};

// The drift of one record between the PRM and one CRM, and the repair events that `--fix` sends.
struct RecordDrift {
  mapping::ObjectKind object = mapping::ObjectKind::account;
  std::string record_id;  // the PRM id ("" for a CRM record that carries none)
  mapping::Side side = mapping::Side::salesforce;  // the CRM compared with
  std::string crm_id;
  std::vector<DriftFinding> findings;
  // Change events that repair it through the normal apply path; event_id and actor are the
  // caller's to set. Empty when the drift cannot be repaired by reconcile (said in a finding).
  std::vector<mapping::CanonicalEvent> repairs;
};

// A PRM record as reconcile streams it: its id and the sharing its owner columns and share rows give.
struct PrmRecordRef {
  std::string prm_id;
  mapping::Sharing sharing;
  mapping::Actor actor;  // who changed the row last: a PRM repair is authorized as that actor's change
};

// Compares records of one object between the PRM and one CRM, a batch at a time (memory stays at
// one batch): fields bound on both sides in canonical form (account references as canonical ids,
// numbers by value), and sharing — the CRM's owner and partner shares against what the PRM's
// sharing gives on that CRM (internal principals are not crmsync's and are left out).
//
// Repairs (`--fix`), through the normal apply path with conflict policies applied:
//  - a field differs: the side whose value is not the agreed one (the base) changed without any
//    capture seeing it; that side's values are sent as its change (both sides changed: a conflict,
//    decided by the field's policy). A PRM change keeps the row's actor, so a partner's change is
//    authorized (and denied) as any other;
//  - a record is missing on one side: it is sent from the side that holds it, and the engine
//    creates it again where it is missing (reconcile never deletes); a CRM record that is there but
//    lost its PRM id is reported, not duplicated;
//  - sharing differs on the CRM: exactly what the sharing sweep would send — the CRM's share and
//    owner changes since crmsync last wrote there, as that CRM's sharing change (DESIGN §3: sharing
//    changes made in a CRM reach every side), or, when the CRM holds what crmsync last wrote but
//    that is not the agreed sharing, the agreed sharing written there again. Sharing of the PRM
//    that differs from the agreed one is a change its capture is delivering: reported only.
class DriftScanner {
 public:
  DriftScanner(const mapping::MappingDefinition& mapping, mapping::ObjectKind object, mapping::Side crm,
               std::shared_ptr<const mapping::PrincipalMap> principals, state::StateDatabase& state, SideGateway& prm,
               SideGateway& crm_gateway, CrmSharingSource& crm_sharing);
  ~DriftScanner();
  DriftScanner(const DriftScanner&) = delete;
  DriftScanner& operator=(const DriftScanner&) = delete;

  // The drifted records among `records` (PRM records, at most a few hundred a call).
  mapping::Result<std::vector<RecordDrift>> compare(const std::vector<PrmRecordRef>& records);

  // Among CRM records read by a scan, those the PRM lacks, as drift. `prm_sharing_of` gives a PRM
  // record's sharing for those the PRM holds but compare() has not seen (with --since), which are
  // then compared too; `compared` says whether compare() saw a PRM id already.
  mapping::Result<std::vector<RecordDrift>> compare_crm_page(
      const std::vector<SideRecordState>& page, const std::function<bool(const std::string&)>& compared,
      const std::function<mapping::Sharing(const std::string&)>& prm_sharing_of);

  // The native field names read on each side.
  const std::vector<std::string>& prm_fields() const;
  const std::vector<std::string>& crm_fields() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Two canonical values are the same: equal, or numbers equal by value ("120000" and "120000.00").
bool same_canonical_value(const mapping::FieldValue& a, const mapping::FieldValue& b);

}  // namespace crmsync::daemon
