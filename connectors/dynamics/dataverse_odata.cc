#include "connectors/dynamics/dataverse_odata.h"

#include <fmt/format.h>

#include <cctype>

namespace crmsync::connectors::dynamics {

std::string url_encode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string alternate_key(std::string_view prm_id) {
  std::string quoted;
  for (char c : prm_id) {
    quoted += c;
    if (c == '\'') quoted += '\'';
  }
  // Quotes stay literal (OData syntax); everything else that is not unreserved is encoded.
  std::string encoded;
  for (char c : quoted)
    encoded += c == '\'' ? std::string("'") : url_encode(std::string_view(&c, 1));
  return fmt::format("{}='{}'", kPrmIdKey, encoded);
}

bool is_guid(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : std::isxdigit(static_cast<unsigned char>(text[i])) == 0)
      return false;
  }
  return true;
}

std::string canonical_guid(std::string_view guid) {
  std::string out(guid);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> trailing_guid(std::string_view entity_id) {
  if (entity_id.size() < 38 || entity_id.back() != ')') return std::nullopt;
  std::string_view guid = entity_id.substr(entity_id.size() - 37, 36);
  if (entity_id[entity_id.size() - 38] != '(' || !is_guid(guid)) return std::nullopt;
  return std::string(guid);
}

std::string json_escape(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

}  // namespace crmsync::connectors::dynamics
