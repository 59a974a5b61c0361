// Value translation between side-native fields and canonical values (declared in
// mapping_definition.h). Messages name the field and the kind of value, never the value: field
// values are partner data.

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "mapping/field_values.h"
#include "mapping/mapping_definition.h"

namespace crmsync::mapping {

namespace {

// The Dataverse entity set a lookup to `object` binds to.
std::string_view entity_set(ObjectKind object) {
  switch (object) {
    case ObjectKind::account:
      return "accounts";
    case ObjectKind::deal:
      return "opportunities";
  }
  return "unknown";
}

std::string_view kind_name(FieldValue::Kind kind) {
  switch (kind) {
    case FieldValue::Kind::null:
      return "null";
    case FieldValue::Kind::string:
      return "text";
    case FieldValue::Kind::number:
      return "a number";
    case FieldValue::Kind::boolean:
      return "a boolean";
  }
  return "a value";
}

// "deal.amount (salesforce Amount)"
std::string where(const ObjectMapping& mapping, const FieldMapping& field, Side side,
                  std::string_view native) {
  return fmt::format("{}.{} ({} {})", to_string(mapping.object), field.name, to_string(side),
                     native);
}

bool is_text_like(const FieldValue& value) {
  return value.kind == FieldValue::Kind::string || value.kind == FieldValue::Kind::number;
}

// The reason a value does not fit `field`, as "got ..." text, or the converted value.
struct Conversion {
  std::optional<FieldValue> value;
  std::string expected;  // set when the value does not fit
  std::string got;
};

Conversion mismatch(std::string expected, const FieldValue& value, std::string_view detail = "") {
  std::string got(kind_name(value.kind));
  if (!detail.empty()) got += fmt::format(" {}", detail);
  return {std::nullopt, std::move(expected), std::move(got)};
}

// A side's or a canonical value, normalised for `field`'s type (everything but enum values,
// which translate differently in each direction).
Conversion normalise(const FieldMapping& field, const FieldValue& value) {
  if (value.kind == FieldValue::Kind::null) return {value, "", ""};
  switch (field.type) {
    case FieldType::string:
      if (is_text_like(value)) return {FieldValue::string_value(value.text), "", ""};
      return mismatch("text", value);
    case FieldType::decimal:
      if (is_text_like(value)) {
        if (auto text = normalise_decimal(value.text, field.scale)) {
          return {FieldValue::number_value(std::move(*text)), "", ""};
        }
        return mismatch("a decimal number", value, "that is not a finite decimal number");
      }
      return mismatch("a decimal number", value);
    case FieldType::integer:
      if (is_text_like(value)) {
        if (auto text = normalise_integer(value.text)) {
          return {FieldValue::number_value(std::move(*text)), "", ""};
        }
        return mismatch("a whole number", value, "that is not a whole number");
      }
      return mismatch("a whole number", value);
    case FieldType::boolean:
      if (value.kind == FieldValue::Kind::boolean) return {value, "", ""};
      if (value.kind == FieldValue::Kind::string) {
        if (auto flag = parse_boolean_text(value.text))
          return {FieldValue::boolean_value(*flag), "", ""};
        return mismatch("true or false", value, "that is not true or false");
      }
      return mismatch("true or false", value);
    case FieldType::date:
      if (value.kind == FieldValue::Kind::string) {
        if (auto date = normalise_date(value.text))
          return {FieldValue::string_value(*date), "", ""};
        return mismatch("a date (YYYY-MM-DD or an RFC 3339 date-time)", value,
                        "that is not a valid date");
      }
      return mismatch("a date (YYYY-MM-DD or an RFC 3339 date-time)", value);
    case FieldType::enumeration:
      if (is_text_like(value)) return {FieldValue::string_value(value.text), "", ""};
      return mismatch("an enum value", value);
    case FieldType::reference:
      if (is_text_like(value) && !value.text.empty())
        return {FieldValue::string_value(value.text), "", ""};
      return mismatch("a record id", value, value.text.empty() ? "that is empty" : "");
  }
  return mismatch("a value", value);
}

std::string problem_text(std::string_view place, const Conversion& conversion) {
  return fmt::format("{}: expected {}, got {}", place, conversion.expected, conversion.got);
}

}  // namespace

CanonicalTranslation to_canonical(const ObjectMapping& mapping, Side side,
                                  const std::vector<Field>& native_fields) {
  CanonicalTranslation out;
  for (const Field& native : native_fields) {
    const FieldMapping* field = mapping.field_for_native(side, native.name);
    if (field == nullptr) {
      out.ignored.push_back(native.name);
      continue;
    }
    std::string place = where(mapping, *field, side, native.name);
    Conversion conversion = normalise(*field, native.value);
    if (!conversion.value) {
      out.problems.push_back(problem_text(place, conversion));
      continue;
    }
    if (field->type == FieldType::enumeration && conversion.value->kind != FieldValue::Kind::null) {
      const auto& side_values = field->on(side)->enum_values;
      auto canonical = std::find_if(side_values.begin(), side_values.end(), [&](const auto& entry) {
        return entry.second == conversion.value->text;
      });
      if (canonical == side_values.end()) {
        out.problems.push_back(fmt::format(
            "{}: the {} value is not listed in {}.fields.{}.values; add it there (a value is never "
            "guessed)",
            place, to_string(side), to_string(mapping.object), field->name));
        continue;
      }
      conversion.value = FieldValue::string_value(canonical->first);
    }
    out.fields[field->name] = std::move(*conversion.value);
  }
  return out;
}

SideTranslation to_side_checked(const ObjectMapping& mapping, Side side,
                                const CanonicalFields& values) {
  SideTranslation out;
  for (const FieldMapping& field : mapping.fields) {
    const auto& binding = field.on(side);
    if (!binding) continue;
    auto found = values.find(field.name);
    if (found == values.end()) continue;
    std::string place = where(mapping, field, side, binding->name);
    Conversion conversion = normalise(field, found->second);
    if (!conversion.value) {
      out.problems.push_back(problem_text(place, conversion));
      continue;
    }
    FieldValue& value = *conversion.value;
    std::string name = binding->name;
    if (value.kind != FieldValue::Kind::null && field.type == FieldType::enumeration) {
      auto side_value = binding->enum_values.find(value.text);
      if (side_value == binding->enum_values.end()) {
        out.problems.push_back(fmt::format(
            "{}: the canonical value is not listed in {}.fields.{}.values; add it there", place,
            to_string(mapping.object), field.name));
        continue;
      }
      value = binding->numeric_enum_values ? FieldValue::number_value(side_value->second)
                                           : FieldValue::string_value(side_value->second);
    }
    if (field.type == FieldType::reference && side == Side::dynamics) {
      name += "@odata.bind";
      if (value.kind != FieldValue::Kind::null) {
        // A reference field always names its object (the loader requires `references`).
        value = FieldValue::string_value(fmt::format(
            "/{}({})", entity_set(field.references.value_or(ObjectKind::account)), value.text));
      }
    }
    out.fields.push_back({std::move(name), std::move(value)});
  }
  return out;
}

std::vector<Field> to_side(const ObjectMapping& mapping, Side side, const CanonicalFields& values) {
  SideTranslation translation = to_side_checked(mapping, side, values);
  if (!translation.problems.empty()) {
    throw std::invalid_argument("to_side: " + translation.problems.front());
  }
  return std::move(translation.fields);
}

}  // namespace crmsync::mapping
