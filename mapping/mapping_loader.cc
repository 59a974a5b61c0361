// parse_mapping: reads the mapping TOML (docs/mapping.md) into a MappingDefinition, collecting
// every problem with its key, line and a hint of what to write instead.

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <span>
#include <utility>

#include "mapping/enum_values_section.h"
#include "mapping/mapping_definition.h"
#include "mapping/toml_wording.h"

namespace crmsync::mapping {

namespace {

using toml_wording::describe;
using toml_wording::in_file_order;
using toml_wording::joined;
using toml_wording::key_path;
using toml_wording::line_of;
using toml_wording::ProblemLog;
using toml_wording::unknown_name;

constexpr std::array<std::string_view, 3> kTopKeys = {"schema", "account", "deal"};
constexpr std::array<std::string_view, 1> kObjectKeys = {"fields"};
constexpr std::array<std::string_view, 11> kFieldKeys = {
    "type",       "class", "policy",     "match_key", "scale",         "references",
    "prm",        "salesforce", "dynamics",  "values", "editable_tiers"};
constexpr std::array<std::string_view, 3> kSideKeys = {"prm", "salesforce", "dynamics"};
constexpr std::array<Side, 3> kSides = {Side::prm, Side::salesforce, Side::dynamics};
constexpr std::array<FieldType, 7> kTypes = {
    FieldType::string, FieldType::decimal,     FieldType::integer,  FieldType::boolean,
    FieldType::date,   FieldType::enumeration, FieldType::reference};
constexpr std::array<FieldClass, 3> kClasses = {FieldClass::partner_editable,
                                                FieldClass::partner_visible, FieldClass::internal};
constexpr std::array<ConflictPolicy, 4> kPolicies = {
    ConflictPolicy::prm_wins, ConflictPolicy::crm_wins, ConflictPolicy::latest_wins,
    ConflictPolicy::manual};
constexpr std::array<ObjectKind, 2> kObjects = {ObjectKind::account, ObjectKind::deal};
constexpr int kSchema = 1;
constexpr std::int64_t kMaxScale = 10;

template <typename E, std::size_t N>
std::array<std::string_view, N> names_of(const std::array<E, N>& values) {
  std::array<std::string_view, N> names{};
  for (std::size_t i = 0; i < N; ++i) names[i] = to_string(values[i]);
  return names;
}

bool is_identifier(std::string_view text, bool lowercase_only) {
  if (text.empty()) return false;
  auto letter = [&](char c) {
    return (c >= 'a' && c <= 'z') || c == '_' || (!lowercase_only && c >= 'A' && c <= 'Z');
  };
  if (!letter(text[0])) return false;
  return std::all_of(text.begin(), text.end(),
                     [&](char c) { return letter(c) || (c >= '0' && c <= '9'); });
}

std::string folded(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view side_label(Side side) {
  switch (side) {
    case Side::prm:
      return "PRM column";
    case Side::salesforce:
      return "Salesforce field";
    case Side::dynamics:
      return "Dataverse attribute";
  }
  return "field";
}

class MappingLoader {
 public:
  explicit MappingLoader(std::string source) : source_(source), problems_(std::move(source)) {}

  MappingLoad load(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, source_);
    } catch (const toml::parse_error& error) {
      add("", static_cast<int>(error.source().begin.line),
          fmt::format("not valid TOML: {}; fix the syntax at this line", error.description()));
      return finish(std::nullopt);
    }
    check_keys(root, "", kTopKeys,
               "the top level takes schema, [account.fields.<name>] and "
               "[deal.fields.<name>]");
    read_schema(root);
    MappingDefinition mapping;
    mapping.account = read_object(root, ObjectKind::account);
    mapping.deal = read_object(root, ObjectKind::deal);
    return finish(std::move(mapping));
  }

 private:
  template <typename... Args>
  void add(Args&&... args) {
    problems_.add(std::forward<Args>(args)...);
  }
  void check_keys(const toml::table& table, const std::string& prefix,
                  std::span<const std::string_view> known, std::string_view takes) {
    problems_.check_keys(table, prefix, known, takes);
  }

