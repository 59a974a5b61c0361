#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mapping/canonical_event.h"
#include "mapping/sync_error.h"

namespace crmsync::mapping {

// One record write to a CRM, in that CRM's own field names (the mapping layer translates from
// canonical names). Records are addressed by the PRM id held in the CRM's external-id field /
// alternate key (Salesforce PRM_Id__c, Dataverse crmsync_prmid), so a re-sent write upserts the
// same record instead of creating a second one.
struct CrmRecordWrite {
  ObjectKind object = ObjectKind::account;
  CanonicalEvent::Operation op = CanonicalEvent::Operation::upsert;
  std::string prm_id;
  std::optional<std::string> crm_id;  // when known
  std::vector<Field> fields;          // CRM-native names
  std::optional<std::string> owner_id;  // Salesforce OwnerId (user/queue); Dataverse owner team or user
  std::optional<std::string> etag;      // Dataverse If-Match, when the engine asks for optimistic concurrency
  // PRM only: the record's whole sharing (owner columns and share rows), when it is to be set.
  std::optional<Sharing> prm_sharing;
};

// The outcome of one write of a batch: a failed record does not fail its neighbours.
struct CrmWriteResult {
  std::optional<std::string> crm_id;
  bool created = false;
  std::optional<SyncError> error;  // `conflict` for an ETag mismatch; `invalid` with the CRM's code otherwise
  // With `error`: the record is no longer on that side (deleted there since it was read or
  // captured). Its delete event is on the way from that side's capture; the write is not retried.
  bool gone = false;
  // With `error`: a delete the side refused because records there still refer to this one (PRM
  // deals of the account, by foreign key). Their deletes are usually on the way from the same
  // source (deleting a Salesforce account deletes its opportunities, whose capture can come
  // later), so the event is parked until no synced deal refers to the account, not dead-lettered.
  bool still_referenced = false;
};

// A grant or revocation of a principal's access to a CRM record (Salesforce AccountShare /
// OpportunityShare with RowCause Manual; Dataverse GrantAccess / ModifyAccess / RevokeAccess).
struct CrmShareWrite {
  ObjectKind object = ObjectKind::account;
  std::string crm_record_id;
  std::string principal_id;  // Salesforce user/group id; Dataverse team or systemuser id
  bool grant = true;         // false: revoke
  ShareGrant::Access access = ShareGrant::Access::read;
};

// One principal's access to a CRM record as the CRM holds it now (read back for the sharing sweep
// and reconcile): a Salesforce Manual share row, a Dataverse shared principal.
struct CrmShare {
  ObjectKind object = ObjectKind::account;
  std::string crm_record_id;
  std::string principal_id;  // as CrmShareWrite::principal_id names it
  ShareGrant::Access access = ShareGrant::Access::read;
  friend bool operator==(const CrmShare&, const CrmShare&) = default;
};

}  // namespace crmsync::mapping
