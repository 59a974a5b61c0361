#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/dynamics/dataverse_client.h"
#include "connectors/dynamics/delta_link_store.h"
#include "mapping/canonical_event.h"
#include "mapping/retry_policy.h"

namespace spdlog {
class logger;
}

namespace crmsync::connectors::kafka {
class KafkaProducer;
}

namespace crmsync::connectors::dynamics {

// One change-tracked table and the columns the capture reads ($select; the primary key and
// crmsync_prmid are always added).
struct CapturedTable {
  mapping::ObjectKind object = mapping::ObjectKind::account;
  std::vector<std::string> columns;
};

// Translates a Dataverse team or user into a canonical principal ("partner_org:<id>",
// "partner_user:<id>"); nothing for principals that are no partner's (internal teams and users).
// `logical_name` is "team" or "systemuser", or empty when Dataverse did not say.
using PrincipalMap = std::function<std::optional<std::string>(const std::string& logical_name,
                                                              const std::string& id)>;

struct DataverseCaptureSettings {
  std::string topic{"crmsync.changes.dynamics"};  // <prefix>.changes.dynamics
  std::string org;  // the key delta links are stored under: the environment URL
  std::vector<CapturedTable> tables;
  int page_size = 5000;  // Prefer: odata.maxpagesize (≤ 5000)
  std::chrono::milliseconds ack_timeout{
      std::chrono::seconds(60)};  // Kafka, per entity set and pass
  // When set, every captured upsert carries `sharing`: the owner (`_ownerid_value`) and the
  // grants RetrieveSharedPrincipalsAndAccess reports (one extra request per changed record),
  // translated through this map; principals it does not know are left out (deny by default).
  PrincipalMap principal_map;
};

// What one pass did.
struct CapturePass {
  std::size_t upserts = 0;
  std::size_t deletes = 0;
  std::size_t baselines = 0;    // entity sets read in full (first pass or re-baseline)
  std::size_t rebaselines = 0;  // of those, because the stored delta link was refused
};

// For /metrics and `crmsync status`; written by the capture thread, read by anyone.
struct DataverseCaptureProbe {
  std::atomic<std::uint64_t> events_produced{0};
  std::atomic<std::uint64_t> deletes{0};
  std::atomic<std::uint64_t> baselines{0};
  std::atomic<std::uint64_t> rebaselines{0};
  std::atomic<std::uint64_t> passes{0};
};

// The Dataverse change capture (DESIGN §2): change tracking per entity set. The first pass reads
// the table with `Prefer: odata.track-changes` (the baseline, events marked `snapshot`), later
// passes follow the stored delta link (new and updated rows, then `$deletedEntity` rows, which
// become delete events). Events go to Kafka with the idempotent producer, keyed by
// `object:dynamics:<guid>` (the only id a delete carries, so a record's upserts and delete stay in
// one partition and in order); the new delta link is stored only after Kafka acknowledged every
// event of the pass, so a crash re-reads the same changes (same event ids) and never skips. A
// refused delta link (expired version stamp, unknown token) is logged at error level, counted in
// the state database, and followed by a new baseline.
//
// Owned by the composition root; poll_once() / run() on one capture thread.
class DataverseCapture {
 public:
  DataverseCapture(DataverseClient& client, DataverseCaptureSettings settings,
                   DeltaLinkStore& links, kafka::KafkaProducer& producer,
                   std::shared_ptr<spdlog::logger> logger);

  // One pass over every table. An error leaves the stored links where they were.
  mapping::Result<CapturePass> poll_once(http::Deadline deadline);

  // Passes every `interval` until `stop`, each bounded by `pass_timeout`. Failures that can be
  // retried (transient, rate_limited, conflict) are logged and retried with `retry`'s backoff;
  // `auth`, `invalid` and `fatal` end the loop with that error (an operator must act).
  mapping::Status run(const std::atomic<bool>& stop, std::chrono::milliseconds interval,
                      std::chrono::milliseconds pass_timeout, mapping::RetryPolicy retry,
                      mapping::UniformRandom uniform01);

  const DataverseCaptureProbe& probe() const { return probe_; }

 private:
  mapping::Status capture_table(const CapturedTable& table, http::Deadline deadline,
                                CapturePass& pass);
  // Reads from `target` (a baseline query or a delta link) through every page; produces the
  // events; answers the final delta link. `refused` is set when Dataverse refused the delta link.
  mapping::Result<std::string> read_changes(const CapturedTable& table, const std::string& target,
                                            bool baseline, http::Deadline deadline,
                                            CapturePass& pass, std::string& refused);

  // The owner and the grants of one captured record, translated by settings_.principal_map.
  // `owner`/`owner_kind`: the row's _ownerid_value and its lookuplogicalname annotation.
  mapping::Status add_sharing(const std::string& owner, const std::string& owner_kind,
                              mapping::CanonicalEvent& event, http::Deadline deadline);

  DataverseClient& client_;
  DataverseCaptureSettings settings_;
  DeltaLinkStore& links_;
  kafka::KafkaProducer& producer_;
  std::shared_ptr<spdlog::logger> logger_;
  DataverseCaptureProbe probe_;
};

// One row of a change-tracking page: its event, and the owner columns the sharing lookup needs
// (`_ownerid_value` and its lookuplogicalname annotation; empty when absent).
struct ChangedRow {
  mapping::CanonicalEvent event;
  std::string owner;
  std::string owner_kind;
};

// One page of a change-tracking answer: the rows that carry an id, in answer order, and the links
// it ends with ("" when absent: @odata.nextLink on every page but the last, @odata.deltaLink on
// the last).
struct ChangesPage {
  std::vector<ChangedRow> rows;
  std::string next_link;
  std::string delta_link;
};

// Reads one page of a change-tracking answer (a baseline or a delta). `transient`, naming
// `description`, when the body is not an object with a value array. Pure: the capture's parser,
// exposed for unit tests and fuzzing (tests/fuzz).
mapping::Result<ChangesPage> parse_changes_page(mapping::ObjectKind object, std::string_view body, bool baseline,
                                                const std::string& pass_id, std::string_view description);

// Builds the canonical event of one row of a change-tracking answer (a row or a
// `$deletedEntity`); nothing for a row without an id. `pass_id` identifies the delta link the row
// came from (for stable delete event ids). Exposed for unit tests.
std::optional<mapping::CanonicalEvent> event_from_row(mapping::ObjectKind object,
                                                      const std::string& row_json, bool baseline,
                                                      const std::string& pass_id);

}  // namespace crmsync::connectors::dynamics
