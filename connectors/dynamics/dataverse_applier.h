#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "connectors/dynamics/dataverse_batch.h"
#include "connectors/dynamics/dataverse_client.h"
#include "mapping/crm_writes.h"

namespace spdlog {
class logger;
}

namespace crmsync::connectors::dynamics {

struct DataverseApplySettings {
  std::size_t batch_size = 100;  // records per $batch, 1..1000 (Dataverse's limit)
};

// Where a synced object lives in Dataverse.
struct EntitySet {
  std::string logical_name;  // account
  std::string set_name;      // accounts
  std::string primary_key;   // accountid
};
const EntitySet& entity_set_for(mapping::ObjectKind object);

// The lookup path of an owner or share principal: "systemuser:<guid>" names a user, a bare GUID
// (or "team:<guid>") the partner org's team (DESIGN §3: a team per partner org).
struct PrincipalRef {
  std::string logical_name;  // team | systemuser
  std::string id;
};
PrincipalRef parse_principal(const std::string& principal);

// One principal's access to a record, as RetrieveSharedPrincipalsAndAccess reports it.
struct SharedPrincipal {
  PrincipalRef principal;
  std::string access_mask;  // "ReadAccess, WriteAccess"
};

// RetrieveSharedPrincipalsAndAccess for one record: who it is shared with, and how.
mapping::Result<std::vector<SharedPrincipal>> retrieve_shared_principals(
    DataverseClient& client, mapping::ObjectKind object, const std::string& crm_record_id,
    http::Deadline deadline);

// Writes records and shares to Dataverse (DESIGN §2 apply): records go in `$batch` requests of up
// to `batch_size`, each record in a change set of its own, with `Prefer: odata.continue-on-error`
// so that a failed record does not fail its neighbours. A record is addressed by its GUID when
// known, by the alternate key `crmsync_prmid` otherwise (PATCH = upsert, so a re-sent write lands
// once). Per-record answers that can be retried (429, 5xx) are sent again in a following batch
// until the deadline. Used by one apply worker at a time per instance; stateless between calls.
class DataverseApplier {
 public:
  DataverseApplier(DataverseClient& client, DataverseApplySettings settings,
                   std::shared_ptr<spdlog::logger> logger);

  // One result per write, in order. The Result's own error means that the whole call failed
  // (authentication, the deadline passed while Dataverse stayed unavailable): nothing is known
  // about the records, and re-sending them is safe.
  mapping::Result<std::vector<mapping::CrmWriteResult>> apply(
      const std::vector<mapping::CrmRecordWrite>& writes, http::Deadline deadline);

  // GrantAccess (then ModifyAccess, so the mask is exactly the one asked for) or RevokeAccess,
  // one change set per share, batched. One status per share, in order.
  mapping::Result<std::vector<mapping::Status>> apply_shares(
      const std::vector<mapping::CrmShareWrite>& shares, http::Deadline deadline);

  mapping::Result<std::vector<SharedPrincipal>> shared_principals(mapping::ObjectKind object,
                                                                  const std::string& crm_record_id,
                                                                  http::Deadline deadline);

  // Number of $batch calls sent (for tests and metrics).
  std::size_t batches_sent() const { return batches_sent_; }

 private:
  struct ChangeSetOutcome {
    std::vector<BatchPartResponse> parts;  // the answers of its operations, when it succeeded
    std::optional<mapping::SyncError> error;
    int status = 0;  // the failed answer's HTTP status
  };
  // Sends the change sets in one $batch; one outcome per change set.
  mapping::Result<std::vector<ChangeSetOutcome>> send_batch(const std::vector<ChangeSet>& sets,
                                                            const std::string& what,
                                                            http::Deadline deadline);

  DataverseClient& client_;
  DataverseApplySettings settings_;
  std::shared_ptr<spdlog::logger> logger_;
  std::size_t batches_sent_ = 0;
};

}  // namespace crmsync::connectors::dynamics
