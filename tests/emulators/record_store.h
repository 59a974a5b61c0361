#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tests/emulators/emulator_clock.h"
#include "tests/emulators/text.h"

namespace crmsync::emulators {

enum class FieldType {
  id,
  string,
  textarea,
  picklist,
  boolean,
  number,
  integer,
  date,
  datetime,
  reference
};

struct FieldDef {
  std::string name;
  FieldType type = FieldType::string;
  bool external_id = false;  // Salesforce idLookup/externalId; Dataverse alternate key
  bool createable = true;
  bool updateable = true;
  bool nillable = true;
  bool required = false;  // must be given on create
  bool unique = false;
  std::vector<std::string> reference_to;  // Salesforce object names / Dataverse entity sets
  std::string navigation;  // Dataverse: single-valued navigation property of a lookup
};

struct ObjectDef {
  std::string name;  // Salesforce API name / Dataverse logical name
  std::string label;
  std::string key_prefix;   // Salesforce
  std::string entity_set;   // Dataverse
  std::string primary_key;  // "Id" / "accountid"
  std::vector<FieldDef> fields;

  const FieldDef* field(std::string_view field_name) const;  // case-insensitive
};

// A JSON scalar: null, boolean, number or string. Dates and date-times are normalised strings
// (format_salesforce_datetime / format_iso_seconds), so string order is time order.
using FieldValue = std::variant<std::monostate, bool, double, std::string>;

inline bool is_null(const FieldValue& value) {
  return std::holds_alternative<std::monostate>(value);
}

struct Record {
  std::string id;
  std::map<std::string, FieldValue, CaseInsensitiveLess> fields;
  std::int64_t sequence = 0;  // creation order
  std::int64_t version = 0;   // bumped on every write (Dataverse versionnumber / change tracking)
  bool deleted = false;
  EpochMs deleted_at = 0;

  const FieldValue& get(std::string_view name) const;
};

// The rows of one object, in creation order.
struct ObjectTable {
  ObjectDef def;
  std::map<std::string, Record, CaseInsensitiveLess> rows;  // by id

  Record* find(std::string_view id, bool include_deleted = false);
  const Record* find(std::string_view id, bool include_deleted = false) const;
  std::vector<Record*> live_rows_in_order(bool include_deleted = false);
};

// In-memory state of one emulated org. A value type: copying it is how an all-or-none operation
// takes a snapshot to roll back to. Not thread-safe; the API that owns it serialises access.
class RecordStore {
 public:
  void add_object(ObjectDef def);
  ObjectTable* table(std::string_view name);  // by object name, case-insensitive
  ObjectTable* table_by_entity_set(std::string_view entity_set);
  const ObjectTable* table(std::string_view name) const;
  const ObjectTable* table_by_entity_set(std::string_view entity_set) const;
  std::vector<const ObjectDef*> objects() const;
  std::int64_t next_version() { return ++version_; }
  std::int64_t current_version() const { return version_; }
  std::int64_t next_sequence() { return ++sequence_; }

 private:
  std::map<std::string, ObjectTable, CaseInsensitiveLess> tables_;
  std::vector<std::string> order_;
  std::int64_t version_ = 1000;
  std::int64_t sequence_ = 0;
};

}  // namespace crmsync::emulators
