#pragma once

// Internal to the mapping loader (mapping_loader.cc, enum_values_section.cc): how problems found
// in a TOML file are collected and worded — "did you mean" suggestions, a node's type and value,
// dotted key paths, source lines. Includes toml++; include it only from .cc files of this library.

#include <toml++/toml.h>

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mapping/mapping_definition.h"

namespace crmsync::mapping::toml_wording {

// "; did you mean X?" when a candidate is close to `given` (or `given` is a word people use for
// one, such as "dataverse" for "dynamics"), else "".
std::string suggestion(std::string_view given, std::span<const std::string_view> candidates);

// 'unknown policy "crm-wins" (did you mean crm_wins?); write one of prm_wins, ...'
std::string unknown_name(std::string_view what, std::string_view given,
                         std::span<const std::string_view> allowed);

// "a, b, c"
std::string joined(std::span<const std::string_view> words);

// 'string "x"', "integer 5", "boolean true", "a table", ... The mapping file is configuration, not
// partner data, so its values may be quoted in messages.
std::string describe(const toml::node& node);

// A key as it appears in a dotted path: bare when TOML allows, quoted otherwise.
std::string key_part(std::string_view key);

// `prefix`.`key`, with `key` quoted when it must be ("deal.fields.stage.values.\"closed won\"").
std::string key_path(const std::string& prefix, std::string_view key);

// The 1-based line a node starts on; 0 when unknown.
int line_of(const toml::node* node);

// The entries of a table in the order they appear in the file (toml++ keeps them sorted by key).
std::vector<std::pair<std::string, const toml::node*>> in_file_order(const toml::table& table);

// The problems found so far in one mapping file. Owned by one parse_mapping call.
class ProblemLog {
 public:
  explicit ProblemLog(std::string source) : source_(std::move(source)) {}

  void add(std::string key, int line, std::string message);
  void add(std::string key, const toml::node* at, std::string message);
  // Reports each key of `table` that is not in `known`, with a suggestion and what `takes` says
  // the table takes.
  void check_keys(const toml::table& table, const std::string& prefix,
                  std::span<const std::string_view> known, std::string_view takes);

  bool empty() const { return problems_.empty(); }
  bool has_problem_at(std::string_view key) const;
  // Every problem, sorted by line (problems on one line keep the order they were found in).
  std::vector<MappingProblem> take_sorted();

 private:
  std::string source_;
  std::vector<MappingProblem> problems_;
};

}  // namespace crmsync::mapping::toml_wording
