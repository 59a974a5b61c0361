#include "daemon/toml_config_reader.h"

#include "mapping/spelling.h"

#include <fmt/format.h>

#include <algorithm>

namespace crmsync::daemon {

namespace {

std::string_view type_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    case toml::node_type::none: return "nothing";
  }
  return "value";
}

}  // namespace

std::string describe_toml_value(const toml::node& node) {
  if (const auto* text = node.as_string()) {
    std::string value = text->get();
    if (value.size() > 60) value = value.substr(0, 57) + "...";
    return fmt::format("string \"{}\"", value);
  }
  if (const auto* number = node.as_integer()) return fmt::format("integer {}", number->get());
  if (const auto* flag = node.as_boolean()) return fmt::format("boolean {}", flag->get());
  return std::string(type_name(node.type()));
}

TomlConfigReader::TomlConfigReader(const toml::table& root, std::string display_name)
    : root_(root), display_name_(std::move(display_name)) {}

const toml::node* TomlConfigReader::find(std::string_view key) {
  known_keys_.emplace(key);
  const toml::node* node = &root_;
  std::string walked;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = key.find('.', start);
    std::string_view part = key.substr(start, dot == std::string_view::npos ? key.npos : dot - start);
    const toml::table* table = node->as_table();
    if (table == nullptr) {
      add_problem(walked, fmt::format("expected a table, got {}", describe_toml_value(*node)));
      return nullptr;
    }
    node = table->get(part);
    if (node == nullptr) return nullptr;
    walked = walked.empty() ? std::string(part) : walked + "." + std::string(part);
    if (dot == std::string_view::npos) return node;
    start = dot + 1;
  }
}

std::string TomlConfigReader::position_of(const toml::node* node) const {
  if (node != nullptr && node->source().begin.line > 0) {
    return fmt::format("{}:{}", display_name_, node->source().begin.line);
  }
  return display_name_;
}

bool TomlConfigReader::has_table(std::string_view key) const {
  auto located = root_.at_path(key);
  return located && located.node()->is_table();
}

void TomlConfigReader::add_problem(std::string_view key, std::string_view message) {
  const toml::node* node = nullptr;
  if (auto located = root_.at_path(key); located) node = located.node();
  std::string problem = fmt::format("config: {}: {} ({})", key, message, position_of(node));
  if (std::find(problems_.begin(), problems_.end(), problem) == problems_.end()) {
    problems_.push_back(std::move(problem));
  }
}

const toml::node* TomlConfigReader::find_present(std::string_view key, Requirement requirement) {
  const toml::node* node = find(key);
  if (node == nullptr && requirement == Requirement::required) {
    add_problem(key, "required key is missing");
  }
  return node;
}

template <typename T>
std::optional<T> TomlConfigReader::get_scalar(std::string_view key, Requirement requirement,
                                              std::string_view expected) {
  const toml::node* node = find_present(key, requirement);
  if (node == nullptr) return std::nullopt;
  if (auto value = node->value<T>(); value && node->is<T>()) return value;
  add_problem(key, fmt::format("expected {}, got {}", expected, describe_toml_value(*node)));
  return std::nullopt;
}

std::optional<std::string> TomlConfigReader::get_string(std::string_view key,
                                                        Requirement requirement) {
  return get_scalar<std::string>(key, requirement, "a string");
}

std::optional<std::int64_t> TomlConfigReader::get_integer(std::string_view key,
                                                          Requirement requirement) {
  return get_scalar<std::int64_t>(key, requirement, "an integer");
}

std::optional<bool> TomlConfigReader::get_bool(std::string_view key, Requirement requirement) {
  return get_scalar<bool>(key, requirement, "true or false");
}

