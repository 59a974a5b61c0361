#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tests/emulators/record_store.h"

namespace crmsync::emulators {

// The OData $filter subset of the Dataverse emulator: eq ne gt ge lt le, and or not,
// parentheses, contains/startswith/endswith, string, number, boolean, null, GUID, date and
// date-time literals. Anything else is an error, never a guessed answer.

enum class ODataLiteral { string, number, boolean, null, guid, date, datetime };

struct ODataExpr {
  enum class Kind { all_of, any_of, negation, compare, function };
  Kind kind = Kind::compare;
  std::vector<ODataExpr> children;
  std::string property;
  std::string op;  // eq ne gt ge lt le, or contains startswith endswith
  ODataLiteral literal_kind = ODataLiteral::null;
  FieldValue literal;  // date-times normalised to format_iso_seconds, GUIDs lower-case
};

struct ODataOrder {
  std::string property;
  bool descending = false;
};

// Parse errors carry the message Dataverse answers with (code 0x0, HTTP 400).
std::variant<ODataExpr, std::string> parse_odata_filter(std::string_view text);
std::variant<std::vector<ODataOrder>, std::string> parse_odata_orderby(std::string_view text);
// Checks properties and literal types against the table; canonical property names.
std::optional<std::string> bind_odata_filter(ODataExpr& expr, const ObjectDef& def);
bool odata_matches(const ODataExpr& expr, const Record& record);
// "Could not find a property named 'x' on type 'Microsoft.Dynamics.CRM.account'."
std::string odata_unknown_property(std::string_view property, const ObjectDef& def);

}  // namespace crmsync::emulators
