#include "tests/emulators/odata_filter.h"

#include <algorithm>
#include <cctype>

#include "tests/emulators/emulator_clock.h"

namespace crmsync::emulators {

namespace {

bool is_guid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

class FilterParser {
 public:
  explicit FilterParser(std::string_view text) : text_(text) {}

  std::variant<ODataExpr, std::string> run() {
    auto expr = parse_or();
    if (!expr) return error_;
    skip_space();
    if (pos_ != text_.size())
      return std::string("Syntax error at position ") + std::to_string(pos_) + " in '" +
             std::string(text_) + "'.";
    return std::move(*expr);
  }

 private:
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  std::string peek_word() {
    skip_space();
    std::size_t end = pos_;
    while (end < text_.size() &&
           (std::isalnum(static_cast<unsigned char>(text_[end])) || text_[end] == '_' ||
            text_[end] == '.' || text_[end] == '-' || text_[end] == ':')) {
      ++end;
    }
    return std::string(text_.substr(pos_, end - pos_));
  }
  bool keyword(std::string_view word) {
    std::string w = peek_word();
    if (w != word) return false;
    pos_ += w.size();
    return true;
  }
  bool symbol(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  std::nullopt_t fail(std::string message) {
    error_ = std::move(message);
    return std::nullopt;
  }

  std::optional<ODataExpr> parse_or() {
    auto first = parse_and();
    if (!first) return std::nullopt;
    ODataExpr group;
    group.kind = ODataExpr::Kind::any_of;
    group.children.push_back(std::move(*first));
    while (keyword("or")) {
      auto next = parse_and();
      if (!next) return std::nullopt;
      group.children.push_back(std::move(*next));
    }
    if (group.children.size() == 1) return std::move(group.children.front());
    return group;
  }

  std::optional<ODataExpr> parse_and() {
    auto first = parse_unary();
    if (!first) return std::nullopt;
    ODataExpr group;
    group.kind = ODataExpr::Kind::all_of;
    group.children.push_back(std::move(*first));
    while (keyword("and")) {
      auto next = parse_unary();
      if (!next) return std::nullopt;
      group.children.push_back(std::move(*next));
    }
    if (group.children.size() == 1) return std::move(group.children.front());
    return group;
  }

  std::optional<ODataExpr> parse_unary() {
    if (keyword("not")) {
      auto inner = parse_unary();
      if (!inner) return std::nullopt;
      ODataExpr e;
      e.kind = ODataExpr::Kind::negation;
      e.children.push_back(std::move(*inner));
      return e;
    }
    if (symbol('(')) {
      auto inner = parse_or();
      if (!inner) return std::nullopt;
      if (!symbol(')')) return fail("Syntax error: expected ')'.");
      return inner;
    }
    std::string word = peek_word();
    if (word.empty()) return fail("Syntax error at position " + std::to_string(pos_) + ".");
    pos_ += word.size();
    if (word == "contains" || word == "startswith" || word == "endswith") {
      if (!symbol('(')) return fail("Syntax error: expected '(' after " + word + ".");
      ODataExpr e;
      e.kind = ODataExpr::Kind::function;
      e.op = word;
      e.property = peek_word();
      if (e.property.empty()) return fail("Syntax error: expected a property in " + word + ".");
      pos_ += e.property.size();
      if (!symbol(',')) return fail("Syntax error: expected ',' in " + word + ".");
      if (!literal(e)) return std::nullopt;
      if (!symbol(')')) return fail("Syntax error: expected ')' after " + word + ".");
      return e;
    }
    if (word.find('.') != std::string::npos || word.find('/') != std::string::npos) {
      return fail("The function or navigation '" + word + "' is not supported by the emulator.");
    }
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == '(') return fail("Unknown function '" + word + "'.");
    ODataExpr e;
    e.kind = ODataExpr::Kind::compare;
    e.property = word;
    std::string op = peek_word();
    static constexpr std::string_view kOps[] = {"eq", "ne", "gt", "ge", "lt", "le"};
    if (std::find(std::begin(kOps), std::end(kOps), op) == std::end(kOps)) {
      return fail("Syntax error: unknown operator '" + op + "'.");
    }
    pos_ += op.size();
    e.op = op;
    if (!literal(e)) return std::nullopt;
    return e;
  }

  bool literal(ODataExpr& e) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == '\'') {
      std::string value;
      ++pos_;
      while (true) {
        if (pos_ >= text_.size()) {
          fail("Unterminated string literal.");
          return false;
        }
        char c = text_[pos_++];
        if (c == '\'') {
          if (pos_ < text_.size() && text_[pos_] == '\'') {
            value.push_back('\'');
            ++pos_;
            continue;
          }
          break;
        }
        value.push_back(c);
      }
      e.literal_kind = ODataLiteral::string;
      e.literal = value;
      return true;
    }
    std::string word = peek_word();
    std::size_t end = pos_ + word.size();
    // A date-time literal may carry a "+hh:mm" offset.
    while (end < text_.size() &&
           (text_[end] == '+' || text_[end] == ':' ||
            std::isdigit(static_cast<unsigned char>(text_[end])) || text_[end] == '.')) {
      ++end;
    }
    std::string token(text_.substr(pos_, end - pos_));
    pos_ = end;
    if (token.empty()) {
      fail("Syntax error: expected a literal.");
      return false;
    }
    if (token == "null") {
      e.literal_kind = ODataLiteral::null;
      return true;
    }
    if (token == "true" || token == "false") {
      e.literal_kind = ODataLiteral::boolean;
      e.literal = token == "true";
      return true;
    }
    if (is_guid(token)) {
      e.literal_kind = ODataLiteral::guid;
      e.literal = to_lower(token);
      return true;
    }
    if (auto date = parse_date(token)) {
      e.literal_kind = ODataLiteral::date;
      e.literal = token;
      return true;
    }
    if (auto ms = parse_iso_datetime(token)) {
      e.literal_kind = ODataLiteral::datetime;
      e.literal = format_iso_seconds(*ms);
      return true;
    }
    char* parse_end = nullptr;
    double number = std::strtod(token.c_str(), &parse_end);
    if (parse_end != nullptr && *parse_end == '\0') {
      e.literal_kind = ODataLiteral::number;
      e.literal = number;
      return true;
    }
    fail("Syntax error: '" + token + "' is not a valid literal.");
    return false;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::string error_;
};

int compare(const FieldValue& a, const FieldValue& b) {
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
  return 2;  // different kinds: never equal
}

}  // namespace

