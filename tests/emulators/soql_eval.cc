// SOQL binding (fields and literal types against an object) and evaluation (WHERE, ORDER BY).

#include <algorithm>
#include <cctype>

#include "tests/emulators/salesforce_ids.h"
#include "tests/emulators/soql.h"

namespace crmsync::emulators {

namespace {

const char* type_name(FieldType type) {
  switch (type) {
    case FieldType::boolean:
      return "boolean";
    case FieldType::number:
    case FieldType::integer:
      return "double";
    case FieldType::date:
      return "date";
    case FieldType::datetime:
      return "dateTime";
    case FieldType::id:
      return "id";
    case FieldType::reference:
      return "reference";
    default:
      return "string";
  }
}

std::optional<SoqlError> bind_condition(SoqlCondition& c, const ObjectDef& object) {
  if (!c.children.empty() || c.kind == SoqlCondition::Kind::all_of ||
      c.kind == SoqlCondition::Kind::any_of || c.kind == SoqlCondition::Kind::negation) {
    for (auto& child : c.children) {
      if (auto e = bind_condition(child, object)) return e;
    }
    return std::nullopt;
  }
  const FieldDef* f = object.field(c.field);
  if (f == nullptr) {
    return SoqlError{"INVALID_FIELD",
                     "No such column '" + c.field + "' on entity '" + object.name +
                         "'. If you are attempting to use a custom field, be sure to append the "
                         "'__c' after the custom field name. Please reference your WSDL or the "
                         "describe call for the appropriate names."};
  }
  c.field = f->name;
  for (auto& v : c.values) {
    if (v.kind == LiteralKind::null) {
      if (c.kind == SoqlCondition::Kind::compare && c.op != "=" && c.op != "!=") {
        return SoqlError{"MALFORMED_QUERY", "null can only be compared with = or !="};
      }
      continue;
    }
    bool ok = false;
    switch (f->type) {
      case FieldType::boolean:
        ok = v.kind == LiteralKind::boolean;
        break;
      case FieldType::number:
      case FieldType::integer:
        ok = v.kind == LiteralKind::number;
        break;
      case FieldType::date:
        ok = v.kind == LiteralKind::date;
        break;
      case FieldType::datetime:
        ok = v.kind == LiteralKind::datetime;
        break;
      case FieldType::id:
      case FieldType::reference:
        ok = v.kind == LiteralKind::string;
        if (ok) {
          // A malformed id literal matches nothing, as on the real API... except the real API
          // rejects it: "invalid ID field".
          auto id = normalize_salesforce_id(std::get<std::string>(v.value));
          if (!id)
            return SoqlError{"INVALID_QUERY_FILTER_OPERATOR",
                             "invalid ID field: " + std::get<std::string>(v.value)};
          v.value = *id;
        }
        break;
      default:
        ok = v.kind == LiteralKind::string;
        break;
    }
    if (!ok) {
      return SoqlError{"INVALID_QUERY_FILTER_OPERATOR",
                       "value of filter criterion for field '" + f->name + "' must be of type " +
                           type_name(f->type) +
                           (f->type == FieldType::string || f->type == FieldType::id
                                ? " and should be enclosed in quotes"
                                : " and should not be enclosed in quotes")};
    }
  }
  if (c.kind == SoqlCondition::Kind::like &&
      !(f->type == FieldType::string || f->type == FieldType::textarea ||
        f->type == FieldType::picklist)) {
    return SoqlError{
        "INVALID_QUERY_FILTER_OPERATOR",
        "invalid operator on " + std::string(type_name(f->type)) + " field: " + f->name};
  }
  if (c.kind == SoqlCondition::Kind::compare && f->type == FieldType::boolean && c.op != "=" &&
      c.op != "!=") {
    return SoqlError{"INVALID_QUERY_FILTER_OPERATOR",
                     "invalid operator on boolean field: " + f->name};
  }
  return std::nullopt;
}

// -1, 0, 1; both sides non-null and of one kind (bind_soql made sure).
int compare_values(const FieldValue& a, const FieldValue& b) {
  if (std::holds_alternative<std::string>(a) && std::holds_alternative<std::string>(b)) {
    return icompare(std::get<std::string>(a), std::get<std::string>(b));
  }
  if (std::holds_alternative<double>(a) && std::holds_alternative<double>(b)) {
    double x = std::get<double>(a), y = std::get<double>(b);
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (std::holds_alternative<bool>(a) && std::holds_alternative<bool>(b)) {
    return static_cast<int>(std::get<bool>(a)) - static_cast<int>(std::get<bool>(b));
  }
  return a.index() < b.index() ? -1 : (a.index() > b.index() ? 1 : 0);
}

}  // namespace

bool soql_like(std::string_view pattern, std::string_view text) {
  // Iterative matcher with backtracking over the last %; "\%" and "\_" are literal.
  std::size_t p = 0, t = 0, star_p = std::string_view::npos, star_t = 0;
  auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '%') {
      star_p = ++p;
      star_t = t;
      continue;
    }
    if (p < pattern.size()) {
      bool escaped = pattern[p] == '\\' && p + 1 < pattern.size();
      char pc = escaped ? pattern[p + 1] : pattern[p];
      if ((!escaped && pc == '_') || lower(pc) == lower(text[t])) {
        p += escaped ? 2 : 1;
        ++t;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '%') ++p;
  return p == pattern.size();
}

std::optional<SoqlError> bind_soql(SoqlQuery& query, const ObjectDef& object) {
  query.object = object.name;
  for (auto& name : query.fields) {
    const FieldDef* f = object.field(name);
    if (f == nullptr) {
      return SoqlError{"INVALID_FIELD",
                       "\n" + name + "\n^\nERROR at Row:1:Column:8\nNo such column '" + name +
                           "' on entity '" + object.name +
                           "'. If you are attempting to use a custom field, be sure to append the "
                           "'__c' after the custom field name. Please reference your WSDL or the "
                           "describe call for the appropriate names."};
    }
    name = f->name;
  }
  for (std::size_t i = 0; i < query.fields.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (query.fields[i] == query.fields[j]) {
        return SoqlError{"MALFORMED_QUERY", "duplicate field selected: " + query.fields[i]};
      }
    }
  }
  for (auto& order : query.order_by) {
    const FieldDef* f = object.field(order.field);
    if (f == nullptr)
      return SoqlError{"INVALID_FIELD",
                       "No such column '" + order.field + "' on entity '" + object.name + "'."};
    order.field = f->name;
  }
  if (query.where) return bind_condition(*query.where, object);
  return std::nullopt;
}

bool soql_matches(const SoqlCondition& c, const Record& record, const ObjectDef& object) {
  switch (c.kind) {
    case SoqlCondition::Kind::all_of:
      return std::all_of(c.children.begin(), c.children.end(),
                         [&](const SoqlCondition& x) { return soql_matches(x, record, object); });
    case SoqlCondition::Kind::any_of:
      return std::any_of(c.children.begin(), c.children.end(),
                         [&](const SoqlCondition& x) { return soql_matches(x, record, object); });
    case SoqlCondition::Kind::negation:
      return !soql_matches(c.children.front(), record, object);
    default:
      break;
  }
  const FieldValue& value = record.get(c.field);
  auto equals = [&](const SoqlLiteral& lit) {
    if (lit.kind == LiteralKind::null) return is_null(value);
    return !is_null(value) && compare_values(value, lit.value) == 0;
  };
  switch (c.kind) {
    case SoqlCondition::Kind::in:
      return std::any_of(c.values.begin(), c.values.end(), equals);
    case SoqlCondition::Kind::not_in:
      return std::none_of(c.values.begin(), c.values.end(), equals);
    case SoqlCondition::Kind::like:
      return std::holds_alternative<std::string>(value) &&
             soql_like(std::get<std::string>(c.values.front().value), std::get<std::string>(value));
    default:
      break;
  }
  const SoqlLiteral& lit = c.values.front();
  if (c.op == "=") return equals(lit);
  if (c.op == "!=") return !equals(lit);
  if (is_null(value)) return false;
  int cmp = compare_values(value, lit.value);
  if (c.op == "<") return cmp < 0;
  if (c.op == "<=") return cmp <= 0;
  if (c.op == ">") return cmp > 0;
  return cmp >= 0;
}

void soql_sort(std::vector<const Record*>& rows, const std::vector<SoqlOrder>& order) {
  if (order.empty()) return;
  std::stable_sort(rows.begin(), rows.end(), [&](const Record* a, const Record* b) {
    for (const auto& o : order) {
      const FieldValue& x = a->get(o.field);
      const FieldValue& y = b->get(o.field);
      if (is_null(x) && is_null(y)) continue;
      if (is_null(x)) return o.nulls_first;
      if (is_null(y)) return !o.nulls_first;
      int cmp = compare_values(x, y);
      if (cmp != 0) return o.descending ? cmp > 0 : cmp < 0;
    }
    return false;
  });
}

}  // namespace crmsync::emulators
