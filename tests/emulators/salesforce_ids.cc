#include "tests/emulators/salesforce_ids.h"

#include <cctype>

namespace crmsync::emulators {

namespace {
constexpr std::string_view kSuffixAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}
}  // namespace

std::string salesforce_id_suffix(std::string_view id15) {
  std::string suffix;
  for (int chunk = 0; chunk < 3; ++chunk) {
    int bits = 0;
    for (int i = 0; i < 5; ++i) {
      char c = id15[static_cast<std::size_t>(chunk * 5 + i)];
      if (c >= 'A' && c <= 'Z') bits |= 1 << i;
    }
    suffix.push_back(kSuffixAlphabet[static_cast<std::size_t>(bits)]);
  }
  return suffix;
}

std::string make_salesforce_id(std::string_view key_prefix, std::int64_t sequence) {
  std::string digits(10, '0');
  auto n = static_cast<std::uint64_t>(sequence);
  for (int i = 9; i >= 0 && n > 0; --i) {
    digits[static_cast<std::size_t>(i)] = kBase62[n % 62];
    n /= 62;
  }
  std::string id15 = std::string(key_prefix) + "5g" + digits;
  return id15 + salesforce_id_suffix(id15);
}

std::optional<std::string> normalize_salesforce_id(std::string_view id) {
  if (id.size() != 15 && id.size() != 18) return std::nullopt;
  for (char c : id) {
    if (!is_alnum(c)) return std::nullopt;
  }
  if (id.size() == 15) return std::string(id) + salesforce_id_suffix(id);
  std::string out(id.substr(0, 15));
  for (int chunk = 0; chunk < 3; ++chunk) {
    char s = static_cast<char>(
        std::toupper(static_cast<unsigned char>(id[static_cast<std::size_t>(15 + chunk)])));
    auto bits = kSuffixAlphabet.find(s);
    if (bits == std::string_view::npos) return std::nullopt;
    for (int i = 0; i < 5; ++i) {
      char& c = out[static_cast<std::size_t>(chunk * 5 + i)];
      if (std::isalpha(static_cast<unsigned char>(c))) {
        c = (bits >> i) & 1 ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                            : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      } else if ((bits >> i) & 1) {
        return std::nullopt;  // the suffix claims an upper-case letter where there is none
      }
    }
  }
  return out + salesforce_id_suffix(out);
}

}  // namespace crmsync::emulators
