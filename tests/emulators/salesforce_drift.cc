// Salesforce drift planted past change capture (POST /_emulator/drift): a row's fields changed
// with its audit stamps kept, or the row purged as if hard-deleted and emptied from the recycle
// bin, so neither getUpdated, getDeleted nor a SystemModstamp window shows it.

#include "tests/emulators/json_util.h"
#include "tests/emulators/salesforce_api.h"
#include "tests/emulators/salesforce_ids.h"

namespace crmsync::emulators {

DriftOutcome SalesforceApi::plant_drift(const DriftRequest& request) {
  std::lock_guard lock(mutex_);
  DriftOutcome out;
  ObjectTable* table = store_.table(request.object);
  if (table == nullptr) {
    out.status = 404;
    out.error = "drift: no such sObject: " + request.object;
    return out;
  }
  auto id = normalize_salesforce_id(request.id);
  Record* record = id ? table->find(*id) : nullptr;
  if (record == nullptr) {
    out.status = 404;
    out.error = "drift: " + table->def.name + " has no live record with Id " + request.id;
    return out;
  }
  out.id = record->id;
  if (request.remove) {
    table->rows.erase(out.id);
    remove_shares_of(out.id);
    return out;
  }
  // The API's own update checks names, types, read-only fields and references; the stamps it
  // moved are then put back, which is all change capture looks at.
  const Record before = *record;
  WriteOutcome written = update(*table, out.id, request.set_json);
  if (!written.errors.empty()) {
    out.status = 400;
    out.error = "drift: set:";
    for (const auto& e : written.errors) out.error += " " + e.code + ": " + e.message + ";";
    out.error.pop_back();
    return out;
  }
  for (const char* audit : {"LastModifiedDate", "LastModifiedById", "SystemModstamp"}) {
    if (table->def.field(audit) != nullptr) record->fields[audit] = before.get(audit);
  }
  record->version = before.version;
  auto set = parse_json(request.set_json);
  for (const auto& member : set->GetObject()) {
    const FieldDef* f = table->def.field(member.name.GetString());
    if (f != nullptr && f->name != "Id") out.changed.push_back(f->name);
  }
  return out;
}

}  // namespace crmsync::emulators
