#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka/kafka_settings.h"
#include "mapping/sharing_rules.h"
#include "state/state_database.h"

namespace spdlog {
class logger;
}

namespace crmsync::connectors::salesforce {
class SalesforceClient;
}
namespace crmsync::connectors::dynamics {
class DataverseClient;
}

namespace crmsync::daemon {

class MetricsRegistry;
class MetricSeries;
class PrincipalDirectory;

// What a CRM holds now for some of its records: owner and shares in its own principals. Records
// that no longer exist are absent from the answer.
class CrmSharingSource {
 public:
  virtual ~CrmSharingSource() = default;
  virtual mapping::Side side() const = 0;
  virtual mapping::Result<std::map<std::string, mapping::SideSharing>> read(mapping::ObjectKind object,
                                                                            const std::vector<std::string>& crm_ids) = 0;
};

// Salesforce: OwnerId and the Manual AccountShare / OpportunityShare rows (two queries per 200 ids).
std::unique_ptr<CrmSharingSource> salesforce_sharing_source(connectors::salesforce::SalesforceClient& client);
// Dataverse: ownerid and RetrieveSharedPrincipalsAndAccess, batched.
std::unique_ptr<CrmSharingSource> dynamics_sharing_source(connectors::dynamics::DataverseClient& client,
                                                          std::size_t batch_size);

struct SharingSweepSettings {
  std::string topic;  // the CRM's change topic: <prefix>.changes.<side>
  std::chrono::milliseconds interval{std::chrono::seconds(60)};
  std::size_t page_records = 500;  // synced records read from the state DB and the CRM at a time
};

struct SweepCounts {
  std::size_t records = 0;  // compared
  std::size_t changes = 0;  // sharing changes found and produced
};

// The sharing sweep of one CRM (DESIGN §3 "a revoked share in one system is revoked in the others
// within a bounded, measured time"). Share and owner changes made in a CRM do not show in its
// change capture (Salesforce share rows are hard-deleted; Dataverse access rights are not change
// tracked), so every `interval` the sweep reads back owners and shares of the records synced to
// that CRM and compares them with what crmsync last wrote or saw there. A difference becomes a
// sharing change event on the CRM's change topic, keyed like the capture's events so that it stays
// in the record's order, carrying the version of the record's sharing it was compared with (the
// engine drops it if that version moved meanwhile; the next sweep reads again).
// Own thread, state connection and producer; owned by DaemonProcess, which runs it only while this
// process is the capture leader: start() again after stop() runs it on a new thread.
class SharingSweep {
 public:
  SharingSweep(SharingSweepSettings settings, std::unique_ptr<CrmSharingSource> source,
               std::shared_ptr<const PrincipalDirectory> principals, state::StateDatabaseSettings state,
               connectors::kafka::KafkaSettings kafka, MetricsRegistry& metrics, std::shared_ptr<spdlog::logger> logger);
  ~SharingSweep();
  SharingSweep(const SharingSweep&) = delete;
  SharingSweep& operator=(const SharingSweep&) = delete;

  void start();
  void stop();

  // One pass over every synced record (for tests and the thread).
  mapping::Result<SweepCounts> sweep_once();

 private:
  void run();

  struct Parts;
  std::unique_ptr<Parts> parts_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace crmsync::daemon
