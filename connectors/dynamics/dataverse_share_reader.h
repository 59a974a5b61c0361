#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "connectors/dynamics/dataverse_client.h"
#include "mapping/crm_writes.h"

namespace crmsync::connectors::dynamics {

// Who owns a Dataverse record and who it is shared with, as Dataverse holds it now.
struct DataverseRecordSharing {
  std::string crm_record_id;  // as the caller asked for it
  // "team:<guid>" or "systemuser:<guid>" (the form DataverseApplier takes), from _ownerid_value and
  // its lookuplogicalname annotation.
  std::string owner_id;
  // One per principal, sorted by principal_id ("team:<guid>" / "systemuser:<guid>"): WriteAccess
  // in the mask makes `edit`, ReadAccess alone `read`; principals with neither are left out.
  std::vector<mapping::CrmShare> shares;
};

// Reads owners and shares back from Dataverse for the periodic sharing sweep: GrantAccess,
// ModifyAccess, RevokeAccess and (on some orgs) assignments made in Dataverse never show in change
// tracking, so the sweep compares what this reader reports with the last synced sharing.
//
// sharing_of() groups its reads into `$batch` requests of at most `batch_size` independent GETs
// (no change sets; GETs may not be in one): one RetrieveSharedPrincipalsAndAccess per record, plus
// one `$filter=<key> eq … or …` query per (up to) 100 records for the owners, so n records cost
// about n / batch_size HTTP calls. Parts that answer 429 or 5xx are asked again in a following
// batch, at most five times per record and never past the deadline; then the whole call fails
// with that (retryable) error: a record is never silently missing. Malformed answers are
// `invalid` errors. Owned by the sweep; one call at a time (not thread-safe); stateless between
// calls except for the call counter.
class DataverseShareReader {
 public:
  static constexpr std::size_t kMaxPageSize = 5000;  // Dataverse's largest odata.maxpagesize

  // `batch_size`: requests per $batch, 2..1000 (Dataverse's limit); `page_size`: rows per page of
  // synced_record_ids, 1..5000. Throws std::invalid_argument outside those ranges.
  DataverseShareReader(DataverseClient& client, std::size_t batch_size,
                       std::size_t page_size = kMaxPageSize);

  // For each given record id (a GUID; duplicates are answered once): its owner and shared
  // principals, in the order asked. Records that no longer exist are absent from the answer (not
  // an error). An id that is no GUID is `invalid`, before anything is sent.
  mapping::Result<std::vector<DataverseRecordSharing>> sharing_of(
      mapping::ObjectKind object, const std::vector<std::string>& crm_record_ids,
      http::Deadline deadline);

  // Ids of every record of the object that carries a PRM id (crmsync_prmid ne null), read page by
  // page through @odata.nextLink.
  mapping::Result<std::vector<std::string>> synced_record_ids(mapping::ObjectKind object,
                                                              http::Deadline deadline);

  // HTTP calls made so far ($batch requests and query pages; the HTTP client's own retries of
  // one call not counted), for tests and metrics.
  std::size_t calls_sent() const { return calls_sent_; }

 private:
  struct RecordRead;  // one record's progress within sharing_of

  // One $batch for `chunk` (indices into `records`): the owner queries and shared-principal reads
  // still missing. Retryable part failures are left for the next round (`last_retryable`).
  mapping::Status read_chunk(mapping::ObjectKind object, std::vector<RecordRead>& records,
                             const std::vector<std::size_t>& chunk, http::Deadline deadline,
                             std::optional<mapping::SyncError>& last_retryable);

  DataverseClient& client_;
  std::size_t page_size_;
  std::size_t records_per_batch_;
  std::size_t calls_sent_ = 0;
};

}  // namespace crmsync::connectors::dynamics
