#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tests/emulators/record_store.h"

namespace crmsync::emulators {

// The SOQL subset a sync needs (docs/emulators.md): one object, a field list or COUNT(),
// WHERE with AND/OR/NOT, parentheses and = != < <= > >= LIKE IN NOT IN over string, number,
// boolean, null, date and date-time literals, ORDER BY, LIMIT, OFFSET. Anything else is a
// MALFORMED_QUERY error, never a silently wrong answer.

enum class LiteralKind { string, number, boolean, null, date, datetime };

struct SoqlLiteral {
  LiteralKind kind = LiteralKind::null;
  FieldValue value;  // date-times normalised to format_salesforce_datetime
};

struct SoqlCondition {
  enum class Kind { all_of, any_of, negation, compare, in, not_in, like };
  Kind kind = Kind::compare;
  std::vector<SoqlCondition> children;
  std::string field;
  std::string op;  // = != < <= > >=
  std::vector<SoqlLiteral> values;
};

struct SoqlOrder {
  std::string field;
  bool descending = false;
  bool nulls_first = true;
};

struct SoqlQuery {
  bool count_only = false;
  std::vector<std::string> fields;
  std::string object;
  std::optional<SoqlCondition> where;
  std::vector<SoqlOrder> order_by;
  std::optional<std::int64_t> limit;
  std::optional<std::int64_t> offset;
};

struct SoqlError {
  std::string code;  // MALFORMED_QUERY, INVALID_FIELD, INVALID_QUERY_FILTER_OPERATOR
  std::string message;
};

std::variant<SoqlQuery, SoqlError> parse_soql(std::string_view text);

// Checks fields and literal types against the object, and rewrites field names to their
// canonical spelling and id literals to 18 characters.
std::optional<SoqlError> bind_soql(SoqlQuery& query, const ObjectDef& object);

bool soql_matches(const SoqlCondition& condition, const Record& record, const ObjectDef& object);
void soql_sort(std::vector<const Record*>& rows, const std::vector<SoqlOrder>& order);

// SOQL LIKE: % any run, _ one character, case-insensitive.
bool soql_like(std::string_view pattern, std::string_view text);

}  // namespace crmsync::emulators
