#include "tests/emulators/soql.h"

#include <algorithm>
#include <cctype>

#include "tests/emulators/emulator_clock.h"

namespace crmsync::emulators {

namespace {

enum class TokenKind { word, string, number, date, datetime, symbol, end };

struct Token {
  TokenKind kind;
  std::string text;
};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  std::optional<std::vector<Token>> run(std::string& error) {
    std::vector<Token> out;
    while (true) {
      while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
      if (pos_ >= text_.size()) break;
      char c = text_[pos_];
      if (c == '\'') {
        std::string value;
        ++pos_;
        bool closed = false;
        while (pos_ < text_.size()) {
          char d = text_[pos_++];
          if (d == '\\' && pos_ < text_.size()) {
            char e = text_[pos_++];
            switch (e) {
              case 'n':
                value.push_back('\n');
                break;
              case 't':
                value.push_back('\t');
                break;
              case 'r':
                value.push_back('\r');
                break;
              case '\'':
              case '"':
              case '\\':
              case '%':
              case '_':
                if (e == '%' || e == '_') value.push_back('\\');
                value.push_back(e);
                break;
              default:
                error = "invalid escape sequence in string literal: \\" + std::string(1, e);
                return std::nullopt;
            }
          } else if (d == '\'') {
            closed = true;
            break;
          } else {
            value.push_back(d);
          }
        }
        if (!closed) {
          error = "unterminated string literal";
          return std::nullopt;
        }
        out.push_back({TokenKind::string, value});
      } else if (std::isdigit(static_cast<unsigned char>(c)) ||
                 ((c == '-' || c == '+') && pos_ + 1 < text_.size() &&
                  std::isdigit(static_cast<unsigned char>(text_[pos_ + 1])))) {
        std::size_t start = pos_++;
        while (pos_ < text_.size() &&
               (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '-' ||
                text_[pos_] == ':' || text_[pos_] == '.' ||
                ((text_[pos_] == '+') && pos_ > start + 10))) {
          ++pos_;
        }
        std::string word(text_.substr(start, pos_ - start));
        if (parse_date(word)) {
          out.push_back({TokenKind::date, word});
        } else if (word.size() > 10 && parse_iso_datetime(word) && word.size() >= 20 &&
                   (word.back() == 'Z' || word.back() == 'z' || word[word.size() - 6] == '+' ||
                    word[word.size() - 6] == '-')) {
          out.push_back({TokenKind::datetime, word});
        } else {
          bool numeric = true;
          int dots = 0;
          for (std::size_t i = 0; i < word.size(); ++i) {
            if (word[i] == '.')
              ++dots;
            else if (!(std::isdigit(static_cast<unsigned char>(word[i])) ||
                       (i == 0 && (word[i] == '-' || word[i] == '+'))))
              numeric = false;
          }
          if (!numeric || dots > 1) {
            error = "unexpected token: " + word;
            return std::nullopt;
          }
          out.push_back({TokenKind::number, word});
        }
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        std::size_t start = pos_;
        while (pos_ < text_.size() &&
               (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_' ||
                text_[pos_] == '.' || text_[pos_] == ':')) {
          ++pos_;
        }
        out.push_back({TokenKind::word, std::string(text_.substr(start, pos_ - start))});
      } else {
        static constexpr std::string_view kTwo[] = {"!=", "<>", "<=", ">="};
        std::string symbol(1, c);
        for (auto two : kTwo) {
          if (text_.substr(pos_, 2) == two) symbol = std::string(two);
        }
        if (symbol.size() == 1 && std::string_view("=<>(),").find(c) == std::string_view::npos) {
          error = "unexpected token: " + symbol;
          return std::nullopt;
        }
        pos_ += symbol.size();
        out.push_back({TokenKind::symbol, symbol == "<>" ? "!=" : symbol});
      }
    }
    out.push_back({TokenKind::end, ""});
    return out;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

constexpr std::string_view kKeywords[] = {
    "SELECT", "FROM", "WHERE", "AND",   "OR",     "NOT",      "IN",      "LIKE",   "ORDER",
    "BY",     "ASC",  "DESC",  "NULLS", "FIRST",  "LAST",     "LIMIT",   "OFFSET", "GROUP",
    "HAVING", "WITH", "FOR",   "USING", "TYPEOF", "INCLUDES", "EXCLUDES"};

bool is_keyword(const Token& t) {
  if (t.kind != TokenKind::word) return false;
  for (auto k : kKeywords) {
    if (iequals(t.text, k)) return true;
  }
  return false;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  std::variant<SoqlQuery, SoqlError> run() {
    SoqlQuery q;
    if (!keyword("SELECT")) return fail("expected SELECT");
    if (peek_word("COUNT") && tokens_[pos_ + 1].text == "(") {
      pos_ += 2;
      if (!symbol(")")) return fail("only COUNT() is supported");
      q.count_only = true;
    } else {
      do {
        const Token& t = next();
        if (t.kind != TokenKind::word || is_keyword(t)) return fail("unexpected token: " + t.text);
        if (t.text.find('.') != std::string::npos || t.text.find(':') != std::string::npos) {
          return fail("relationship fields are not supported by the emulator: " + t.text);
        }
        if (tokens_[pos_].text == "(")
          return fail("functions are not supported by the emulator: " + t.text);
        q.fields.push_back(t.text);
      } while (symbol(","));
    }
    if (!keyword("FROM")) return fail("expected FROM");
    const Token& object = next();
    if (object.kind != TokenKind::word || is_keyword(object) ||
        object.text.find('.') != std::string::npos) {
      return fail("expected an object name after FROM");
    }
    q.object = object.text;
    if (keyword("WHERE")) {
      auto cond = condition();
      if (!cond) return error_;
      q.where = std::move(*cond);
    }
    if (keyword("ORDER")) {
      if (!keyword("BY")) return fail("expected BY after ORDER");
      do {
        const Token& t = next();
        if (t.kind != TokenKind::word || is_keyword(t) || t.text.find('.') != std::string::npos) {
          return fail("unexpected token in ORDER BY: " + t.text);
        }
        SoqlOrder order{t.text, false, true};
        if (keyword("DESC")) {
          order.descending = true;
          order.nulls_first = false;
        } else {
          keyword("ASC");
        }
        if (keyword("NULLS")) {
          if (keyword("FIRST"))
            order.nulls_first = true;
          else if (keyword("LAST"))
            order.nulls_first = false;
          else
            return fail("expected FIRST or LAST after NULLS");
        }
        q.order_by.push_back(order);
      } while (symbol(","));
    }
    if (keyword("LIMIT")) {
      auto n = integer();
      if (!n) return fail("expected a number after LIMIT");
      q.limit = *n;
    }
    if (keyword("OFFSET")) {
      auto n = integer();
      if (!n) return fail("expected a number after OFFSET");
      if (*n > 2000)
        return SoqlError{"NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000"};
      q.offset = *n;
    }
    if (tokens_[pos_].kind != TokenKind::end)
      return fail("unexpected token: " + tokens_[pos_].text);
    return q;
  }

 private:
  SoqlError fail(std::string message) {
    error_ = SoqlError{"MALFORMED_QUERY", std::move(message)};
    return error_;
  }
  const Token& next() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }
  bool peek_word(std::string_view word) const {
    return tokens_[pos_].kind == TokenKind::word && iequals(tokens_[pos_].text, word);
  }
  bool keyword(std::string_view word) {
    if (!peek_word(word)) return false;
    ++pos_;
    return true;
  }
  bool symbol(std::string_view s) {
    if (tokens_[pos_].kind != TokenKind::symbol || tokens_[pos_].text != s) return false;
    ++pos_;
    return true;
  }
  std::optional<std::int64_t> integer() {
    const Token& t = next();
    if (t.kind != TokenKind::number || t.text.find('.') != std::string::npos || t.text[0] == '-' ||
        t.text[0] == '+' || t.text.size() > 9) {
      return std::nullopt;
    }
    return std::stoll(t.text);
  }

  // SOQL does not let AND and OR mix at one level without parentheses.
  std::optional<SoqlCondition> condition() {
    auto first = unary();
    if (!first) return std::nullopt;
    std::optional<SoqlCondition::Kind> joiner;
    SoqlCondition group;
    group.children.push_back(std::move(*first));
    while (peek_word("AND") || peek_word("OR")) {
      auto kind = peek_word("AND") ? SoqlCondition::Kind::all_of : SoqlCondition::Kind::any_of;
      if (joiner && *joiner != kind) {
        fail("unexpected token: " + tokens_[pos_].text + " (use parentheses to mix AND and OR)");
        return std::nullopt;
      }
      joiner = kind;
      ++pos_;
      auto more = unary();
      if (!more) return std::nullopt;
      group.children.push_back(std::move(*more));
    }
    if (!joiner) return std::move(group.children.front());
    group.kind = *joiner;
    return group;
  }

  std::optional<SoqlCondition> unary() {
    if (keyword("NOT")) {
      auto inner = unary();
      if (!inner) return std::nullopt;
      SoqlCondition c;
      c.kind = SoqlCondition::Kind::negation;
      c.children.push_back(std::move(*inner));
      return c;
    }
    if (symbol("(")) {
      auto inner = condition();
      if (!inner) return std::nullopt;
      if (!symbol(")")) {
        fail("expected )");
        return std::nullopt;
      }
      return inner;
    }
    const Token& field = next();
    if (field.kind != TokenKind::word || is_keyword(field)) {
      fail("unexpected token: " + field.text);
      return std::nullopt;
    }
    if (field.text.find('.') != std::string::npos) {
      fail("relationship fields are not supported by the emulator: " + field.text);
      return std::nullopt;
    }
    SoqlCondition c;
    c.field = field.text;
    if (keyword("LIKE")) {
      c.kind = SoqlCondition::Kind::like;
      auto v = literal();
      if (!v) return std::nullopt;
      if (v->kind != LiteralKind::string) {
        fail("LIKE needs a string literal");
        return std::nullopt;
      }
      c.values.push_back(*v);
      return c;
    }
    bool negated_in = false;
    if (keyword("NOT")) {
      if (!peek_word("IN")) {
        fail("expected IN after NOT");
        return std::nullopt;
      }
      negated_in = true;
    }
    if (keyword("IN")) {
      c.kind = negated_in ? SoqlCondition::Kind::not_in : SoqlCondition::Kind::in;
      if (!symbol("(")) {
        fail("expected ( after IN (semi-joins are not supported by the emulator)");
        return std::nullopt;
      }
      if (peek_word("SELECT")) {
        fail("semi-join subqueries are not supported by the emulator");
        return std::nullopt;
      }
      do {
        auto v = literal();
        if (!v) return std::nullopt;
        c.values.push_back(*v);
      } while (symbol(","));
      if (!symbol(")")) {
        fail("expected ) after the IN list");
        return std::nullopt;
      }
      return c;
    }
    const Token& op = next();
    static constexpr std::string_view kOps[] = {"=", "!=", "<", "<=", ">", ">="};
    if (op.kind != TokenKind::symbol ||
        std::find(std::begin(kOps), std::end(kOps), op.text) == std::end(kOps)) {
      fail("unexpected token: " + op.text);
      return std::nullopt;
    }
    c.kind = SoqlCondition::Kind::compare;
    c.op = op.text;
    auto v = literal();
    if (!v) return std::nullopt;
    c.values.push_back(*v);
    return c;
  }

  std::optional<SoqlLiteral> literal() {
    const Token& t = next();
    switch (t.kind) {
      case TokenKind::string:
        return SoqlLiteral{LiteralKind::string, t.text};
      case TokenKind::number:
        return SoqlLiteral{LiteralKind::number, std::stod(t.text)};
      case TokenKind::date:
        return SoqlLiteral{LiteralKind::date, t.text};
      case TokenKind::datetime:
        return SoqlLiteral{LiteralKind::datetime,
                           format_salesforce_datetime(*parse_iso_datetime(t.text))};
      case TokenKind::word:
        if (iequals(t.text, "true") || iequals(t.text, "false")) {
          return SoqlLiteral{LiteralKind::boolean, iequals(t.text, "true")};
        }
        if (iequals(t.text, "null")) return SoqlLiteral{LiteralKind::null, std::monostate{}};
        fail("date literals and bind variables are not supported by the emulator: " + t.text);
        return std::nullopt;
      default:
        fail("unexpected token: " + t.text);
        return std::nullopt;
    }
  }

  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  SoqlError error_;
};

}  // namespace

std::variant<SoqlQuery, SoqlError> parse_soql(std::string_view text) {
  std::string error;
  auto tokens = Lexer(text).run(error);
  if (!tokens) return SoqlError{"MALFORMED_QUERY", error};
  return Parser(std::move(*tokens)).run();
}

}  // namespace crmsync::emulators