std::string odata_unknown_property(std::string_view property, const ObjectDef& def) {
  return "Could not find a property named '" + std::string(property) +
         "' on type 'Microsoft.Dynamics.CRM." + def.name + "'.";
}

std::variant<ODataExpr, std::string> parse_odata_filter(std::string_view text) {
  return FilterParser(text).run();
}

std::variant<std::vector<ODataOrder>, std::string> parse_odata_orderby(std::string_view text) {
  std::vector<ODataOrder> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    std::string item(text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    ODataOrder order;
    auto space = item.find(' ');
    order.property = item.substr(0, space);
    if (space != std::string::npos) {
      std::string direction = item.substr(space + 1);
      while (!direction.empty() && direction.front() == ' ') direction.erase(direction.begin());
      if (direction == "desc")
        order.descending = true;
      else if (direction != "asc")
        return "Syntax error in $orderby: '" + item + "'.";
    }
    if (order.property.empty()) return std::string("Syntax error in $orderby.");
    out.push_back(order);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::optional<std::string> bind_odata_filter(ODataExpr& e, const ObjectDef& def) {
  if (e.kind == ODataExpr::Kind::all_of || e.kind == ODataExpr::Kind::any_of ||
      e.kind == ODataExpr::Kind::negation) {
    for (auto& child : e.children) {
      if (auto error = bind_odata_filter(child, def)) return error;
    }
    return std::nullopt;
  }
  const FieldDef* f = def.field(e.property);
  if (f == nullptr || f->name != e.property) return odata_unknown_property(e.property, def);
  bool text = f->type == FieldType::string || f->type == FieldType::textarea ||
              f->type == FieldType::picklist;
  if (e.kind == ODataExpr::Kind::function) {
    if (!text || e.literal_kind != ODataLiteral::string) {
      return "The '" + e.op + "' function needs a string property and a string literal.";
    }
    return std::nullopt;
  }
  if (e.literal_kind == ODataLiteral::null) {
    if (e.op != "eq" && e.op != "ne")
      return std::string("A null literal can only be compared with eq or ne.");
    return std::nullopt;
  }
  bool ok = false;
  switch (f->type) {
    case FieldType::boolean:
      ok = e.literal_kind == ODataLiteral::boolean;
      break;
    case FieldType::number:
    case FieldType::integer:
      ok = e.literal_kind == ODataLiteral::number;
      break;
    case FieldType::date:
      ok = e.literal_kind == ODataLiteral::date;
      break;
    case FieldType::datetime:
      ok = e.literal_kind == ODataLiteral::datetime;
      break;
    case FieldType::id:
    case FieldType::reference:
      ok = e.literal_kind == ODataLiteral::guid;
      break;
    default:
      ok = e.literal_kind == ODataLiteral::string;
      break;
  }
  if (!ok) {
    return "A binary operator with incompatible types was detected. Found operand types for the "
           "property '" +
           f->name + "' and the literal in the operator kind '" + e.op + "'.";
  }
  if ((f->type == FieldType::boolean) && e.op != "eq" && e.op != "ne") {
    return std::string(
        "A binary operator with incompatible types was detected for a boolean property.");
  }
  return std::nullopt;
}

bool odata_matches(const ODataExpr& e, const Record& record) {
  switch (e.kind) {
    case ODataExpr::Kind::all_of:
      return std::all_of(e.children.begin(), e.children.end(),
                         [&](const ODataExpr& c) { return odata_matches(c, record); });
    case ODataExpr::Kind::any_of:
      return std::any_of(e.children.begin(), e.children.end(),
                         [&](const ODataExpr& c) { return odata_matches(c, record); });
    case ODataExpr::Kind::negation:
      return !odata_matches(e.children.front(), record);
    case ODataExpr::Kind::function: {
      const FieldValue& v = record.get(e.property);
      if (!std::holds_alternative<std::string>(v)) return false;
      std::string hay = to_lower(std::get<std::string>(v)),
                  needle = to_lower(std::get<std::string>(e.literal));
      if (e.op == "contains") return hay.find(needle) != std::string::npos;
      if (e.op == "startswith") return hay.rfind(needle, 0) == 0;
      return hay.size() >= needle.size() &&
             hay.compare(hay.size() - needle.size(), needle.size(), needle) == 0;
    }
    case ODataExpr::Kind::compare:
      break;
  }
  const FieldValue& v = record.get(e.property);
  if (e.literal_kind == ODataLiteral::null) return e.op == "eq" ? is_null(v) : !is_null(v);
  if (is_null(v))
    return false;  // SQL semantics: a null column satisfies no comparison with a value
  int c = compare(v, e.literal);
  if (c == 2) return false;
  if (e.op == "eq") return c == 0;
  if (e.op == "ne") return c != 0;
  if (e.op == "gt") return c > 0;
  if (e.op == "ge") return c >= 0;
  if (e.op == "lt") return c < 0;
  return c <= 0;
}

}  // namespace crmsync::emulators
