#include "mapping/mapping_definition.h"

#include <fmt/format.h>

#include <stdexcept>
#include <utility>

namespace crmsync::mapping {

namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// What a Dataverse read returns for a lookup: "_<name>_value".
std::string dataverse_lookup_value_name(std::string_view lookup) {
  return fmt::format("_{}_value", lookup);
}

}  // namespace

std::string_view to_string(FieldType type) {
  switch (type) {
    case FieldType::string:
      return "string";
    case FieldType::decimal:
      return "decimal";
    case FieldType::integer:
      return "integer";
    case FieldType::boolean:
      return "boolean";
    case FieldType::date:
      return "date";
    case FieldType::enumeration:
      return "enum";
    case FieldType::reference:
      return "reference";
  }
  return "unknown";
}

std::string_view to_string(FieldClass field_class) {
  switch (field_class) {
    case FieldClass::partner_editable:
      return "partner_editable";
    case FieldClass::partner_visible:
      return "partner_visible";
    case FieldClass::internal:
      return "internal";
  }
  return "unknown";
}

std::string_view to_string(ConflictPolicy policy) {
  switch (policy) {
    case ConflictPolicy::prm_wins:
      return "prm_wins";
    case ConflictPolicy::crm_wins:
      return "crm_wins";
    case ConflictPolicy::latest_wins:
      return "latest_wins";
    case ConflictPolicy::manual:
      return "manual";
  }
  return "unknown";
}

const std::optional<SideBinding>& FieldMapping::on(Side side) const {
  switch (side) {
    case Side::prm:
      return prm;
    case Side::salesforce:
      return salesforce;
    case Side::dynamics:
      return dynamics;
  }
  throw std::invalid_argument("FieldMapping::on: not a Side value");
}

std::optional<SideBinding>& FieldMapping::on(Side side) {
  return const_cast<std::optional<SideBinding>&>(std::as_const(*this).on(side));
}

bool FieldMapping::partner_may_edit(std::string_view tier) const {
  if (field_class != FieldClass::partner_editable) return false;
  if (editable_tiers.empty()) return true;
  for (const auto& allowed : editable_tiers) {
    if (allowed == tier) return true;
  }
  return false;
}

const FieldMapping* ObjectMapping::field(std::string_view canonical_name) const {
  for (const FieldMapping& candidate : fields) {
    if (candidate.name == canonical_name) return &candidate;
  }
  return nullptr;
}

const FieldMapping* ObjectMapping::field_for_native(Side side, std::string_view native_name) const {
  for (const FieldMapping& candidate : fields) {
    const auto& binding = candidate.on(side);
    if (!binding) continue;
    switch (side) {
      case Side::prm:
        if (binding->name == native_name) return &candidate;
        break;
      case Side::salesforce:
        if (equals_ignoring_case(binding->name, native_name)) return &candidate;
        break;
      case Side::dynamics:
        if (binding->name == native_name) return &candidate;
        if (candidate.type == FieldType::reference &&
            dataverse_lookup_value_name(binding->name) == native_name) {
          return &candidate;
        }
        break;
    }
  }
  return nullptr;
}

std::vector<std::string> ObjectMapping::native_read_names(Side side) const {
  std::vector<std::string> names;
  for (const FieldMapping& candidate : fields) {
    const auto& binding = candidate.on(side);
    if (!binding) continue;
    if (side == Side::dynamics && candidate.type == FieldType::reference) {
      names.push_back(dataverse_lookup_value_name(binding->name));
    } else {
      names.push_back(binding->name);
    }
  }
  return names;
}

const ObjectMapping& MappingDefinition::of(ObjectKind object) const {
  switch (object) {
    case ObjectKind::account:
      return account;
    case ObjectKind::deal:
      return deal;
  }
  throw std::invalid_argument("MappingDefinition::of: not an ObjectKind value");
}

std::string to_string(const MappingProblem& problem) {
  std::string where = problem.source.empty() ? std::string("mapping") : problem.source;
  if (problem.line > 0) where += fmt::format(":{}", problem.line);
  if (problem.key.empty()) return fmt::format("mapping: {} ({})", problem.message, where);
  return fmt::format("mapping: {}: {} ({})", problem.key, problem.message, where);
}

MappingDefinition default_mapping() {
  MappingLoad load = parse_mapping(default_mapping_toml(), "deploy/examples/mapping.toml");
  if (!load.mapping) {
    std::string message = "the shipped default mapping is invalid:";
    for (const MappingProblem& problem : load.problems) message += "\n  " + to_string(problem);
    throw std::logic_error(message);
  }
  return std::move(*load.mapping);
}

}  // namespace crmsync::mapping
