#include "tests/emulators/json_util.h"

#include <fmt/format.h>

#include <cmath>

namespace crmsync::emulators {

std::string to_json(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<rapidjson::Document> parse_json(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) return std::nullopt;
  return doc;
}

void write_string(JsonWriter& writer, std::string_view text) {
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

void write_value(JsonWriter& writer, const FieldValue& value) {
  if (std::holds_alternative<bool>(value)) {
    writer.Bool(std::get<bool>(value));
  } else if (std::holds_alternative<double>(value)) {
    double d = std::get<double>(value);
    if (std::floor(d) == d && std::fabs(d) < 9e15) {
      writer.Int64(static_cast<std::int64_t>(d));
    } else {
      writer.Double(d);
    }
  } else if (std::holds_alternative<std::string>(value)) {
    write_string(writer, std::get<std::string>(value));
  } else {
    writer.Null();
  }
}

FieldValue to_field_value(const rapidjson::Value& value) {
  if (value.IsBool()) return value.GetBool();
  if (value.IsNumber()) return value.GetDouble();
  if (value.IsString()) return std::string(value.GetString(), value.GetStringLength());
  return std::monostate{};
}

rapidjson::Value to_json_value(const FieldValue& value, rapidjson::Document::AllocatorType& alloc) {
  if (std::holds_alternative<bool>(value)) return rapidjson::Value(std::get<bool>(value));
  if (std::holds_alternative<double>(value)) {
    double d = std::get<double>(value);
    if (std::floor(d) == d && std::fabs(d) < 9e15)
      return rapidjson::Value(static_cast<std::int64_t>(d));
    return rapidjson::Value(d);
  }
  if (std::holds_alternative<std::string>(value)) {
    const auto& s = std::get<std::string>(value);
    return rapidjson::Value(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), alloc);
  }
  return rapidjson::Value(rapidjson::kNullType);
}

std::string string_member(const rapidjson::Value& object, const char* name, std::string fallback) {
  if (!object.IsObject()) return fallback;
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return fallback;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::int64_t int_member(const rapidjson::Value& object, const char* name, std::int64_t fallback) {
  if (!object.IsObject()) return fallback;
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsNumber()) return fallback;
  return static_cast<std::int64_t>(it->value.GetDouble());
}

bool bool_member(const rapidjson::Value& object, const char* name, bool fallback) {
  if (!object.IsObject()) return fallback;
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsBool()) return fallback;
  return it->value.GetBool();
}

std::string format_number(double value) {
  if (std::floor(value) == value && std::fabs(value) < 9e15)
    return fmt::format("{}", static_cast<std::int64_t>(value));
  return fmt::format("{}", value);
}

}  // namespace crmsync::emulators
