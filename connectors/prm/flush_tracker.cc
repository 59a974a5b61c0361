#include "connectors/prm/flush_tracker.h"

#include <algorithm>
#include <cassert>

namespace crmsync::connectors::prm {

void FlushTracker::add(Lsn end_lsn, std::size_t events) {
  assert(pending_.empty() || pending_.back().end_lsn <= end_lsn);
  pending_.push_back({end_lsn, events});
  advance();
}

void FlushTracker::acknowledge(Lsn end_lsn) {
  // Transactions are few in flight and ordered: a binary search finds the one.
  auto it = std::lower_bound(pending_.begin(), pending_.end(), end_lsn,
                             [](const Pending& pending, Lsn lsn) { return pending.end_lsn < lsn; });
  if (it == pending_.end() || it->end_lsn != end_lsn || it->outstanding == 0) return;
  --it->outstanding;
  advance();
}

void FlushTracker::advance() {
  while (!pending_.empty() && pending_.front().outstanding == 0) {
    flushed_ = std::max(flushed_, pending_.front().end_lsn);
    pending_.pop_front();
  }
}

void FlushTracker::reset(Lsn start) {
  pending_.clear();
  flushed_ = start;
}

}  // namespace crmsync::connectors::prm
