#pragma once

#include <chrono>

#include "daemon/side_gateway.h"

namespace crmsync::connectors::dynamics {
class DataverseApplier;
class DataverseClient;
}  // namespace crmsync::connectors::dynamics

namespace crmsync::daemon {

// The engine's view of Dataverse (SideGateway). Reads query the account / opportunity entity set
// by the alternate key column holding the PRM id (`$filter=crmsync_prmid eq '…' or …`, up to
// kIdsPerQuery ids a request, following @odata.nextLink), with values converted exactly as the
// Dataverse capture converts them; lookups are asked for and answered as `_<name>_value`; the
// version is versionnumber as decimal text, modified_at modifiedon (RFC 3339 UTC). Writes go
// through DataverseApplier (by GUID when known, else by the alternate key; per-record results).
// Every call is bounded by `call_timeout`. Borrows the client and the applier (owned by the
// composition root); one apply worker thread at a time.
class DynamicsSideGateway : public SideGateway {
 public:
  static constexpr std::size_t kIdsPerQuery = 25;

  DynamicsSideGateway(connectors::dynamics::DataverseClient& client,
                      connectors::dynamics::DataverseApplier& applier,
                      std::chrono::milliseconds call_timeout);

  mapping::Side side() const override { return mapping::Side::dynamics; }

  mapping::Result<std::vector<SideRecordState>> find_unmapped(mapping::ObjectKind object, const std::string& key_field,
                                                              const std::vector<std::string>& values,
                                                              const std::vector<std::string>& native_fields) override;

  mapping::Result<std::vector<SideRecordState>> read(
      mapping::ObjectKind object, const std::vector<std::string>& prm_ids,
      const std::vector<std::string>& native_fields) override;

  // `origin` is not sent: Dataverse requests carry no origin marker (echo suppression compares
  // versions).
  mapping::Result<std::vector<mapping::CrmWriteResult>> write(
      const std::vector<mapping::CrmRecordWrite>& writes, const std::string& origin) override;
  mapping::Result<std::vector<mapping::Status>> write_shares(const std::vector<mapping::CrmShareWrite>& shares) override;

  // The whole entity set (`$filter=modifiedon ge since`), 5000 rows a page, following
  // @odata.nextLink.
  mapping::Status scan(mapping::ObjectKind object, const std::vector<std::string>& native_fields,
                       const std::string& since, const PageSink& on_page) override;

 private:
  // The $select list: primary key, PRM id key, versionnumber, modifiedon and `native_fields`, each once.
  static std::string select_list(mapping::ObjectKind object, const std::vector<std::string>& native_fields);
  // The rows of one answer; `next` gets its @odata.nextLink ("" on the last page).
  static mapping::Result<std::vector<SideRecordState>> records_of_page(mapping::ObjectKind object, const std::string& body,
                                                                       const std::string& description,
                                                                       const std::vector<std::string>& native_fields,
                                                                       std::string& next);
  // The rows whose `key_field` equals one of `values` (and that meet `condition`, an OData filter
  // ending in " and ", or ""), kIdsPerQuery values a request.
  mapping::Result<std::vector<SideRecordState>> query_where(mapping::ObjectKind object, const std::string& key_field,
                                                            const std::vector<std::string>& values,
                                                            const std::string& condition,
                                                            const std::vector<std::string>& native_fields);
  connectors::dynamics::DataverseClient& client_;
  connectors::dynamics::DataverseApplier& applier_;
  std::chrono::milliseconds call_timeout_;
};

}  // namespace crmsync::daemon
