#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "connectors/kafka/kafka_consumer.h"

namespace crmsync::daemon {

// The apply worker's read-ahead buffer (DESIGN §3 per-partner fairness): consumed change events
// wait here and leave in batches filled round-robin across partner orgs, so one partner's bulk (a
// runaway integration) does not delay the others' changes. Every record's events (one Kafka key)
// leave in their order, and offsets are committed per partition only up to the last event that,
// with all before it, has been applied. Not thread-safe; owned by the apply worker.
class FairBatcher {
 public:
  explicit FairBatcher(std::size_t batch_max);

  // A consumed event; its partner org is read from its sharing (owner org; "" when none, e.g. CRM
  // changes and the vendor's own records).
  void add(connectors::kafka::ConsumedRecord record);

  // The partner org of the event added last.
  const std::string& last_partner() const { return buffer_.back()->partner; }
  std::size_t waiting() const { return waiting_; }  // not handed out yet
  std::size_t held() const { return buffer_.size(); }  // waiting, in flight or applied but not committable

  // Up to batch_max waiting events, one partner org at a time in turn; marked in flight. Empty
  // while a batch is in flight.
  std::vector<const connectors::kafka::ConsumedRecord*> next_batch();
  // The batch handed out last is applied (its dead letters acknowledged).
  void batch_applied();
  // Per partition, the last record to commit (all before it applied); drops what it covers.
  std::vector<connectors::kafka::ConsumedRecord> committable();

  // Waiting events per partner org (for the anomaly flags).
  std::map<std::string, std::size_t> waiting_by_partner() const;

 private:
  struct Entry {
    connectors::kafka::ConsumedRecord record;
    std::string partner;
    enum class State { waiting, in_flight, applied } state = State::waiting;
  };
  std::size_t batch_max_;
  std::deque<std::unique_ptr<Entry>> buffer_;  // arrival order
  std::vector<Entry*> in_flight_;
  std::map<std::string, std::string> record_partner_;  // Kafka key -> the partner queue its events use
  std::set<std::tuple<std::string, int, long long>> offsets_;  // (topic, partition, offset) held
  std::size_t waiting_ = 0;
};

// The partner org an event belongs to, read from its JSON ("" when none or unreadable).
std::string partner_of_event(const std::string& event_json);

}  // namespace crmsync::daemon
