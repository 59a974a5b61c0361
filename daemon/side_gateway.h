#pragma once

#include <functional>
#include <string>
#include <vector>

#include "mapping/canonical_event.h"
#include "mapping/crm_writes.h"
#include "mapping/sync_error.h"

namespace crmsync::daemon {

// What one side holds now for one record, in that side's own field names (the names its capture
// puts in events), read just before the engine writes so that an edit the capture has not
// delivered yet is seen as a concurrent change instead of being overwritten.
struct SideRecordState {
  std::string side_id;                 // PRM id / Salesforce Id / Dataverse GUID
  std::string prm_id;                  // the record's PRM id (on a CRM: its external id / alternate key value)
  std::vector<mapping::Field> fields;  // side-native names
  std::string version;      // PRM row_version, Salesforce SystemModstamp, Dataverse versionnumber
  std::string modified_at;  // RFC 3339 UTC: PRM updated_at, Salesforce LastModifiedDate, Dataverse modifiedon
};

// The engine's narrow view of one side (PRM, Salesforce, Dataverse): read the current state of
// records addressed by PRM id, and write records in batches. Implementations wrap the connectors;
// the engine's unit tests use an in-memory fake. One apply worker thread at a time.
class SideGateway {
 public:
  virtual ~SideGateway() = default;

  virtual mapping::Side side() const = 0;

  // The records of `object` whose PRM id is in `prm_ids`, with the given native fields; records the
  // side does not hold are absent from the answer (not an error).
  virtual mapping::Result<std::vector<SideRecordState>> read(mapping::ObjectKind object,
                                                             const std::vector<std::string>& prm_ids,
                                                             const std::vector<std::string>& native_fields) = 0;

  // First-sync matching: records of `object` that carry no PRM id on this side (on a CRM its
  // external id / alternate key is empty; on the PRM every record qualifies and the caller drops
  // those already mapped) whose text field `key_field` (native name) equals one of `values`.
  virtual mapping::Result<std::vector<SideRecordState>> find_unmapped(mapping::ObjectKind object,
                                                                      const std::string& key_field,
                                                                      const std::vector<std::string>& values,
                                                                      const std::vector<std::string>& native_fields) = 0;

  // Every record of `object` this side holds — modified at or after `since` (RFC 3339 UTC) when it
  // is not empty — with the given native fields, a page at a time to `on_page`, which may stop the
  // scan by returning an error. For `crmsync reconcile`, which must also find the records the PRM
  // lacks; memory stays at one page.
  using PageSink = std::function<mapping::Status(std::vector<SideRecordState>)>;
  virtual mapping::Status scan(mapping::ObjectKind object, const std::vector<std::string>& native_fields,
                               const std::string& since, const PageSink& on_page) {
    (void)object, (void)native_fields, (void)since, (void)on_page;
    return mapping::SyncError{mapping::ErrorClass::fatal,
                              std::string(mapping::to_string(side())) + " cannot list all its records"};
  }

  // Writes upserts and deletes; one result per write, in order. A record that fails does not fail
  // its neighbours. The Result's own error means nothing is known about any write (re-sending is
  // safe: writes are idempotent by PRM id). `origin` tags the writes as crmsync's own (PRM origin
  // message; CRM call options are set by the client).
  virtual mapping::Result<std::vector<mapping::CrmWriteResult>> write(const std::vector<mapping::CrmRecordWrite>& writes,
                                                                      const std::string& origin) = 0;

  // Grants and revocations on records of a CRM (Salesforce Manual shares, Dataverse access
  // rights), one status per share in order; a failed share does not fail its neighbours. The
  // PRM's sharing travels with its record writes (CrmRecordWrite::prm_sharing) instead.
  virtual mapping::Result<std::vector<mapping::Status>> write_shares(const std::vector<mapping::CrmShareWrite>& shares) {
    if (shares.empty()) return std::vector<mapping::Status>{};
    return mapping::SyncError{mapping::ErrorClass::fatal,
                              std::string(mapping::to_string(side())) + " takes no separate share writes"};
  }
};

}  // namespace crmsync::daemon
