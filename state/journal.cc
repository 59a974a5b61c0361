#include "state/journal.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <rapidjson/document.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <limits>

#include "state/journal_chain.h"
#include "state/migrations.h"

namespace crmsync::state {

namespace {

using mapping::ErrorClass;
using mapping::SyncError;

constexpr std::size_t kHashSize = 32;  // HMAC-SHA-256
constexpr std::size_t kInsertRowsPerStatement =
    400;  // 12 parameters a row, far below libpq's 65535
constexpr std::size_t kVerifyPageRows = 1000;
constexpr std::size_t kExplainPageRows = 200;

constexpr std::array kKinds = {
    "applied",  "echo_skipped", "superseded",    "conflict", "conflict_resolved",
    "parked",   "unparked",     "dead_lettered", "denied",   "delete_held",
    "operator", "secret",       "rebaseline",    "sharing",  "reconcile"};
constexpr std::array kSources = {"prm", "salesforce", "dynamics", "operator", "daemon"};

// A timestamptz expression as text that does not depend on the session's TimeZone or DateStyle:
// RFC 3339 UTC with microseconds. This text is what is hashed, written and read back.
std::string recorded_at_text(std::string_view expression) {
  return "to_char(" + std::string(expression) +
         " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
}

SyncError invalid(std::string message) {
  return {ErrorClass::invalid, std::move(message)};
}
SyncError fatal(std::string message) {
  return {ErrorClass::fatal, std::move(message)};
}

std::optional<SyncError> key_problem(const mapping::SecretString& key) {
  if (key.reveal().size() < kJournalKeyMinBytes) {
    return fatal(
        fmt::format("journal key: {} bytes is too short; it must have at least {} bytes (base64 of "
                    "random bytes, e.g. `openssl rand -base64 32`)",
                    key.reveal().size(), kJournalKeyMinBytes));
  }
  return std::nullopt;
}

std::optional<SyncError> entry_problem(const JournalEntry& entry, std::size_t index) {
  if (!is_journal_kind(entry.kind)) {
    return invalid(fmt::format("journal entry {}: unknown kind \"{}\"", index, entry.kind));
  }
  if (!is_journal_source(entry.source)) {
    return invalid(fmt::format("journal entry {} ({}): unknown source \"{}\"", index, entry.kind,
                               entry.source));
  }
  if (entry.actor.empty())
    return invalid(fmt::format("journal entry {} ({}): empty actor", index, entry.kind));
  if (entry.record_id.empty() != entry.object.empty()) {
    return invalid(fmt::format(
        "journal entry {} ({}): object \"{}\" and record id must be both set or both empty", index,
        entry.kind, entry.object));
  }
  if (!is_json_object(entry.detail_json)) {
    return invalid(fmt::format("journal entry {} ({} {}:{}): detail is not a JSON object", index,
                               entry.kind, entry.object, entry.record_id));
  }
  return std::nullopt;
}

std::string selected_columns() {
  return "seq, " + recorded_at_text("recorded_at") +
         ", kind, actor, object, record_id, source, event_id, policy, detail, "
         "encode(prev_hash, 'hex'), encode(hash, 'hex')";
}

StoredJournalEntry stored_entry_of(const QueryRow& row) {
  auto text = [&](std::size_t i) { return row.at(i).value_or(""); };
  StoredJournalEntry stored;
  stored.seq = std::stoll(text(0));
  stored.recorded_at = text(1);
  stored.entry = {text(2), text(3), text(4), text(5), text(6), text(7), text(8), text(9)};
  stored.prev_hash_hex = text(10);
  stored.hash_hex = text(11);
  return stored;
}

// A read-only rapidjson input stream over a string_view. Unlike rapidjson::StringStream, the
// reader does not copy it while parsing a token, so Tell() is exact at every handler call.
class PositionStream {
 public:
  using Ch = char;
  explicit PositionStream(std::string_view text) : text_(text) {}
  Ch Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  Ch Take() { return pos_ < text_.size() ? text_[pos_++] : '\0'; }
  std::size_t Tell() const { return pos_; }
  // Output side: never used by the reader without kParseInsituFlag.
  Ch* PutBegin() { return nullptr; }
  void Put(Ch) {}
  void Flush() {}
  std::size_t PutEnd(Ch*) { return 0; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// Finds the raw text of detail.fields.<field> while rapidjson's SAX reader walks the detail: the
// stream position after the key and after the value bound it, so numbers keep their exact text.
class FieldSpanFinder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, FieldSpanFinder> {
 public:
  FieldSpanFinder(const PositionStream& stream, std::string_view field)
      : stream_(stream), field_(field) {}

  bool StartObject() {
    if (depth_ == 0) root_is_object_ = true;
    ++depth_;
    if (depth_ == 2 && key_at_root_ == "fields") in_fields_ = true;
    return true;
  }
  bool EndObject(rapidjson::SizeType) { return end_container(); }
  bool StartArray() {
    ++depth_;
    return true;
  }
  bool EndArray(rapidjson::SizeType) { return end_container(); }
  bool Key(const char* text, rapidjson::SizeType length, bool) {
    std::string_view key(text, length);
    if (depth_ == 1) key_at_root_ = std::string(key);
    if (depth_ == 2 && in_fields_ && key == field_) start_ = stream_.Tell();
    return true;
  }
  bool Default() {  // every scalar value
    value_ended();
    return true;
  }
  bool String(const char*, rapidjson::SizeType, bool) { return Default(); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return Default(); }

  bool root_is_object() const { return root_is_object_; }
  std::optional<std::pair<std::size_t, std::size_t>> span() const { return span_; }

 private:
  bool end_container() {
    --depth_;
    if (depth_ == 1) in_fields_ = false;
    value_ended();
    return true;
  }
  void value_ended() {
    if (start_ && depth_ == 2 && in_fields_) {
      span_ = std::make_pair(*start_, stream_.Tell());
      start_.reset();
    }
  }

  const PositionStream& stream_;
  std::string_view field_;
  int depth_ = 0;
  bool root_is_object_ = false;
  bool in_fields_ = false;
  std::string key_at_root_;
  std::optional<std::size_t> start_;
  std::optional<std::pair<std::size_t, std::size_t>> span_;
};

std::string journal_table(const std::string& schema) {
  return schema + ".journal";
}
std::string head_table(const std::string& schema) {
  return schema + ".journal_head";
}

}  // namespace

bool is_journal_kind(std::string_view kind) {
  return std::find(kKinds.begin(), kKinds.end(), kind) != kKinds.end();
}

bool is_journal_source(std::string_view source) {
  return std::find(kSources.begin(), kSources.end(), source) != kSources.end();
}

bool is_json_object(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return false;  // rapidjson would stop there
  rapidjson::Document document;
  document.Parse(text.data(), text.size());
  return !document.HasParseError() && document.IsObject();
}

std::optional<std::string> journal_field_change(std::string_view detail_json,
                                                std::string_view field) {
  PositionStream stream(detail_json);
  FieldSpanFinder finder(stream, field);
  rapidjson::Reader reader;
  if (reader.Parse<rapidjson::kParseNumbersAsStringsFlag>(stream, finder).IsError() ||
      !finder.root_is_object()) {
    return std::nullopt;
  }
  auto span = finder.span();
  if (!span) return std::nullopt;
  std::string_view raw = detail_json.substr(span->first, span->second - span->first);
  std::size_t value_start = raw.find_first_not_of(" \t\r\n:");
  if (value_start == std::string_view::npos) return std::nullopt;
  return std::string(raw.substr(value_start));
}

mapping::Result<mapping::SecretString> decode_journal_key(
    const mapping::SecretString& base64_text) {
  std::string compact;
  compact.reserve(base64_text.reveal().size());
  for (char c : base64_text.reveal()) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') compact.push_back(c);
  }
  mapping::SecretString compact_secret(std::move(compact));
  const std::string& text = compact_secret.reveal();
  auto help = fmt::format(
      "it must be base64 of at least {} random bytes, e.g. from `openssl rand -base64 32`",
      kJournalKeyMinBytes);
  if (text.empty() || text.size() % 4 != 0) return invalid("journal key: not base64; " + help);
  std::string decoded(text.size(), '\0');
  int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                               reinterpret_cast<const unsigned char*>(text.data()),
                               static_cast<int>(text.size()));
  mapping::SecretString decoded_secret(std::move(decoded));
  if (length < 0) return invalid("journal key: not base64; " + help);
  // EVP_DecodeBlock counts padding as data.
  std::size_t padding = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
  auto size = static_cast<std::size_t>(length) - padding;
  if (size < kJournalKeyMinBytes) {
    return invalid(fmt::format("journal key: {} bytes is too short; {}", size, help));
  }
  return mapping::SecretString(decoded_secret.reveal().substr(0, size));
}

mapping::Status append_journal(const StateDatabase::Executor& execute, const std::string& schema,
                               const mapping::SecretString& key,
                               const std::vector<JournalEntry>& entries) {
  if (!is_valid_schema_name(schema))
    return fatal(fmt::format("journal: invalid state schema name \"{}\"", schema));
  if (auto problem = key_problem(key)) return *problem;
  if (entries.empty()) return mapping::ok_status();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (auto problem = entry_problem(entries[i], i)) return *problem;
  }

