#pragma once

#include <vector>

#include "connectors/http/http_message.h"
#include "mapping/crm_writes.h"

namespace crmsync::connectors::salesforce {

class SalesforceClient;

// Writes records and sharing to Salesforce in as few API calls as the API allows: upserts by the
// external id field holding the PRM id through sObject Collections (up to 200 records a call,
// allOrNone=false, so a failed record does not fail its neighbours), deletes through collections
// delete, grants and revocations as AccountShare / OpportunityShare rows (RowCause Manual).
// One result per write, in the order given. Thread-safe if the client is.
class SalesforceRecordSink {
 public:
  static constexpr std::size_t kMaxRecordsPerCall = 200;

  explicit SalesforceRecordSink(SalesforceClient& client);

  mapping::Result<std::vector<mapping::CrmWriteResult>> apply(const std::vector<mapping::CrmRecordWrite>& writes,
                                                              http::Deadline deadline);
  mapping::Result<std::vector<mapping::CrmWriteResult>> apply_shares(const std::vector<mapping::CrmShareWrite>& shares,
                                                                     http::Deadline deadline);

 private:
  SalesforceClient& client_;
};

// The Salesforce object of a synced kind: Account, Opportunity.
const char* salesforce_object(mapping::ObjectKind object);

}  // namespace crmsync::connectors::salesforce
