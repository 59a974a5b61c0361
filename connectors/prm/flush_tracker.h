#pragma once

#include <cstddef>
#include <deque>

#include "connectors/prm/lsn.h"

namespace crmsync::connectors::prm {

// Decides how far the replication slot may be confirmed: up to the end of the newest committed
// transaction such that every event of it and of every earlier transaction has been acknowledged
// by Kafka. Transactions are registered in commit order; acknowledgements may arrive in any
// order across partitions. One thread (the capture's; delivery callbacks run on it).
class FlushTracker {
 public:
  // Registers a transaction whose events are being produced. `events` may be 0 (an echo, or a
  // transaction with nothing to send): it is done at once.
  void add(Lsn end_lsn, std::size_t events);
  // One event of the transaction ending at `end_lsn` was acknowledged.
  void acknowledge(Lsn end_lsn);

  // Everything before this position is safely in Kafka.
  Lsn safe_flush() const { return flushed_; }
  std::size_t transactions_in_flight() const { return pending_.size(); }

  // Starts over at `start` (a reconnect re-sends everything after the slot's position).
  void reset(Lsn start);

 private:
  struct Pending {
    Lsn end_lsn;
    std::size_t outstanding;
  };
  void advance();
  std::deque<Pending> pending_;
  Lsn flushed_;
};

}  // namespace crmsync::connectors::prm
