#pragma once

// Internal to the mapping loader: the [<object>.fields.<name>.values] table of an enum field.
// Includes toml++; include it only from .cc files of this library.

#include <optional>
#include <string>

#include "mapping/mapping_definition.h"
#include "mapping/toml_wording.h"

namespace crmsync::mapping {

// Fills the enum_values of `field`'s side bindings (so call it after the bindings are read) from
// the `values` key of `table`, the field's section at `prefix`. Reports a missing table for an
// enum, a table on another type, a canonical value without a value for a bound side or with one
// for an unbound side, a side value used twice, and a side mixing integers and strings (a side
// whose values are all integers gets numeric_enum_values).
void read_enum_values(const toml::table& table, const std::string& prefix,
                      std::optional<FieldType> type, FieldMapping& field,
                      toml_wording::ProblemLog& problems);

}  // namespace crmsync::mapping
