#pragma once

#include <string>
#include <vector>

#include "connectors/prm/prm_table_binding.h"
#include "connectors/prm/sharing_view.h"
#include "connectors/prm/transaction_assembler.h"
#include "mapping/canonical_event.h"

namespace crmsync::connectors::prm {

// A change the capture cannot turn into a record event (a TRUNCATE, a row without its id): it
// goes to the dead-letter topic with the reason, never silently away.
struct DeadLetter {
  std::string key;
  std::string reason;
  std::string detail_json;  // a JSON object describing what was not captured
};

struct BuiltTransaction {
  std::vector<mapping::CanonicalEvent> events;
  std::vector<DeadLetter> dead_letters;
  std::size_t ignored_rows = 0;  // rows of deliberately ignored tables (partner directory, internal)
};

// A row read by a snapshot: column names, type oids and text values, NULL as nullopt.
struct SnapshotRow {
  std::string schema;
  std::string table;
  std::vector<std::string> columns;
  std::vector<std::uint32_t> type_oids;
  std::vector<std::optional<std::string>> values;
};

// Turns committed PRM transactions (and snapshot rows) into canonical events with their sharing
// and actor. Keeps the SharingView current as share rows and owners change. Event ids are
// derived from (system id, commit LSN, position in the transaction), so a change re-sent after a
// restart carries the same identity. One thread.
class PrmEventBuilder {
 public:
  PrmEventBuilder(PrmBindings bindings, std::string system_id);

  BuiltTransaction build(const CommittedTransaction& transaction);

  // Feeds a share row read by a snapshot into the sharing view (before the record rows).
  void load_snapshot_share(const SnapshotRow& row);
  // Records a record row's owner in the sharing view (restart: the view is rebuilt from the tables).
  void load_snapshot_owner(const SnapshotRow& row);
  // An event for a record row read by a snapshot taken at `consistent_point`.
  std::optional<mapping::CanonicalEvent> snapshot_event(const SnapshotRow& row, Lsn consistent_point,
                                                        const std::string& occurred_at);

  SharingView& sharing() { return sharing_; }
  const PrmBindings& bindings() const { return bindings_; }

 private:
  PrmBindings bindings_;
  std::string system_id_;
  SharingView sharing_;
};

// Converts a column's text representation to a canonical value by its type: booleans, integers,
// numerics and floats by value (numerics keep their exact digits), timestamptz to RFC 3339 UTC,
// everything else as text.
mapping::FieldValue to_field_value(std::uint32_t type_oid, const std::string& text);

// PostgreSQL microseconds since 2000-01-01 as RFC 3339 UTC with microseconds.
std::string postgres_time_to_rfc3339(std::int64_t postgres_us);

}  // namespace crmsync::connectors::prm
