#pragma once

#include <vector>

#include "tests/emulators/record_store.h"

namespace crmsync::emulators {

// The tables every Dataverse emulator knows before a seed adds columns: account, opportunity,
// systemuser, team, businessunit. Lookups are stored as their `_x_value` attribute with the
// navigation property that writes them; crmsync_prmid is the alternate key of account and
// opportunity.
std::vector<ObjectDef> dataverse_builtin_tables();

// The lookup attribute written through a navigation property ("parentaccountid" ->
// "_parentaccountid_value"); nothing when the table has no such navigation property.
const FieldDef* dataverse_navigation(const ObjectDef& def, std::string_view navigation);

}  // namespace crmsync::emulators