  // The lock that makes one chain of every appender; held until the caller's transaction ends.
  auto head = execute(
      "SELECT last_seq, encode(last_hash, 'hex') FROM " + head_table(schema) + " FOR UPDATE", {});
  if (!head) return head.error();
  if (head.value().size() != 1) {
    return fatal(fmt::format(
        "journal: {} has no row, so nothing can be appended; the journal was tampered with: "
        "run `crmsync journal verify`",
        head_table(schema)));
  }
  long long seq = std::stoll(head.value()[0][0].value_or("0"));
  auto prev_hash = journal_unhex(head.value()[0][1].value_or(""));
  if (!prev_hash || prev_hash->size() != kHashSize) {
    return fatal(fmt::format("journal: {} holds a malformed hash; run `crmsync journal verify`",
                             head_table(schema)));
  }
  // Taken after the lock is held, so recorded_at grows with seq (as far as the clock does).
  auto now = execute("SELECT " + recorded_at_text("clock_timestamp()"), {});
  if (!now) return now.error();
  const std::string recorded_at = now.value().at(0).at(0).value_or("");

  std::string hash;
  for (std::size_t begin = 0; begin < entries.size(); begin += kInsertRowsPerStatement) {
    std::size_t end = std::min(entries.size(), begin + kInsertRowsPerStatement);
    std::string sql =
        "INSERT INTO " + journal_table(schema) +
        " (seq, recorded_at, kind, actor, object, record_id, source, event_id, policy, detail, "
        "prev_hash, hash) VALUES ";
    QueryRow params;
    params.reserve((end - begin) * 12);
    for (std::size_t i = begin; i < end; ++i) {
      const JournalEntry& entry = entries[i];
      ++seq;
      hash = journal_entry_hash(key, *prev_hash, seq, recorded_at, entry);
      std::size_t p = params.size();
      sql += fmt::format(
          "{}(${}::bigint, ${}::timestamptz, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, decode(${}, "
          "'hex'), "
          "decode(${}, 'hex'))",
          i == begin ? "" : ", ", p + 1, p + 2, p + 3, p + 4, p + 5, p + 6, p + 7, p + 8, p + 9,
          p + 10, p + 11, p + 12);
      for (std::string value :
           {std::to_string(seq), recorded_at, entry.kind, entry.actor, entry.object,
            entry.record_id, entry.source, entry.event_id, entry.policy, entry.detail_json,
            journal_hex(*prev_hash), journal_hex(hash)}) {
        params.emplace_back(std::move(value));
      }
      *prev_hash = hash;
    }
    auto inserted = execute(sql, params);
    if (!inserted) return inserted.error();
  }
  auto moved = execute(
      "UPDATE " + head_table(schema) + " SET last_seq = $1::bigint, last_hash = decode($2, 'hex')",
      {std::to_string(seq), journal_hex(hash)});
  if (!moved) return moved.error();
  return mapping::ok_status();
}

