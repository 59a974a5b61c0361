#pragma once

#include <chrono>

#include "connectors/salesforce/salesforce_record_sink.h"
#include "daemon/side_gateway.h"

namespace crmsync::connectors::salesforce {
class SalesforceClient;
}

namespace crmsync::daemon {

// The engine's view of Salesforce (SideGateway). Reads query Account / Opportunity by the external
// id field holding the PRM id (SOQL `… WHERE PRM_Id__c IN (…)`, up to kIdsPerQuery ids and
// kMaxQueryUrlBytes of URL a query, following nextRecordsUrl), with values converted exactly as the
// Salesforce capture converts them; the version is SystemModstamp as Salesforce printed it,
// modified_at LastModifiedDate in RFC 3339 UTC. Writes go through SalesforceRecordSink (records
// with a known Id are updated by it, others upserted by PRM id; per-record results). Every call is
// bounded by `call_timeout`. Borrows the client (owned by the composition root, thread-safe); one
// apply worker thread at a time.
class SalesforceSideGateway : public SideGateway {
 public:
  static constexpr std::size_t kIdsPerQuery = 200;
  static constexpr std::size_t kMaxQueryUrlBytes = 12000;

  SalesforceSideGateway(connectors::salesforce::SalesforceClient& client,
                        std::chrono::milliseconds call_timeout);

  mapping::Side side() const override { return mapping::Side::salesforce; }

  mapping::Result<std::vector<SideRecordState>> find_unmapped(mapping::ObjectKind object, const std::string& key_field,
                                                              const std::vector<std::string>& values,
                                                              const std::vector<std::string>& native_fields) override;

  mapping::Result<std::vector<SideRecordState>> read(
      mapping::ObjectKind object, const std::vector<std::string>& prm_ids,
      const std::vector<std::string>& native_fields) override;

  // SOQL over the whole object (`WHERE SystemModstamp >= since`), following nextRecordsUrl.
  mapping::Status scan(mapping::ObjectKind object, const std::vector<std::string>& native_fields,
                       const std::string& since, const PageSink& on_page) override;

  // `origin` is not sent: the client marks every request with Sforce-Call-Options.
  mapping::Result<std::vector<mapping::CrmWriteResult>> write(
      const std::vector<mapping::CrmRecordWrite>& writes, const std::string& origin) override;
  mapping::Result<std::vector<mapping::Status>> write_shares(const std::vector<mapping::CrmShareWrite>& shares) override;

 private:
  // The records whose `key_field` is one of `values` (and that meet `condition`, a SOQL condition
  // ending in " AND ", or ""), in chunks that keep each request's URL within Salesforce's limit.
  mapping::Result<std::vector<SideRecordState>> query_where(mapping::ObjectKind object, const std::string& key_field,
                                                            const std::vector<std::string>& values,
                                                            const std::string& condition,
                                                            const std::vector<std::string>& native_fields);
  // Id, the external id, SystemModstamp, LastModifiedDate and `native_fields`, each once.
  std::string select_list(const std::vector<std::string>& native_fields) const;
  // The records of one query answer; `next` gets its nextRecordsUrl ("" on the last page).
  mapping::Result<std::vector<SideRecordState>> records_of_page(const std::string& body, const std::string& description,
                                                                const std::vector<std::string>& native_fields,
                                                                std::string& next) const;
  connectors::salesforce::SalesforceClient& client_;
  connectors::salesforce::SalesforceRecordSink sink_;
  std::chrono::milliseconds call_timeout_;
};

}  // namespace crmsync::daemon
