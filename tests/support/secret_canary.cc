#include "tests/support/secret_canary.h"

#include <gtest/gtest.h>

#include "connectors/dynamics/dataverse_odata.h"
#include "connectors/http/url_encoding.h"

namespace crmsync::testing {

std::string base64_of(std::string_view bytes, Base64Alphabet alphabet) {
  static constexpr std::string_view kStandard =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static constexpr std::string_view kUrl =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string_view digits = alphabet == Base64Alphabet::url_safe ? kUrl : kStandard;
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    unsigned n = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 2]);
    out += digits[(n >> 18) & 63];
    out += digits[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? digits[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? digits[n & 63] : '=';
  }
  return out;
}

std::vector<std::string> leak_forms(const std::string& value) {
  std::vector<std::string> forms{value, connectors::http::percent_encode(value),
                                 connectors::dynamics::url_encode(value)};
  std::string form_encoded = connectors::http::percent_encode(value);
  if (form_encoded.find("%20") != std::string::npos) {
    for (auto pos = form_encoded.find("%20"); pos != std::string::npos;
         pos = form_encoded.find("%20")) {
      form_encoded.replace(pos, 3, "+");
    }
    forms.push_back(form_encoded);
  }
  std::string json_escaped;
  for (char c : value) json_escaped += c == '/' ? std::string("\\/") : std::string(1, c);
  forms.push_back(json_escaped);
  for (auto alphabet : {Base64Alphabet::standard, Base64Alphabet::url_safe}) {
    for (std::size_t offset = 0; offset < 3; ++offset) {
      std::string shifted = std::string(offset, 'x') + value;
      std::string encoded = base64_of(shifted, alphabet);
      std::size_t groups = shifted.size() / 3;
      std::size_t first = offset == 0 ? 0 : 1;
      forms.push_back(encoded.substr(first * 4, (groups - first) * 4));
    }
  }
  return forms;
}

void expect_no_secrets_in(const std::string& where, const std::string& text,
                          const std::vector<std::string>& also) {
  std::vector<std::string> secrets{kClientSecret, kJournalKey, kJournalKeyBytes, kDatabasePassword};
  secrets.insert(secrets.end(), also.begin(), also.end());
  for (const std::string& secret : secrets) {
    if (secret.size() < 8) {
      // Its short base64 groups would be found in any text: a canary must be a long, odd value.
      ADD_FAILURE() << "a secret of " << secret.size() << " bytes is too short to check for";
      continue;
    }
    for (const auto& form : leak_forms(secret)) {
      EXPECT_EQ(text.find(form), std::string::npos)
          << where << " holds a secret (as \"" << form << "\")";
    }
  }
}

}  // namespace crmsync::testing
