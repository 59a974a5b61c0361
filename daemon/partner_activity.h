#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace crmsync::daemon {

struct PartnerFlag {
  std::string partner_org;
  std::string reason;  // change_rate | denied_changes
  std::size_t value = 0;
  std::size_t threshold = 0;
};

// Per partner org: changes in the last minute and denied changes in the last hour, against the
// anomaly thresholds (DESIGN §3). A partner is flagged once when it crosses a threshold and may be
// flagged again after it fell back under it. Not thread-safe; owned by the apply worker.
class PartnerActivity {
 public:
  using Clock = std::chrono::steady_clock;
  PartnerActivity(std::size_t changes_per_minute, std::size_t denied_per_hour);

  // One change event of `partner_org` ("" = no partner: not counted).
  std::vector<PartnerFlag> change(const std::string& partner_org, Clock::time_point now);
  std::vector<PartnerFlag> denied(const std::string& partner_org, std::size_t count, Clock::time_point now);

 private:
  struct Window {
    std::deque<std::pair<Clock::time_point, std::size_t>> hits;
    std::size_t total = 0;
    bool flagged = false;
  };
  std::vector<PartnerFlag> count(std::map<std::string, Window>& windows, const std::string& partner_org,
                                 std::size_t amount, Clock::time_point now, Clock::duration span,
                                 std::size_t threshold, const char* reason);

  std::size_t changes_per_minute_;
  std::size_t denied_per_hour_;
  std::map<std::string, Window> changes_;
  std::map<std::string, Window> denials_;
};

}  // namespace crmsync::daemon
