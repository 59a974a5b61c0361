#include "daemon/fair_batcher.h"

#include <set>
#include <tuple>

#include "mapping/event_json.h"

namespace crmsync::daemon {

using connectors::kafka::ConsumedRecord;

std::string partner_of_event(const std::string& event_json) {
  auto event = mapping::parse_event(event_json);
  if (!event) return "";
  if (event.value().sharing.owner_partner_org) return *event.value().sharing.owner_partner_org;
  return event.value().actor.partner_org;
}

FairBatcher::FairBatcher(std::size_t batch_max) : batch_max_(batch_max == 0 ? 1 : batch_max) {}

void FairBatcher::add(ConsumedRecord record) {
  // Kafka re-delivers what was not committed after a rebalance: an offset already held is not
  // taken twice.
  if (!offsets_.insert({record.topic, record.partition, record.offset}).second) return;
  auto entry = std::make_unique<Entry>();
  // A record's events stay in the queue its first waiting event chose, so they keep their order
  // even when the record changes owner in between.
  auto [queue, inserted] = record_partner_.try_emplace(record.key, "");
  if (inserted) queue->second = partner_of_event(record.value);
  entry->partner = queue->second;
  entry->record = std::move(record);
  buffer_.push_back(std::move(entry));
  ++waiting_;
}

std::vector<const ConsumedRecord*> FairBatcher::next_batch() {
  std::vector<const ConsumedRecord*> batch;
  if (!in_flight_.empty()) return batch;
  // Each partner's waiting events in arrival order; a record whose earlier event is still in
  // flight cannot happen here (nothing is in flight).
  std::map<std::string, std::deque<Entry*>> queues;
  std::vector<std::string> turn;  // partners in order of their oldest waiting event
  for (auto& entry : buffer_) {
    if (entry->state != Entry::State::waiting) continue;
    auto& queue = queues[entry->partner];
    if (queue.empty()) turn.push_back(entry->partner);
    queue.push_back(entry.get());
  }
  while (batch.size() < batch_max_) {
    bool took = false;
    for (const auto& partner : turn) {
      auto& queue = queues[partner];
      if (queue.empty()) continue;
      Entry* entry = queue.front();
      queue.pop_front();
      entry->state = Entry::State::in_flight;
      in_flight_.push_back(entry);
      batch.push_back(&entry->record);
      took = true;
      if (batch.size() == batch_max_) break;
    }
    if (!took) break;
  }
  waiting_ -= batch.size();
  return batch;
}

void FairBatcher::batch_applied() {
  for (Entry* entry : in_flight_) entry->state = Entry::State::applied;
  in_flight_.clear();
}

std::vector<ConsumedRecord> FairBatcher::committable() {
  // Per partition, in offset order: the last offset up to which everything held is applied.
  std::map<std::pair<std::string, int>, std::map<long long, const Entry*>> partitions;
  for (const auto& entry : buffer_) {
    partitions[{entry->record.topic, entry->record.partition}][entry->record.offset] = entry.get();
  }
  std::map<std::pair<std::string, int>, const Entry*> last_applied;
  for (const auto& [partition, entries] : partitions) {
    for (const auto& [offset, entry] : entries) {
      if (entry->state != Entry::State::applied) break;
      last_applied[partition] = entry;
    }
  }
  std::vector<ConsumedRecord> out;
  for (const auto& [partition, entry] : last_applied) out.push_back(entry->record);
  // Drop the covered entries; a record key whose events all left frees its queue choice.
  std::deque<std::unique_ptr<Entry>> kept;
  std::set<std::string> live_keys;
  for (auto& entry : buffer_) {
    auto last = last_applied.find({entry->record.topic, entry->record.partition});
    if (last != last_applied.end() && entry->record.offset <= last->second->record.offset) {
      offsets_.erase({entry->record.topic, entry->record.partition, entry->record.offset});
      continue;
    }
    live_keys.insert(entry->record.key);
    kept.push_back(std::move(entry));
  }
  buffer_ = std::move(kept);
  for (auto it = record_partner_.begin(); it != record_partner_.end();) {
    it = live_keys.count(it->first) == 0 ? record_partner_.erase(it) : std::next(it);
  }
  return out;
}

std::map<std::string, std::size_t> FairBatcher::waiting_by_partner() const {
  std::map<std::string, std::size_t> out;
  for (const auto& entry : buffer_) {
    if (entry->state == Entry::State::waiting) ++out[entry->partner];
  }
  return out;
}

}  // namespace crmsync::daemon
