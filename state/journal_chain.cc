#include "state/journal_chain.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstdint>
#include <stdexcept>

namespace crmsync::state {

namespace {

constexpr std::size_t kHashSize = 32;
constexpr std::string_view kEncodingVersion = "crmsync.journal.v1";

// Appends one field, length-prefixed (8 bytes, big-endian), so that no two different entries
// encode to the same bytes however their fields are split.
void append_field(std::string& out, std::string_view field) {
  auto length = static_cast<std::uint64_t>(field.size());
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((length >> shift) & 0xff));
  out.append(field);
}

std::string canonical_encoding(long long seq, std::string_view recorded_at,
                               const JournalEntry& entry) {
  std::string out;
  out.reserve(160 + entry.detail_json.size());
  append_field(out, kEncodingVersion);
  append_field(out, std::to_string(seq));
  append_field(out, recorded_at);
  for (const std::string* field :
       {&entry.kind, &entry.actor, &entry.object, &entry.record_id, &entry.source, &entry.event_id,
        &entry.policy, &entry.detail_json}) {
    append_field(out, *field);
  }
  return out;
}

bool same_bytes(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string journal_entry_hash(const mapping::SecretString& key, std::string_view prev_hash, long long seq,
                               std::string_view recorded_at, const JournalEntry& entry) {
  std::string message(prev_hash);
  message += canonical_encoding(seq, recorded_at, entry);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  const std::string& secret = key.reveal();
  unsigned char* done = HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
                             reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                             digest.data(), &length);
  if (done == nullptr || length != kHashSize)
    throw std::runtime_error("HMAC-SHA-256 failed in OpenSSL");
  return {reinterpret_cast<const char*>(digest.data()), length};
}

std::string journal_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char byte : bytes) {
    out.push_back(kDigits[byte >> 4]);
    out.push_back(kDigits[byte & 0x0f]);
  }
  return out;
}

std::optional<std::string> journal_unhex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int high = nibble(hex[i]);
    int low = nibble(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>((high << 4) | low));
  }
  return out;
}

JournalChainCheck::JournalChainCheck(const mapping::SecretString& key, std::string head_name)
    : key_(key), head_name_(std::move(head_name)), last_hash_(kHashSize, '\0') {}

bool JournalChainCheck::broke(long long seq, std::string reason) {
  result_.intact = false;
  result_.first_bad_seq = seq;
  result_.reason = std::move(reason);
  return false;
}

bool JournalChainCheck::next(const StoredJournalEntry& stored) {
  if (broken()) return false;
  ++result_.entries_checked;
  long long expected = last_seq_ + 1;
  if (stored.seq > expected) {
    return broke(expected,
                 fmt::format("journal entry {} is missing (the entry after {} is {}): entries were "
                             "deleted",
                             expected, last_seq_, stored.seq));
  }
  if (stored.seq != expected) {
    return broke(stored.seq,
                 fmt::format("journal entry {} is out of place (expected {})", stored.seq, expected));
  }
  auto prev_hash = journal_unhex(stored.prev_hash_hex);
  if (!prev_hash || !same_bytes(*prev_hash, last_hash_)) {
    return broke(stored.seq,
                 fmt::format("journal entry {} does not follow entry {} (its prev_hash is not "
                             "that entry's hash): entries were deleted, reordered or replaced",
                             stored.seq, last_seq_));
  }
  auto hash = journal_unhex(stored.hash_hex);
  if (!hash ||
      !same_bytes(*hash, journal_entry_hash(key_, *prev_hash, stored.seq, stored.recorded_at, stored.entry))) {
    return broke(stored.seq,
                 fmt::format("journal entry {} does not match its hash: it was changed, or the "
                             "journal key is not the one it was written with",
                             stored.seq));
  }
  last_seq_ = stored.seq;
  last_hash_ = std::move(*hash);
  return true;
}

void JournalChainCheck::finish(const std::optional<JournalHead>& head) {
  if (broken()) return;
  if (!head) {
    broke(last_seq_ + 1,
          fmt::format("the journal head ({}) is missing; the last entry is {}", head_name_, last_seq_));
    return;
  }
  if (head->last_seq > last_seq_) {
    broke(last_seq_ + 1,
          fmt::format("journal entries {} to {} are missing: the head records {} entries but "
                      "the journal ends at {}",
                      last_seq_ + 1, head->last_seq, head->last_seq, last_seq_));
    return;
  }
  if (head->last_seq < last_seq_) {
    broke(head->last_seq + 1,
          fmt::format("journal entry {} is beyond the head (which records {}): entries were "
                      "added outside crmsync or the head was rewound",
                      head->last_seq + 1, head->last_seq));
    return;
  }
  auto head_hash = journal_unhex(head->last_hash_hex);
  if (!head_hash || !same_bytes(*head_hash, last_hash_)) {
    broke(last_seq_,
          fmt::format("the journal head's hash does not match entry {}: the head or the last "
                      "entry was replaced",
                      last_seq_));
  }
}

}  // namespace crmsync::state