  MappingLoad finish(std::optional<MappingDefinition> mapping) {
    MappingLoad load;
    if (problems_.empty()) load.mapping = std::move(mapping);
    load.problems = problems_.take_sorted();
    return load;
  }

  const toml::table* table_at(const toml::table& parent, std::string_view key,
                              const std::string& where, std::string_view when_missing) {
    const toml::node* node = parent.get(key);
    if (node == nullptr) {
      add(where, &parent, fmt::format("required table is missing; {}", when_missing));
      return nullptr;
    }
    if (!node->is_table()) {
      add(where, node, fmt::format("expected a table, got {}; {}", describe(*node), when_missing));
      return nullptr;
    }
    return node->as_table();
  }

  void read_schema(const toml::table& root) {
    const toml::node* node = root.get("schema");
    if (node == nullptr) {
      add("schema", 1, fmt::format("required key is missing; add schema = {} at the top", kSchema));
    } else if (!node->is_integer()) {
      add("schema", node, fmt::format("expected the integer {}, got {}", kSchema, describe(*node)));
    } else if (node->as_integer()->get() != kSchema) {
      add("schema", node,
          fmt::format("unsupported schema {}; this crmsync reads schema = {}",
                      node->as_integer()->get(), kSchema));
    }
  }

  template <typename E, std::size_t N>
  std::optional<E> read_choice(const toml::table& field, std::string_view key,
                               const std::string& prefix, const std::array<E, N>& values) {
    const toml::node* node = field.get(key);
    if (node == nullptr) return std::nullopt;
    auto names = names_of(values);
    if (!node->is_string()) {
      add(key_path(prefix, key), node,
          fmt::format("expected a string, got {}; write one of {}", describe(*node),
                      joined(names)));
      return std::nullopt;
    }
    const std::string& text = node->as_string()->get();
    for (std::size_t i = 0; i < N; ++i) {
      if (names[i] == text) return values[i];
    }
    add(key_path(prefix, key), node, unknown_name(key, text, names));
    return std::nullopt;
  }

  ObjectMapping read_object(const toml::table& root, ObjectKind object) {
    ObjectMapping mapping{object, {}};
    std::string name(to_string(object));
    std::string hint =
        fmt::format("add a [{}.fields.<name>] section for each synced {} field", name, name);
    const toml::table* table = table_at(root, name, name, hint);
    if (table == nullptr) return mapping;
    check_keys(*table, name, kObjectKeys, fmt::format("[{}] takes only fields", name));
    std::string fields_path = name + ".fields";
    const toml::table* fields = table_at(*table, "fields", fields_path, hint);
    if (fields == nullptr) return mapping;
    if (fields->empty()) add(fields_path, fields, fmt::format("no fields are mapped; {}", hint));
    for (const auto& [key, node] : in_file_order(*fields)) {
      std::string prefix = key_path(fields_path, key);
      if (!node->is_table()) {
        add(prefix, node,
            fmt::format("expected a table, got {}; write [{}] with type = \"...\" and the side "
                        "names below it",
                        describe(*node), prefix));
        continue;
      }
      if (!is_identifier(key, true) || key[0] == '_') {
        add(prefix, node,
            "a canonical field name is lowercase letters, digits and _, starting with a letter "
            "(e.g. close_date); rename the section");
      }
      mapping.fields.push_back(read_field(*node->as_table(), key, prefix));
    }
    check_bindings(mapping, fields_path);
    return mapping;
  }

