// Dataverse drift planted past change capture (POST /_emulator/drift): a row's columns changed
// with versionnumber and modifiedon kept, or the row removed without a tombstone, so neither a
// delta link nor an odata.track-changes query shows it.

#include "tests/emulators/dataverse_api.h"
#include "tests/emulators/dataverse_schema.h"
#include "tests/emulators/json_util.h"

namespace crmsync::emulators {

DriftOutcome DataverseApi::plant_drift(const DriftRequest& request) {
  std::lock_guard lock(mutex_);
  DriftOutcome out;
  ObjectTable* table = store_.table_by_entity_set(request.object);
  if (table == nullptr) table = store_.table(request.object);
  if (table == nullptr) {
    out.status = 404;
    out.error = "drift: no such entity set or table: " + request.object;
    return out;
  }
  std::string id = to_lower(request.id);
  if (id.size() == 38 && id.front() == '{' && id.back() == '}') id = id.substr(1, 36);
  Record* record = table->find(id);
  if (record == nullptr) {
    out.status = 404;
    out.error = "drift: " + table->def.name + " With Id = " + request.id + " Does Not Exist";
    return out;
  }
  out.id = record->id;
  if (request.remove) {
    forget_access(table->def, out.id);
    table->rows.erase(out.id);
    return out;
  }
  // The API's own body rules (column names, types, read-only columns, @odata.bind), without
  // touch(): the version and modifiedon stay, so change tracking has nothing to report.
  Record updated = *record;
  DataverseCall call;
  if (auto error = apply_body(call, *table, updated, request.set_json, false)) {
    auto body = parse_json(error->body);
    out.status = 400;
    out.error = "drift: set: " + (body && body->IsObject() && body->HasMember("error")
                                      ? string_member((*body)["error"], "message")
                                      : error->body);
    return out;
  }
  *record = std::move(updated);
  auto set = parse_json(request.set_json);
  for (const auto& member : set->GetObject()) {
    std::string name = member.name.GetString();
    auto at = name.find('@');
    const FieldDef* f = at == std::string::npos ? table->def.field(name)
                        : name.substr(at) == "@odata.bind"
                            ? dataverse_navigation(table->def, name.substr(0, at))
                            : nullptr;
    if (f != nullptr && f->name != table->def.primary_key) out.changed.push_back(f->name);
  }
  return out;
}

}  // namespace crmsync::emulators
