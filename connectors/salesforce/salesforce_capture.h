#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "connectors/http/http_message.h"
#include "mapping/canonical_event.h"
#include "mapping/sync_error.h"
#include "state/state_database.h"

namespace spdlog {
class logger;
}

namespace crmsync::connectors::kafka {
class KafkaProducer;
}

namespace crmsync::connectors::salesforce {

class SalesforceClient;

struct SalesforceCapturedObject {
  mapping::ObjectKind object = mapping::ObjectKind::account;
  std::vector<std::string> fields;  // captured fields besides Id, SystemModstamp, IsDeleted, LastModifiedById
};

struct SalesforceCaptureSettings {
  std::string org;  // names the org in cursors and event ids (e.g. its My Domain)
  std::vector<SalesforceCapturedObject> objects;
  std::string topic{"crmsync.changes.salesforce"};
  // Re-read this much before the cursor on every poll: a record whose transaction committed after
  // a later-stamped one was read still arrives.
  std::chrono::seconds overlap{120};
  std::chrono::milliseconds poll_interval{std::chrono::seconds(5)};
};

// Defaults for the reference mapping: Account and Opportunity with the fields a sync uses.
std::vector<SalesforceCapturedObject> default_captured_objects();

// Salesforce change capture by polling (DESIGN §2): per object, queryAll ordered by
// (SystemModstamp, Id) from the stored cursor minus an overlap window, following
// nextRecordsUrl; rows already sent with the same content are dropped (so neither a late commit
// nor many records sharing the cursor's timestamp is lost or sent twice); deleted rows
// (IsDeleted) become delete events. Events go to Kafka; the cursor is stored only after Kafka
// acknowledged every event up to it. The state of what was sent inside the overlap window lives in
// memory: after a restart the window's events are sent again, with the same event ids.
// One thread (poll_once/run); owns its state-database connection.
class SalesforceCapture {
 public:
  SalesforceCapture(SalesforceCaptureSettings settings, SalesforceClient& client, kafka::KafkaProducer& producer,
                    state::StateDatabaseSettings state, std::shared_ptr<spdlog::logger> logger);
  ~SalesforceCapture();

  // One round over every object. Returns the number of events produced.
  mapping::Result<std::size_t> poll_once(http::Deadline deadline);
  // Polls every poll_interval until `stop`.
  mapping::Status run(const std::atomic<bool>& stop);

  // Events produced to Kafka (acknowledged) since construction; read by any thread (/metrics).
  std::uint64_t events_produced() const { return events_produced_.load(std::memory_order_relaxed); }

 private:
  struct Cursor {
    std::string modstamp;  // as Salesforce printed it
    std::string id;
  };
  mapping::Result<std::size_t> poll_object(const SalesforceCapturedObject& object, http::Deadline deadline);

  SalesforceCaptureSettings settings_;
  SalesforceClient& client_;
  kafka::KafkaProducer& producer_;
  state::StateDatabaseSettings state_settings_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<state::StateDatabase> state_;
  // Per object: Id → (SystemModstamp, content hash) of what was sent inside the overlap window.
  std::map<mapping::ObjectKind, std::map<std::string, std::pair<std::string, std::string>>> sent_;
  std::atomic<std::uint64_t> events_produced_{0};
};

// One row of a capture page: the event it becomes, where it sits in the (SystemModstamp, Id)
// order, and a hash of its captured content (with the modstamp, what decides whether this
// version was sent already).
struct CapturedRow {
  mapping::CanonicalEvent event;
  std::string id;
  std::string modstamp;  // as Salesforce printed it
  std::string content_hash;
};

// One page of the capture's queryAll answer, in answer order; `next_records_url` is "" on the
// last page.
struct CapturePage {
  std::vector<CapturedRow> rows;
  std::string next_records_url;
};

// Reads one queryAll page of `captured`'s object (Id, SystemModstamp, IsDeleted, LastModifiedById
// and the captured fields; rows without a string Id and SystemModstamp are skipped). `org` goes
// into the event ids. A body that is not an object with a records array is `fatal`. Pure: the
// capture's parser, exposed for unit tests and fuzzing (tests/fuzz).
mapping::Result<CapturePage> parse_capture_page(std::string_view body, const SalesforceCapturedObject& captured,
                                                const std::string& org);

// Salesforce date-time text ("2026-11-27T23:28:09.000+0000") as Unix milliseconds; nothing if
// malformed.
std::optional<long long> parse_salesforce_datetime(std::string_view text);

}  // namespace crmsync::connectors::salesforce
