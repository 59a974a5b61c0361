#include "daemon/partner_activity.h"

namespace crmsync::daemon {

PartnerActivity::PartnerActivity(std::size_t changes_per_minute, std::size_t denied_per_hour)
    : changes_per_minute_(changes_per_minute), denied_per_hour_(denied_per_hour) {}

std::vector<PartnerFlag> PartnerActivity::change(const std::string& partner_org, Clock::time_point now) {
  return count(changes_, partner_org, 1, now, std::chrono::minutes(1), changes_per_minute_, "change_rate");
}

std::vector<PartnerFlag> PartnerActivity::denied(const std::string& partner_org, std::size_t amount,
                                                 Clock::time_point now) {
  return count(denials_, partner_org, amount, now, std::chrono::hours(1), denied_per_hour_, "denied_changes");
}

std::vector<PartnerFlag> PartnerActivity::count(std::map<std::string, Window>& windows, const std::string& partner_org,
                                                std::size_t amount, Clock::time_point now, Clock::duration span,
                                                std::size_t threshold, const char* reason) {
  if (partner_org.empty() || threshold == 0 || amount == 0) return {};
  Window& window = windows[partner_org];
  // Hits within one second share a slot, so a burst of thousands costs a handful of entries.
  auto slot = std::chrono::time_point_cast<std::chrono::seconds>(now);
  if (!window.hits.empty() && window.hits.back().first == slot) {
    window.hits.back().second += amount;
  } else {
    window.hits.emplace_back(slot, amount);
  }
  window.total += amount;
  while (!window.hits.empty() && window.hits.front().first <= now - span) {
    window.total -= window.hits.front().second;
    window.hits.pop_front();
  }
  if (window.total <= threshold) {
    window.flagged = false;
    return {};
  }
  if (window.flagged) return {};
  window.flagged = true;
  return {{partner_org, reason, window.total, threshold}};
}

}  // namespace crmsync::daemon