  FieldMapping read_field(const toml::table& table, const std::string& name,
                          const std::string& prefix) {
    FieldMapping field;
    field.name = name;
    field.line = line_of(&table);
    check_keys(
        table, prefix, kFieldKeys,
        fmt::format("a field takes {}", joined(std::span<const std::string_view>(kFieldKeys))));

    std::optional<FieldType> type;
    if (table.get("type") == nullptr) {
      add(key_path(prefix, "type"), &table,
          fmt::format("required key is missing; add type = \"...\", one of {}",
                      joined(names_of(kTypes))));
    } else {
      type = read_choice(table, "type", prefix, kTypes);
    }
    if (type) field.type = *type;
    if (auto value = read_choice(table, "class", prefix, kClasses)) field.field_class = *value;
    if (auto value = read_choice(table, "policy", prefix, kPolicies)) field.policy = *value;
    if (const toml::node* node = table.get("match_key")) {
      if (node->is_boolean()) {
        field.match_key = node->as_boolean()->get();
        binding_lines_[key_path(prefix, "match_key")] = line_of(node);
      } else {
        add(key_path(prefix, "match_key"), node,
            fmt::format("expected true or false, got {}", describe(*node)));
      }
    }
    read_scale(table, prefix, type, field);
    read_references(table, prefix, type, field);
    for (Side side : kSides) read_side(table, prefix, type, side, field);
    read_enum_values(table, prefix, type, field, problems_);
    read_editable_tiers(table, prefix, field);
    if (field.field_class == FieldClass::internal && field.prm) {
      add(key_path(prefix, "prm"), binding_lines_[key_path(prefix, "prm")],
          "an internal field never goes to the PRM, where partner roles read the synced tables "
          "(DESIGN §3); remove prm = \"...\" or change the class");
    }
    return field;
  }

  void read_editable_tiers(const toml::table& table, const std::string& prefix, FieldMapping& field) {
    const toml::node* node = table.get("editable_tiers");
    if (node == nullptr) return;
    std::string key = key_path(prefix, "editable_tiers");
    std::array<std::string_view, 4> tiers = {kPartnerTiers[0], kPartnerTiers[1], kPartnerTiers[2],
                                             kPartnerTiers[3]};
    if (field.field_class != FieldClass::partner_editable) {
      add(key, node,
          "editable_tiers qualifies partner_editable fields only; remove it or write "
          "class = \"partner_editable\"");
      return;
    }
    const toml::array* list = node->as_array();
    if (list == nullptr || list->empty()) {
      add(key, node,
          fmt::format("expected a non-empty list of tiers, e.g. [\"gold\", \"platinum\"], from {}",
                      joined(tiers)));
      return;
    }
    for (const toml::node& item : *list) {
      const auto* text = item.as_string();
      if (text == nullptr) {
        add(key, node, fmt::format("expected tier names (strings), got {}", describe(item)));
        return;
      }
      if (std::find(tiers.begin(), tiers.end(), text->get()) == tiers.end()) {
        add(key, node, unknown_name("tier", text->get(), tiers));
        return;
      }
      field.editable_tiers.push_back(text->get());
    }
  }

  void read_scale(const toml::table& table, const std::string& prefix,
                  std::optional<FieldType> type, FieldMapping& field) {
    const toml::node* node = table.get("scale");
    if (node == nullptr) return;
    std::string key = key_path(prefix, "scale");
    if (type && *type != FieldType::decimal) {
      add(key, node,
          fmt::format("scale applies to decimal fields only; remove it or write "
                      "type = \"decimal\""));
      return;
    }
    if (!node->is_integer()) {
      add(key, node,
          fmt::format("expected an integer from 0 to {}, got {}", kMaxScale, describe(*node)));
      return;
    }
    std::int64_t scale = node->as_integer()->get();
    if (scale < 0 || scale > kMaxScale) {
      add(key, node,
          fmt::format("scale {} is out of range; write an integer from 0 to {} (the "
                      "number of decimal places)",
                      scale, kMaxScale));
      return;
    }
    field.scale = static_cast<int>(scale);
  }

  void read_references(const toml::table& table, const std::string& prefix,
                       std::optional<FieldType> type, FieldMapping& field) {
    const toml::node* node = table.get("references");
    std::string key = key_path(prefix, "references");
    auto objects = names_of(kObjects);
    if (node == nullptr) {
      if (type == FieldType::reference) {
        add(key, &table,
            fmt::format("a reference field needs the object it refers to; add "
                        "references = \"...\", one of {}",
                        joined(objects)));
      }
      return;
    }
    if (type && *type != FieldType::reference) {
      add(key, node,
          "references applies to reference fields only; remove it or write "
          "type = \"reference\"");
      return;
    }
    if (!node->is_string()) {
      add(key, node,
          fmt::format("expected a string, got {}; write one of {}", describe(*node),
                      joined(objects)));
      return;
    }
    const std::string& text = node->as_string()->get();
    if (auto object = parse_object_kind(text)) {
      field.references = *object;
    } else {
      add(key, node, unknown_name("object", text, objects));
    }
  }

