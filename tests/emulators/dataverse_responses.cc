#include "tests/emulators/dataverse_responses.h"

#include <cctype>
#include <utility>
#include <vector>

#include "tests/emulators/json_util.h"

namespace crmsync::emulators {

namespace {
const std::vector<std::pair<const char*, int>> kMaskNames = {
    {"ReadAccess", 1},       {"WriteAccess", 2},      {"AppendAccess", 4},
    {"AppendToAccess", 16},  {"CreateAccess", 32},    {"DeleteAccess", 65536},
    {"ShareAccess", 262144}, {"AssignAccess", 524288}};
}  // namespace

HttpResponse dataverse_json(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.set_header("OData-Version", "4.0");
  response.set_header("Content-Type", "application/json; odata.metadata=minimal");
  response.body = std::move(body);
  return response;
}

HttpResponse dataverse_error(int status, const std::string& code, const std::string& message) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("error");
  writer.StartObject();
  writer.Key("code");
  write_string(writer, code);
  writer.Key("message");
  write_string(writer, message);
  writer.EndObject();
  writer.EndObject();
  return dataverse_json(status, buffer.GetString());
}

HttpResponse dataverse_empty(int status) {
  HttpResponse response;
  response.status = status;
  response.set_header("OData-Version", "4.0");
  return response;
}

std::string access_mask_names(int mask, const std::string& separator) {
  std::string out;
  for (const auto& [name, bit] : kMaskNames) {
    if (mask & bit) out += (out.empty() ? "" : separator) + std::string(name);
  }
  return out.empty() ? "None" : out;
}

int parse_access_mask(const std::string& text) {
  int mask = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (item != "None") {
      bool known = false;
      for (const auto& [name, bit] : kMaskNames) {
        if (item == name) {
          mask |= bit;
          known = true;
        }
      }
      if (!known) return -1;
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return mask;
}

std::vector<std::string> prefer_list(const DataverseCall& call) {
  std::vector<std::string> out;
  std::string prefer = call.header("Prefer");
  std::size_t start = 0;
  while (start < prefer.size()) {
    auto comma = prefer.find(',', start);
    std::string item =
        prefer.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

bool prefers(const DataverseCall& call, std::string_view what) {
  for (const auto& p : prefer_list(call)) {
    if (p.rfind(what, 0) == 0) return true;
  }
  return false;
}

std::string etag_of(const Record& r) {
  return "W/\"" + std::to_string(r.version) + "\"";
}

bool is_dataverse_guid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

HttpResponse dataverse_payload_error(const ObjectDef& def, const std::string& detail) {
  return dataverse_error(
      400, "0x80048d19",
      "Error identified in Payload provided by the user for Entity :'" + def.name +
          "', For more information on this error please follow this help link "
          "https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : " +
          detail);
}

HttpResponse dataverse_duplicate_key() {
  return dataverse_error(
      412, "0x80060892",
      "A record that has the attribute values crmsync_prmid already exists. The entity key "
      "crmsync_prmid requires that this set of attributes contains unique values. Select unique "
      "values and try again.");
}

std::string dataverse_not_found_message(const ObjectDef& def, const std::string& id) {
  return def.name + " With Id = " + id + " Does Not Exist";
}

}  // namespace crmsync::emulators
