#include "mapping/toml_wording.h"

#include "mapping/spelling.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace crmsync::mapping::toml_wording {

namespace {

// Words people reach for that this format spells differently; only ever suggested, not accepted.
constexpr std::array<std::pair<std::string_view, std::string_view>, 18> kAliases = {{
    {"dataverse", "dynamics"},
    {"d365", "dynamics"},
    {"sf", "salesforce"},
    {"sfdc", "salesforce"},
    {"field_class", "class"},
    {"conflict_policy", "policy"},
    {"precision", "scale"},
    {"target", "references"},
    {"reference", "references"},
    {"enumeration", "enum"},
    {"picklist", "enum"},
    {"text", "string"},
    {"number", "decimal"},
    {"money", "decimal"},
    {"int", "integer"},
    {"bool", "boolean"},
    {"lookup", "reference"},
    {"datetime", "date"},
}};

std::string_view type_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      return "nothing";
  }
  return "a value";
}

}  // namespace

std::string suggestion(std::string_view given, std::span<const std::string_view> candidates) {
  for (const auto& [alias, meant] : kAliases) {
    if (alias == given &&
        std::find(candidates.begin(), candidates.end(), meant) != candidates.end()) {
      return fmt::format("; did you mean {}?", meant);
    }
  }
  std::string_view best;
  std::size_t best_distance = 3;
  for (std::string_view candidate : candidates) {
    std::size_t distance = edit_distance(given, candidate);
    bool prefix = candidate.starts_with(given) || given.starts_with(candidate);
    if (prefix && given.size() >= 3) distance = std::min<std::size_t>(distance, 2);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best.empty() ? "" : fmt::format("; did you mean {}?", best);
}

std::string joined(std::span<const std::string_view> words) {
  std::string out;
  for (std::string_view word : words) out += (out.empty() ? "" : ", ") + std::string(word);
  return out;
}

std::string unknown_name(std::string_view what, std::string_view given,
                         std::span<const std::string_view> allowed) {
  std::string hint = suggestion(given, allowed);
  if (!hint.empty()) hint = fmt::format(" ({})", hint.substr(2));
  return fmt::format("unknown {} \"{}\"{}; write one of {}", what, given, hint, joined(allowed));
}

std::string describe(const toml::node& node) {
  if (const auto* text = node.as_string()) {
    std::string value = text->get();
    if (value.size() > 60) value = value.substr(0, 57) + "...";
    return fmt::format("string \"{}\"", value);
  }
  if (const auto* number = node.as_integer()) return fmt::format("integer {}", number->get());
  if (const auto* flag = node.as_boolean()) return fmt::format("boolean {}", flag->get());
  return std::string(type_name(node.type()));
}

std::string key_part(std::string_view key) {
  bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
  if (bare) return std::string(key);
  std::string quoted = "\"";
  for (char c : key) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

std::string key_path(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? key_part(key) : prefix + "." + key_part(key);
}

int line_of(const toml::node* node) {
  return node == nullptr ? 0 : static_cast<int>(node->source().begin.line);
}

std::vector<std::pair<std::string, const toml::node*>> in_file_order(const toml::table& table) {
  std::vector<std::pair<std::string, const toml::node*>> entries;
  for (const auto& [key, node] : table) entries.emplace_back(std::string(key.str()), &node);
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    const auto& x = a.second->source().begin;
    const auto& y = b.second->source().begin;
    return x.line != y.line ? x.line < y.line : x.column < y.column;
  });
  return entries;
}

void ProblemLog::add(std::string key, int line, std::string message) {
  problems_.push_back({std::move(key), line, std::move(message), source_});
}

void ProblemLog::add(std::string key, const toml::node* at, std::string message) {
  add(std::move(key), line_of(at), std::move(message));
}

void ProblemLog::check_keys(const toml::table& table, const std::string& prefix,
                            std::span<const std::string_view> known, std::string_view takes) {
  for (const auto& [key, node] : in_file_order(table)) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    add(key_path(prefix, key), node,
        fmt::format("unknown key{} ({})", suggestion(key, known), takes));
  }
}

bool ProblemLog::has_problem_at(std::string_view key) const {
  return std::any_of(problems_.begin(), problems_.end(),
                     [&](const MappingProblem& problem) { return problem.key == key; });
}

std::vector<MappingProblem> ProblemLog::take_sorted() {
  std::stable_sort(
      problems_.begin(), problems_.end(),
      [](const MappingProblem& a, const MappingProblem& b) { return a.line < b.line; });
  return std::move(problems_);
}

}  // namespace crmsync::mapping::toml_wording
