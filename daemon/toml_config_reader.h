#pragma once

// Internal to daemon/config.cc: reads typed values out of a parsed TOML document while recording
// every problem (with its key and file position) and every key it was asked about, so that keys
// nobody asked about can be reported as unknown. Includes toml++; keep it out of other headers.

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <set>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

namespace crmsync::daemon {

enum class Requirement { optional, required };

class TomlConfigReader {
 public:
  TomlConfigReader(const toml::table& root, std::string display_name);

  std::optional<std::string> get_string(std::string_view key, Requirement requirement);
  std::optional<std::int64_t> get_integer(std::string_view key, Requirement requirement);
  std::optional<bool> get_bool(std::string_view key, Requirement requirement);
  std::optional<std::vector<std::string>> get_string_list(std::string_view key,
                                                          Requirement requirement);

  // The string values of the table `key`, by their keys as written (quoted keys may contain dots:
  // `"salesforce.client_secret" = "30d"`), in file order. A value that is not a string is a
  // problem (and left out). The whole table counts as known.
  std::optional<std::vector<std::pair<std::string, std::string>>> get_string_table(std::string_view key,
                                                                                  Requirement requirement);
  // Records a problem with entry `entry` of the table `table` (as read by get_string_table), at the
  // entry's position; the key is shown as table."entry".
  void add_entry_problem(std::string_view table, std::string_view entry, std::string_view message);

  // True when `key` names a table in the file (an optional section that is present).
  bool has_table(std::string_view key) const;

  // Records `key` as known without reading it: the keys of an optional section that is absent,
  // so that a misspelled section or key still gets a "did you mean" suggestion.
  void declare_known(std::string_view key) { known_keys_.emplace(key); }

  // Records a problem with `key`, at the key's position when it is in the file.
  void add_problem(std::string_view key, std::string_view message);

  // Adds a problem for every key in the file that no get_* call asked about.
  void report_unknown_keys();

  const std::vector<std::string>& problems() const { return problems_; }

 private:
  const toml::node* find(std::string_view key);
  // find(), recording "required key is missing" when a required key is absent.
  const toml::node* find_present(std::string_view key, Requirement requirement);
  template <typename T>
  std::optional<T> get_scalar(std::string_view key, Requirement requirement,
                              std::string_view expected);
  std::string position_of(const toml::node* node) const;
  void report_unknown_in(const toml::table& table, const std::string& prefix);
  std::string suggestion_for(const std::string& path) const;

  const toml::table& root_;
  std::string display_name_;
  std::set<std::string, std::less<>> known_keys_;
  std::vector<std::string> problems_;
};

// A short description of a TOML value for error messages: `string "localhost"`, `integer 12`.
std::string describe_toml_value(const toml::node& node);

}  // namespace crmsync::daemon
