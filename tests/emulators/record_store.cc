#include "tests/emulators/record_store.h"

#include <algorithm>

namespace crmsync::emulators {

const FieldDef* ObjectDef::field(std::string_view field_name) const {
  for (const auto& f : fields) {
    if (iequals(f.name, field_name)) return &f;
  }
  return nullptr;
}

const FieldValue& Record::get(std::string_view name) const {
  static const FieldValue kNull;
  auto it = fields.find(name);
  return it == fields.end() ? kNull : it->second;
}

Record* ObjectTable::find(std::string_view id, bool include_deleted) {
  auto it = rows.find(id);
  if (it == rows.end() || (it->second.deleted && !include_deleted)) return nullptr;
  return &it->second;
}

const Record* ObjectTable::find(std::string_view id, bool include_deleted) const {
  auto it = rows.find(id);
  if (it == rows.end() || (it->second.deleted && !include_deleted)) return nullptr;
  return &it->second;
}

std::vector<Record*> ObjectTable::live_rows_in_order(bool include_deleted) {
  std::vector<Record*> out;
  for (auto& [id, row] : rows) {
    if (!row.deleted || include_deleted) out.push_back(&row);
  }
  std::sort(out.begin(), out.end(),
            [](const Record* a, const Record* b) { return a->sequence < b->sequence; });
  return out;
}

void RecordStore::add_object(ObjectDef def) {
  std::string name = def.name;
  auto it = tables_.find(name);
  if (it != tables_.end()) {
    // A seed adding custom fields to a known object.
    for (auto& f : def.fields) {
      if (it->second.def.field(f.name) == nullptr) it->second.def.fields.push_back(f);
    }
    return;
  }
  order_.push_back(name);
  tables_.emplace(name, ObjectTable{std::move(def), {}});
}

ObjectTable* RecordStore::table(std::string_view name) {
  auto it = tables_.find(name);
  return it == tables_.end() ? nullptr : &it->second;
}

ObjectTable* RecordStore::table_by_entity_set(std::string_view entity_set) {
  for (auto& [name, t] : tables_) {
    if (t.def.entity_set == entity_set) return &t;
  }
  return nullptr;
}

const ObjectTable* RecordStore::table(std::string_view name) const {
  auto it = tables_.find(name);
  return it == tables_.end() ? nullptr : &it->second;
}

const ObjectTable* RecordStore::table_by_entity_set(std::string_view entity_set) const {
  for (const auto& [name, t] : tables_) {
    if (t.def.entity_set == entity_set) return &t;
  }
  return nullptr;
}

std::vector<const ObjectDef*> RecordStore::objects() const {
  std::vector<const ObjectDef*> out;
  for (const auto& name : order_) out.push_back(&tables_.find(name)->second.def);
  return out;
}

}  // namespace crmsync::emulators