std::optional<std::vector<std::string>> TomlConfigReader::get_string_list(
    std::string_view key, Requirement requirement) {
  const toml::node* node = find_present(key, requirement);
  if (node == nullptr) return std::nullopt;
  const auto* array = node->as_array();
  if (array == nullptr) {
    add_problem(key, fmt::format("expected a list of strings, got {}", describe_toml_value(*node)));
    return std::nullopt;
  }
  std::vector<std::string> values;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    if (const auto* text = element.as_string()) {
      values.push_back(text->get());
    } else {
      add_problem(key, fmt::format("element {}: expected a string, got {}", i,
                                   describe_toml_value(element)));
      return std::nullopt;
    }
  }
  return values;
}

std::optional<std::vector<std::pair<std::string, std::string>>> TomlConfigReader::get_string_table(
    std::string_view key, Requirement requirement) {
  const toml::node* node = find_present(key, requirement);
  if (node == nullptr) return std::nullopt;
  const auto* table = node->as_table();
  if (table == nullptr) {
    add_problem(key, fmt::format("expected a table, got {}", describe_toml_value(*node)));
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> entries;
  for (const auto& [entry_key, value] : *table) {
    if (const auto* text = value.as_string()) {
      entries.emplace_back(std::string(entry_key.str()), text->get());
    } else {
      add_entry_problem(key, entry_key.str(), fmt::format("expected a string, got {}", describe_toml_value(value)));
    }
  }
  std::sort(entries.begin(), entries.end(), [table](const auto& a, const auto& b) {
    return table->get(a.first)->source().begin < table->get(b.first)->source().begin;
  });
  return entries;
}

void TomlConfigReader::add_entry_problem(std::string_view table, std::string_view entry, std::string_view message) {
  const toml::node* node = nullptr;
  if (auto located = root_.at_path(table); located && located.node()->is_table()) {
    node = located.node()->as_table()->get(entry);
  }
  std::string problem = fmt::format("config: {}.\"{}\": {} ({})", table, entry, message, position_of(node));
  if (std::find(problems_.begin(), problems_.end(), problem) == problems_.end()) {
    problems_.push_back(std::move(problem));
  }
}

void TomlConfigReader::report_unknown_keys() { report_unknown_in(root_, ""); }

void TomlConfigReader::report_unknown_in(const toml::table& table, const std::string& prefix) {
  for (const auto& [raw_key, node] : table) {
    std::string path = prefix.empty() ? std::string(raw_key.str())
                                      : prefix + "." + std::string(raw_key.str());
    if (known_keys_.contains(path)) continue;
    bool is_known_section = false;
    auto it = known_keys_.lower_bound(path + ".");
    if (it != known_keys_.end() && it->starts_with(path + ".")) is_known_section = true;
    if (is_known_section && node.is_table()) {
      report_unknown_in(*node.as_table(), path);
      continue;
    }
    if (is_known_section) {
      add_problem(path, fmt::format("expected a table, got {}", describe_toml_value(node)));
      continue;
    }
    problems_.push_back(fmt::format("config: {}: unknown key{} ({})", path, suggestion_for(path),
                                    position_of(&node)));
  }
}

std::string TomlConfigReader::suggestion_for(const std::string& path) const {
  // Compare with known keys cut to as many dotted parts as `path` has, so that a misspelled
  // section ("kafak") is compared with sections and a misspelled key with keys.
  auto parts = static_cast<std::size_t>(std::count(path.begin(), path.end(), '.')) + 1;
  std::string best;
  std::size_t best_distance = 3;  // suggest only close matches
  for (const std::string& known : known_keys_) {
    std::size_t cut = 0;
    for (std::size_t seen = 0; seen < parts && cut != std::string::npos; ++seen) {
      cut = known.find('.', seen == 0 ? 0 : cut + 1);
    }
    std::string candidate = cut == std::string::npos ? known : known.substr(0, cut);
    std::size_t distance = mapping::edit_distance(path, candidate);
    // A shortened or extended key ("master_key" for "master_key_file") is a likely slip too.
    bool prefix = candidate.size() > path.size() ? candidate.starts_with(path) : path.starts_with(candidate);
    if (prefix && distance > 0) distance = std::min<std::size_t>(distance, 2);
    if (distance > 0 && distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best.empty() ? "" : fmt::format("; did you mean {}?", best);
}

}  // namespace crmsync::daemon