mapping::Status append_journal(StateDatabase& db, const mapping::SecretString& key,
                               const std::vector<JournalEntry>& entries) {
  return db.in_transaction([&](const StateDatabase::Executor& execute) {
    return append_journal(execute, db.schema(), key, entries);
  });
}

mapping::Result<JournalVerification> verify_journal(StateDatabase& db,
                                                    const mapping::SecretString& key) {
  if (auto problem = key_problem(key)) return *problem;
  const std::string& schema = db.schema();
  if (!is_valid_schema_name(schema))
    return fatal(fmt::format("journal: invalid state schema name \"{}\"", schema));
  JournalChainCheck check(key, head_table(schema));

  mapping::Status walked = db.in_transaction([&](const StateDatabase::Executor& execute)
                                                 -> mapping::Status {
    // One snapshot for the head and every page: entries appended meanwhile are simply not seen.
    if (auto set = execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", {}); !set)
      return set.error();
    auto head = execute("SELECT last_seq, encode(last_hash, 'hex') FROM " + head_table(schema), {});
    if (!head) return head.error();

    const std::string sql = "SELECT " + selected_columns() + " FROM " + journal_table(schema) +
                            " WHERE seq > $1::bigint ORDER BY seq LIMIT " +
                            std::to_string(kVerifyPageRows);
    while (true) {
      auto page = execute(sql, {std::to_string(check.last_seq())});
      if (!page) return page.error();
      for (const QueryRow& row : page.value()) {
        if (!check.next(stored_entry_of(row))) return mapping::ok_status();
      }
      if (page.value().size() < kVerifyPageRows) break;
    }

    std::optional<JournalHead> stored_head;
    if (head.value().size() == 1) {
      stored_head = JournalHead{std::stoll(head.value()[0][0].value_or("0")),
                                head.value()[0][1].value_or("")};
    }
    check.finish(stored_head);
    return mapping::ok_status();
  });
  if (!walked) return walked.error();
  return check.result();
}

mapping::Result<std::vector<StoredJournalEntry>> journal_for_record(StateDatabase& db,
                                                                    const std::string& object,
                                                                    const std::string& record_id,
                                                                    std::size_t limit) {
  if (object.empty() || record_id.empty())
    return invalid("journal: a record is named by an object and an id");
  std::vector<StoredJournalEntry> entries;
  if (limit == 0) return entries;
  auto rows = db.execute(
      "SELECT * FROM (SELECT " + selected_columns() + " FROM " + journal_table(db.schema()) +
          " WHERE object = $1 AND record_id = $2 AND record_id <> '' ORDER BY seq DESC "
          "LIMIT $3::bigint) newest ORDER BY seq",
      {object, record_id, std::to_string(limit)});
  if (!rows) return rows.error();
  entries.reserve(rows.value().size());
  for (const QueryRow& row : rows.value()) entries.push_back(stored_entry_of(row));
  return entries;
}

mapping::Result<std::optional<StoredJournalEntry>> explain_field(StateDatabase& db,
                                                                 const std::string& object,
                                                                 const std::string& record_id,
                                                                 const std::string& field) {
  if (object.empty() || record_id.empty())
    return invalid("journal: a record is named by an object and an id");
  if (field.empty()) return invalid("journal: which field? the field name is empty");
  // Newest first, a page at a time; the detail is read here rather than cast to jsonb in SQL, so
  // that one damaged row cannot make the question fail.
  const std::string sql =
      "SELECT " + selected_columns() + " FROM " + journal_table(db.schema()) +
      " WHERE object = $1 AND record_id = $2 AND record_id <> '' AND seq < $3::bigint"
      " AND kind IN ('applied', 'conflict_resolved', 'operator') ORDER BY seq DESC LIMIT " +
      std::to_string(kExplainPageRows);
  long long before = std::numeric_limits<long long>::max();
  while (true) {
    auto rows = db.execute(sql, {object, record_id, std::to_string(before)});
    if (!rows) return rows.error();
    for (const QueryRow& row : rows.value()) {
      StoredJournalEntry stored = stored_entry_of(row);
      if (journal_field_change(stored.entry.detail_json, field))
        return std::optional<StoredJournalEntry>(stored);
      before = stored.seq;
    }
    if (rows.value().size() < kExplainPageRows) return std::optional<StoredJournalEntry>();
  }
}

}  // namespace crmsync::state
