#include "daemon/applied_outcomes.h"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "state/state_database.h"

namespace crmsync::daemon {

mapping::Result<std::map<std::string, std::string>> recorded_outcomes(state::StateDatabase& db,
                                                                      const std::vector<std::string>& event_ids) {
  std::map<std::string, std::string> out;
  for (std::size_t at = 0; at < event_ids.size(); at += 1000) {
    std::string list;
    for (std::size_t i = at; i < std::min(event_ids.size(), at + 1000); ++i) list += (list.empty() ? "" : ",") + event_ids[i];
    auto rows = db.execute(fmt::format("SELECT event_id, outcome FROM {}.applied_events "
                                       "WHERE event_id = ANY(string_to_array($1, ','))",
                                       db.schema()),
                           {list});
    if (!rows) return rows.error();
    for (const auto& row : rows.value()) out[row.at(0).value_or("")] = row.at(1).value_or("");
  }
  return out;
}

mapping::Result<std::size_t> wait_for_outcomes(state::StateDatabase& db, std::vector<std::string> waiting,
                                               std::chrono::seconds timeout,
                                               std::map<std::string, std::size_t>& outcomes,
                                               const std::function<void(std::size_t, std::size_t)>& progress) {
  const std::size_t total = waiting.size();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto recorded = recorded_outcomes(db, waiting);
    if (!recorded) return recorded.error();
    for (const auto& [event_id, outcome] : recorded.value()) ++outcomes[outcome];
    std::erase_if(waiting, [&](const std::string& id) { return recorded.value().count(id) != 0; });
    if (waiting.empty() || std::chrono::steady_clock::now() >= deadline) return waiting.size();
    if (progress) progress(total - waiting.size(), total);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace crmsync::daemon
