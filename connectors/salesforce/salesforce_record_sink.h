#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "connectors/http/http_message.h"
#include "mapping/crm_writes.h"

namespace crmsync::connectors::salesforce {

class SalesforceClient;

// Writes records and sharing to Salesforce in as few API calls as the API allows, through sObject
// Collections (up to 200 records a call, allOrNone=false, so a failed record does not fail its
// neighbours): a record whose Salesforce Id is known is updated by that Id, with the external id
// field set to its PRM id (a record created in Salesforce has none yet: an upsert by external id
// would create a second record); other records are upserted by the external id field; deletes go
// through collections delete; grants and revocations as AccountShare / OpportunityShare rows
// (RowCause Manual).
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

// `text` as a SOQL string literal, quotes included, with quote, backslash and control characters
// escaped: the one way a value goes into a SOQL query.
std::string soql_quote(std::string_view text);

}  // namespace crmsync::connectors::salesforce
