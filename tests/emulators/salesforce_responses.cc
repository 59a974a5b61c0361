#include "tests/emulators/salesforce_responses.h"

#include <fmt/format.h>

#include "tests/emulators/json_util.h"

namespace crmsync::emulators {

namespace {
void write_error(JsonWriter& writer, const SalesforceError& error, const char* code_key,
                 bool always_fields) {
  writer.StartObject();
  writer.Key("message");
  write_string(writer, error.message);
  writer.Key(code_key);
  write_string(writer, error.code);
  if (always_fields || !error.fields.empty()) {
    writer.Key("fields");
    writer.StartArray();
    for (const auto& f : error.fields) write_string(writer, f);
    writer.EndArray();
  }
  writer.EndObject();
}
}  // namespace

HttpResponse salesforce_json(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.set_header("Content-Type", "application/json;charset=UTF-8");
  response.body = std::move(body);
  return response;
}

HttpResponse salesforce_error(int status, const std::string& code, const std::string& message,
                              const std::vector<std::string>& fields) {
  return salesforce_errors(status, {SalesforceError{code, message, fields}});
}

HttpResponse salesforce_errors(int status, const std::vector<SalesforceError>& errors) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartArray();
  for (const auto& e : errors) write_error(writer, e, "errorCode", false);
  writer.EndArray();
  return salesforce_json(status, buffer.GetString());
}

std::string salesforce_save_result(const std::string& id,
                                   const std::vector<SalesforceError>& errors, bool with_created,
                                   bool created) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("id");
  if (id.empty())
    writer.Null();
  else
    write_string(writer, id);
  writer.Key("success");
  writer.Bool(errors.empty());
  writer.Key("errors");
  writer.StartArray();
  for (const auto& e : errors)
    write_error(writer, SalesforceError{e.code, e.message, e.fields}, "statusCode", true);
  writer.EndArray();
  if (with_created) {
    writer.Key("created");
    writer.Bool(created);
  }
  writer.EndObject();
  return buffer.GetString();
}

std::string salesforce_version_path(double version) {
  return fmt::format("/services/data/v{:.1f}", version);
}

}  // namespace crmsync::emulators