  void read_side(const toml::table& table, const std::string& prefix, std::optional<FieldType> type,
                 Side side, FieldMapping& field) {
    std::string_view side_key = to_string(side);
    const toml::node* node = table.get(side_key);
    if (node == nullptr) return;
    std::string key = key_path(prefix, side_key);
    if (!node->is_string()) {
      add(key, node,
          fmt::format("expected a string, the {} name, got {}", side_label(side), describe(*node)));
      return;
    }
    const std::string& name = node->as_string()->get();
    bool lookup_read_name = name.size() > 7 && name.starts_with('_') && name.ends_with("_value");
    if (side == Side::dynamics && lookup_read_name) {
      std::string lookup = name.substr(1, name.size() - 7);
      if (type == FieldType::reference) {
        add(key, node,
            fmt::format("write the lookup name \"{}\", not its read name \"{}\"", lookup, name));
      } else {
        add(key, node,
            fmt::format("\"{}\" is how Dataverse reads the lookup {}; map it as "
                        "type = \"reference\" with dynamics = \"{}\"",
                        name, lookup, lookup));
      }
      return;
    }
    if (!is_identifier(name, side == Side::dynamics)) {
      std::string_view rule =
          side == Side::dynamics
              ? "a Dataverse logical name is lowercase letters, digits and _ (e.g. \"websiteurl\")"
              : "a name is letters, digits and _, not starting with a digit";
      add(key, node,
          fmt::format("\"{}\" is not a valid {} name; {}", name, side_label(side), rule));
      return;
    }
    field.on(side) = SideBinding{name, {}, false};
    binding_lines_[key] = line_of(node);
  }

  // Cross-field checks of one object: every field bound somewhere, no native name bound twice,
  // match keys shared by at least two sides.
  void check_bindings(const ObjectMapping& mapping, const std::string& fields_path) {
    std::map<Side, std::map<std::string, const FieldMapping*>> seen;
    for (const FieldMapping& field : mapping.fields) {
      std::string prefix = key_path(fields_path, field.name);
      int sides = 0;
      for (Side side : kSides) {
        const auto& binding = field.on(side);
        if (!binding) continue;
        ++sides;
        std::string native = side == Side::salesforce ? folded(binding->name) : binding->name;
        auto [previous, inserted] = seen[side].emplace(native, &field);
        if (!inserted) {
          std::string key = key_path(prefix, to_string(side));
          add(key, binding_lines_[key],
              fmt::format("{} \"{}\" is already bound to {} (line {}); bind each native name to "
                          "one canonical field",
                          side_label(side), binding->name,
                          key_path(fields_path, previous->second->name), previous->second->line));
        }
      }
      if (sides == 0 && !has_binding_problem(prefix)) {
        add(prefix, field.line,
            "the field is bound on no side; add prm = \"...\", salesforce = \"...\" and/or "
            "dynamics = \"...\"");
      }
      if (field.match_key && sides < 2) {
        add(key_path(prefix, "match_key"), binding_lines_[key_path(prefix, "match_key")],
            "a match key must be bound on at least two sides to match records between them; bind "
            "it on another side or remove match_key");
      }
    }
  }

  // True when a side key of `prefix` was present but rejected (so "bound on no side" would only
  // repeat that problem).
  bool has_binding_problem(const std::string& prefix) const {
    return std::any_of(kSideKeys.begin(), kSideKeys.end(), [&](std::string_view side) {
      return problems_.has_problem_at(key_path(prefix, side));
    });
  }

  std::string source_;
  ProblemLog problems_;
  std::map<std::string, int> binding_lines_;  // side binding or match_key key -> its line
};

}  // namespace

MappingLoad parse_mapping(std::string_view toml_text, std::string_view source_name) {
  return MappingLoader(std::string(source_name)).load(toml_text);
}

}  // namespace crmsync::mapping
