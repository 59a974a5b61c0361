// libFuzzer target: the journal verifier (state/journal_chain.h, what `crmsync journal verify`
// runs over the stored rows) and the journal's detail readers (is_json_object,
// journal_field_change). Input: one entry a line, its fields separated by tabs (kind, actor,
// object, record_id, source, event_id, policy, detail_json, recorded_at); optionally one tamper
// line: "!<entry> <field> <text>" (replace a field), "!drop <entry>", "!swap <entry> <entry>",
// "!head <seq>" or "!hash <entry> <hex>". The entries are chained with the real hash, then the
// tamper is applied.
// Invariants: an untouched chain is intact; a tampered one breaks exactly at the first entry the
// tamper changed; another key breaks at entry 1; a field change found in a detail is JSON text.
#include <rapidjson/document.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>

#include "state/journal.h"
#include "state/journal_chain.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace crmsync;
using state::JournalChainCheck;
using state::StoredJournalEntry;

const mapping::SecretString kKey("fuzz-journal-key-0123456789abcdef-0123456789");
const mapping::SecretString kOtherKey("other-journal-key-0123456789abcdef-012345678");
constexpr std::size_t kMaxEntries = 64;

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    std::size_t cut = text.find(separator);
    parts.push_back(text.substr(0, cut));
    if (cut == std::string_view::npos) return parts;
    text.remove_prefix(cut + 1);
  }
}

std::optional<long long> number(std::string_view text) {
  long long value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string* field_of(StoredJournalEntry& stored, long long index) {
  switch (index) {
    case 0: return &stored.entry.kind;
    case 1: return &stored.entry.actor;
    case 2: return &stored.entry.object;
    case 3: return &stored.entry.record_id;
    case 4: return &stored.entry.source;
    case 5: return &stored.entry.event_id;
    case 6: return &stored.entry.policy;
    case 7: return &stored.entry.detail_json;
    case 8: return &stored.recorded_at;
    default: return nullptr;
  }
}

state::JournalVerification verify(const mapping::SecretString& key, const std::vector<StoredJournalEntry>& entries,
                                  const state::JournalHead& head) {
  JournalChainCheck check(key, "fuzz.journal_head");
  for (const auto& stored : entries) {
    if (!check.next(stored)) break;
  }
  check.finish(head);
  return check.result();
}

void check_detail(const std::string& detail) {
  (void)state::is_json_object(detail);
  for (std::string_view field : {"amount", "stage", "", "fields"}) {
    auto change = state::journal_field_change(detail, field);
    if (!change) continue;
    rapidjson::Document value;
    value.Parse<rapidjson::kParseNumbersAsStringsFlag>(change->data(), change->size());
    CRMSYNC_FUZZ_CHECK(!value.HasParseError(), "journal_field_change returned text that is not one JSON value");
  }
}

// Applies the tamper line; the seq of the first entry it changed, or nothing when it changed
// nothing (or did not parse).
std::optional<long long> tamper(std::string_view line, std::vector<StoredJournalEntry>& entries, state::JournalHead& head) {
  auto words = split(line, ' ');
  auto index = [&](std::size_t at) -> std::optional<std::size_t> {
    if (at >= words.size()) return std::nullopt;
    auto value = number(words[at]);
    if (!value || *value < 0 || static_cast<std::size_t>(*value) >= entries.size()) return std::nullopt;
    return static_cast<std::size_t>(*value);
  };
  if (words[0] == "drop") {
    auto i = index(1);
    if (!i) return std::nullopt;
    entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(*i));
    return static_cast<long long>(*i) + 1;
  }
  if (words[0] == "swap") {
    auto i = index(1), j = index(2);
    if (!i || !j || *i == *j) return std::nullopt;
    std::swap(entries[*i], entries[*j]);
    return static_cast<long long>(std::min(*i, *j)) + 1;
  }
  if (words[0] == "head") {
    auto seq = words.size() > 1 ? number(words[1]) : std::nullopt;
    if (!seq || *seq == head.last_seq || *seq < 0) return std::nullopt;
    long long first_bad = std::min(*seq, head.last_seq) + 1;
    head.last_seq = *seq;
    return first_bad;
  }
  if (words[0] == "hash") {
    auto i = index(1);
    if (!i || words.size() < 3) return std::nullopt;
    auto bytes = state::journal_unhex(words[2]);
    auto old = state::journal_unhex(entries[*i].hash_hex);
    if (bytes && old && *bytes == *old) return std::nullopt;
    entries[*i].hash_hex = std::string(words[2]);
    return static_cast<long long>(*i) + 1;
  }
  auto i = index(0);
  auto field = words.size() > 1 ? number(words[1]) : std::nullopt;
  if (!i || !field) return std::nullopt;
  std::string* target = field_of(entries[*i], *field);
  std::size_t prefix = words[0].size() + words[1].size() + 2;
  std::string text(prefix <= line.size() ? line.substr(prefix) : std::string_view());
  if (target == nullptr || *target == text) return std::nullopt;
  *target = std::move(text);
  return static_cast<long long>(*i) + 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<StoredJournalEntry> entries;
  std::optional<std::string_view> tamper_line;
  std::string prev(32, '\0');
  for (std::string_view line : split(fuzz::as_text(data, size), '\n')) {
    if (line.starts_with("!")) {
      if (!tamper_line) tamper_line = line.substr(1);
      continue;
    }
    if (line.empty() || entries.size() >= kMaxEntries) continue;
    StoredJournalEntry stored;
    stored.seq = static_cast<long long>(entries.size()) + 1;
    stored.recorded_at = "2026-11-28T12:00:00.000001Z";
    auto fields = split(line, '\t');
    for (std::size_t f = 0; f < fields.size() && f < 9; ++f) *field_of(stored, static_cast<long long>(f)) = fields[f];
    std::string hash = state::journal_entry_hash(kKey, prev, stored.seq, stored.recorded_at, stored.entry);
    stored.prev_hash_hex = state::journal_hex(prev);
    stored.hash_hex = state::journal_hex(hash);
    prev = hash;
    check_detail(stored.entry.detail_json);
    entries.push_back(std::move(stored));
  }
  state::JournalHead head{static_cast<long long>(entries.size()), state::journal_hex(prev)};

  auto intact = verify(kKey, entries, head);
  CRMSYNC_FUZZ_CHECK(intact.intact, "an untouched chain is not intact: " + intact.reason);
  CRMSYNC_FUZZ_CHECK(intact.entries_checked == static_cast<long long>(entries.size()), "not every entry was checked");
  if (!entries.empty()) {
    auto other = verify(kOtherKey, entries, head);
    CRMSYNC_FUZZ_CHECK(!other.intact && other.first_bad_seq == 1, "another key does not break the chain at entry 1");
  }
  if (!tamper_line) return 0;
  auto first_changed = tamper(*tamper_line, entries, head);
  if (!first_changed) return 0;
  auto tampered = verify(kKey, entries, head);
  CRMSYNC_FUZZ_CHECK(!tampered.intact, "a tampered chain is intact");
  CRMSYNC_FUZZ_CHECK(tampered.first_bad_seq == *first_changed,
                     "the chain breaks at entry " + std::to_string(tampered.first_bad_seq.value_or(0)) +
                         ", not at the tampered entry " + std::to_string(*first_changed) + ": " + tampered.reason);
  CRMSYNC_FUZZ_CHECK(!tampered.reason.empty(), "a break without a reason");
  return 0;
}
