#pragma once

// RapidJSON helpers for the emulators' .cc files (this header is never included by another header).

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <string>
#include <string_view>

#include "tests/emulators/record_store.h"

namespace crmsync::emulators {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

std::string to_json(const rapidjson::Value& value);
// Parses an object or array; nothing on a syntax error.
std::optional<rapidjson::Document> parse_json(std::string_view text);

void write_value(JsonWriter& writer, const FieldValue& value);
void write_string(JsonWriter& writer, std::string_view text);
FieldValue to_field_value(const rapidjson::Value& value);  // objects/arrays become null
rapidjson::Value to_json_value(const FieldValue& value, rapidjson::Document::AllocatorType& alloc);

std::string string_member(const rapidjson::Value& object, const char* name,
                          std::string fallback = {});
std::int64_t int_member(const rapidjson::Value& object, const char* name, std::int64_t fallback);
bool bool_member(const rapidjson::Value& object, const char* name, bool fallback);

// A number as JSON writes it: integral values without a fraction.
std::string format_number(double value);

}  // namespace crmsync::emulators
