#include "state/capture_cursor_store.h"

#include "state/state_database.h"

namespace crmsync::state {

namespace {

mapping::Status as_status(const mapping::Result<QueryRows>& result) {
  if (!result) return result.error();
  return mapping::ok_status();
}

}  // namespace

CaptureCursorStore::CaptureCursorStore(StateDatabase& database) : database_(database) {}

mapping::Result<std::optional<PrmCaptureCursor>> CaptureCursorStore::load(const std::string& slot_name) {
  auto rows = database_.execute(
      "SELECT slot_name, system_id, publication, creation_reason, consistent_point::text, "
      "snapshot_completed_at IS NOT NULL, confirmed_lsn::text FROM " +
          database_.schema() + ".prm_capture WHERE slot_name = $1",
      {slot_name});
  if (!rows) return rows.error();
  if (rows.value().empty()) return std::optional<PrmCaptureCursor>();
  const QueryRow& row = rows.value()[0];
  PrmCaptureCursor cursor;
  cursor.slot_name = row[0].value_or("");
  cursor.system_id = row[1].value_or("");
  cursor.publication = row[2].value_or("");
  cursor.creation_reason = row[3].value_or("");
  cursor.consistent_point = row[4].value_or("0/0");
  cursor.snapshot_completed = row[5] == "t";
  cursor.confirmed_lsn = row[6];
  return std::optional<PrmCaptureCursor>(std::move(cursor));
}

mapping::Status CaptureCursorStore::record_slot_created(const PrmCaptureCursor& cursor) {
  return as_status(database_.execute(
      "INSERT INTO " + database_.schema() +
          ".prm_capture (slot_name, system_id, publication, creation_reason, consistent_point) "
          "VALUES ($1, $2, $3, $4, $5::pg_lsn) ON CONFLICT (slot_name) DO UPDATE SET "
          "system_id = EXCLUDED.system_id, publication = EXCLUDED.publication, "
          "creation_reason = EXCLUDED.creation_reason, consistent_point = EXCLUDED.consistent_point, "
          "slot_created_at = now(), snapshot_completed_at = NULL, confirmed_lsn = NULL, "
          "updated_at = now()",
      {cursor.slot_name, cursor.system_id, cursor.publication, cursor.creation_reason,
       cursor.consistent_point}));
}

mapping::Status CaptureCursorStore::record_snapshot_completed(const std::string& slot_name) {
  return as_status(database_.execute("UPDATE " + database_.schema() +
                                         ".prm_capture SET snapshot_completed_at = now(), "
                                         "updated_at = now() WHERE slot_name = $1",
                                     {slot_name}));
}

mapping::Status CaptureCursorStore::record_confirmed(const std::string& slot_name,
                                                     const std::string& lsn) {
  return as_status(database_.execute("UPDATE " + database_.schema() +
                                         ".prm_capture SET confirmed_lsn = $2::pg_lsn, "
                                         "updated_at = now() WHERE slot_name = $1",
                                     {slot_name, lsn}));
}

}  // namespace crmsync::state
