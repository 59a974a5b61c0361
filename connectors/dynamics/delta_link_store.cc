#include "connectors/dynamics/delta_link_store.h"

#include "state/state_database.h"

namespace crmsync::connectors::dynamics {

DeltaLinkStore::DeltaLinkStore(state::StateDatabase& database) : database_(database) {}

mapping::Result<std::optional<std::string>> DeltaLinkStore::load(const std::string& org,
                                                                 const std::string& entity_set) {
  auto rows = database_.execute(
      "SELECT delta_link FROM " + database_.schema() +
          ".dynamics_capture WHERE org = $1 AND entity_set = $2 AND delta_link <> ''",
      {org, entity_set});
  if (!rows) return rows.error();
  if (rows.value().empty()) return std::optional<std::string>{};
  return rows.value()[0][0];
}

mapping::Status DeltaLinkStore::save(const std::string& org, const std::string& entity_set,
                                     const std::string& delta_link, bool baseline) {
  auto rows = database_.execute(
      "INSERT INTO " + database_.schema() +
          ".dynamics_capture AS c (org, entity_set, delta_link) VALUES ($1, $2, $3) "
          "ON CONFLICT (org, entity_set) DO UPDATE SET delta_link = EXCLUDED.delta_link, "
          "updated_at = now(), "
          "baseline_completed_at = CASE WHEN $4 THEN now() ELSE c.baseline_completed_at END",
      {org, entity_set, delta_link, std::string(baseline ? "true" : "false")});
  if (!rows) return rows.error();
  return mapping::ok_status();
}

mapping::Status DeltaLinkStore::record_rebaseline(const std::string& org,
                                                  const std::string& entity_set,
                                                  const std::string& reason) {
  auto rows = database_.execute(
      "INSERT INTO " + database_.schema() +
          ".dynamics_capture AS c (org, entity_set, delta_link, rebaseline_count, "
          "last_rebaseline_reason, "
          "last_rebaseline_at) VALUES ($1, $2, '', 1, $3, now()) "
          "ON CONFLICT (org, entity_set) DO UPDATE SET delta_link = '', rebaseline_count = "
          "c.rebaseline_count + 1, "
          "last_rebaseline_reason = $3, last_rebaseline_at = now(), updated_at = now()",
      {org, entity_set, reason});
  if (!rows) return rows.error();
  return mapping::ok_status();
}

mapping::Result<int> DeltaLinkStore::rebaseline_count(const std::string& org,
                                                      const std::string& entity_set) {
  auto rows = database_.execute("SELECT rebaseline_count FROM " + database_.schema() +
                                    ".dynamics_capture WHERE org = $1 AND entity_set = $2",
                                {org, entity_set});
  if (!rows) return rows.error();
  if (rows.value().empty() || !rows.value()[0][0]) return 0;
  return std::stoi(*rows.value()[0][0]);
}

}  // namespace crmsync::connectors::dynamics
