// Reads the values table of an enum field (docs/mapping.md "Enum values").

#include "mapping/enum_values_section.h"

#include <fmt/format.h>

#include <array>
#include <map>
#include <set>

namespace crmsync::mapping {

using toml_wording::describe;
using toml_wording::in_file_order;
using toml_wording::key_part;
using toml_wording::key_path;
using toml_wording::ProblemLog;

namespace {

constexpr std::array<std::string_view, 3> kSideKeys = {"prm", "salesforce", "dynamics"};
constexpr std::array<Side, 3> kSides = {Side::prm, Side::salesforce, Side::dynamics};

// '{ prm = "...", salesforce = "..." }' for the sides `field` is bound on (all three when none).
std::string side_values_example(const FieldMapping& field) {
  std::string out;
  for (Side side : kSides) {
    if (field.on(side)) {
      out += fmt::format("{}{} = \"...\"", out.empty() ? "" : ", ", to_string(side));
    }
  }
  if (out.empty()) out = "prm = \"...\", salesforce = \"...\", dynamics = \"...\"";
  return fmt::format("{{ {} }}", out);
}

}  // namespace

void read_enum_values(const toml::table& table, const std::string& prefix,
                      std::optional<FieldType> type, FieldMapping& field, ProblemLog& problems) {
  const toml::node* node = table.get("values");
  std::string key = key_path(prefix, "values");
  std::string hint = fmt::format("add [{}] with one line per canonical value: <value> = {}", key,
                                 side_values_example(field));
  if (node == nullptr) {
    if (type == FieldType::enumeration) {
      problems.add(key, &table, fmt::format("an enum field needs its values; {}", hint));
    }
    return;
  }
  if (type && *type != FieldType::enumeration) {
    problems.add(key, node,
                 "values applies to enum fields only; remove it or write type = \"enum\"");
    return;
  }
  if (!node->is_table()) {
    problems.add(key, node, fmt::format("expected a table, got {}; {}", describe(*node), hint));
    return;
  }
  const toml::table& values = *node->as_table();
  if (values.empty()) problems.add(key, node, fmt::format("no values are listed; {}", hint));

  // Per side: which canonical value uses a side value (to find duplicates) and which kinds of
  // TOML value were written (to find a mix of numbers and strings).
  std::map<Side, std::map<std::string, std::string>> used;
  std::map<Side, std::set<bool>> numeric;
  for (const auto& [canonical, entry] : in_file_order(values)) {
    std::string entry_key = key_path(key, canonical);
    if (canonical.empty()) {
      problems.add(entry_key, entry, "a canonical value must not be empty; name it");
      continue;
    }
    for (Side side : kSides) {
      auto& binding = field.on(side);
      const toml::node* side_value = entry;
      std::string value_key = entry_key;
      if (const toml::table* per_side = entry->as_table()) {
        side_value = per_side->get(to_string(side));
        value_key = key_path(entry_key, to_string(side));
        if (side_value != nullptr && !binding) {
          if (table.get(to_string(side)) == nullptr) {
            problems.add(value_key, side_value,
                         fmt::format("the field is not bound on {}; remove this value or add {} = "
                                     "\"...\" to [{}]",
                                     to_string(side), to_string(side), prefix));
          }
          continue;
        }
      } else if (!entry->is_string() && !entry->is_integer()) {
        problems.add(
            entry_key, entry,
            fmt::format("expected a table of side values, a string or an integer, got {}; "
                        "write {} = {}",
                        describe(*entry), key_part(canonical), side_values_example(field)));
        break;
      }
      if (!binding) continue;
      if (side_value == nullptr) {
        problems.add(
            entry_key, entry,
            fmt::format("no {} value; add {} = \"...\" (every canonical value needs a value on "
                        "each side the field is bound on)",
                        to_string(side), to_string(side)));
        continue;
      }
      std::string text;
      if (const auto* string_value = side_value->as_string()) {
        text = string_value->get();
        numeric[side].insert(false);
      } else if (const auto* integer_value = side_value->as_integer()) {
        text = std::to_string(integer_value->get());
        numeric[side].insert(true);
      } else {
        problems.add(
            value_key, side_value,
            fmt::format("expected a string (or an integer for a Dataverse option set), got {}",
                        describe(*side_value)));
        continue;
      }
      if (text.empty()) {
        problems.add(value_key, side_value,
                     fmt::format("the {} value must not be empty; write the value {} uses",
                                 to_string(side), to_string(side)));
        continue;
      }
      auto [previous, inserted] = used[side].emplace(text, canonical);
      if (!inserted) {
        problems.add(
            value_key, side_value,
            fmt::format("{} value \"{}\" already stands for {}; each side value must stand for "
                        "one canonical value",
                        to_string(side), text, key_part(previous->second)));
        continue;
      }
      binding->enum_values[canonical] = text;
    }
    if (const toml::table* per_side = entry->as_table()) {
      problems.check_keys(*per_side, entry_key, kSideKeys,
                          "a value takes prm, salesforce and dynamics");
    }
  }
  for (Side side : kSides) {
    auto& binding = field.on(side);
    if (!binding) continue;
    if (numeric[side].size() > 1) {
      problems.add(key, node,
                   fmt::format("the {} values mix integers and strings; write all as integers "
                               "(an option set) or all as strings",
                               to_string(side)));
    }
    binding->numeric_enum_values = numeric[side].contains(true) && numeric[side].size() == 1;
  }
}

}  // namespace crmsync::mapping
