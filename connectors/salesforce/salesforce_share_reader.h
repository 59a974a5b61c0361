#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "connectors/http/http_message.h"
#include "mapping/crm_writes.h"

namespace crmsync::connectors::salesforce {

class SalesforceClient;

// Owner of one synced record as Salesforce holds it.
struct RecordOwner {
  std::string crm_record_id;
  std::string owner_id;  // User (005…) or queue Group (00G…)
  friend bool operator==(const RecordOwner&, const RecordOwner&) = default;
};

// Reads the sharing of synced records back from Salesforce, for the daemon's periodic sharing
// sweep: share rows are hard-deleted and do not bump the parent's SystemModstamp, so a sharing
// change made in Salesforce never reaches the change poll. Reads Manual share rows (the ones
// SalesforceRecordSink::apply_shares writes; rows the platform maintains — Owner, Rule, Team, … —
// are not crmsync's to sync) and record owners, through SOQL queries followed over every
// nextRecordsUrl page. Id lists go kIdsPerQuery ids a query (ids are checked to be 15 or 18
// characters, so a query's URL stays far below Salesforce's 16 KB limit for a request line and
// headers; a malformed id fails the call as `invalid`). Ids come back as Salesforce answers them
// (18 characters). A whole answer or nothing: an unreadable page fails the call as `transient`, a
// row that does not match the query (a field missing or of the wrong type, an unknown access
// level) as `invalid` — never a partial list that would read as revoked shares.
// Borrows the client (owned by the composition root, thread-safe); stateless, so thread-safe too.
class SalesforceShareReader {
 public:
  static constexpr std::size_t kIdsPerQuery = 200;

  explicit SalesforceShareReader(SalesforceClient& client);

  // Every Manual share row of the object (AccountShare / OpportunityShare): principal_id is
  // UserOrGroupId; access Read → read, Edit or All → edit.
  mapping::Result<std::vector<mapping::CrmShare>> manual_shares(mapping::ObjectKind object, http::Deadline deadline);
  // The same, restricted to share rows of the given records.
  mapping::Result<std::vector<mapping::CrmShare>> manual_shares_of(mapping::ObjectKind object,
                                                                   const std::vector<std::string>& crm_record_ids,
                                                                   http::Deadline deadline);
  // Id and OwnerId of every live record of the object that carries a PRM id (the external id
  // field is not null).
  mapping::Result<std::vector<RecordOwner>> owners(mapping::ObjectKind object, http::Deadline deadline);
  // Id and OwnerId of the given records (those that exist and are not deleted).
  mapping::Result<std::vector<RecordOwner>> owners_of(mapping::ObjectKind object,
                                                      const std::vector<std::string>& crm_record_ids,
                                                      http::Deadline deadline);

 private:
  SalesforceClient& client_;
};

}  // namespace crmsync::connectors::salesforce
