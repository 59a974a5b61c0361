// Salesforce sObject Collections (/composite/sobjects) and /composite with referenceId
// substitution and allOrNone rollback.

#include <fmt/format.h>

#include <regex>
#include <set>

#include "tests/emulators/json_util.h"
#include "tests/emulators/salesforce_api.h"
#include "tests/emulators/salesforce_ids.h"
#include "tests/emulators/salesforce_responses.h"

namespace crmsync::emulators {

namespace {

constexpr std::size_t kMaxCollection = 200;
constexpr std::size_t kMaxSubrequests = 25;

const SalesforceError kRolledBack{
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
    {}};

HttpResponse too_many() {
  return salesforce_error(
      400, "EXCEEDED_ID_LIMIT",
      "record limit reached. cannot submit more than 200 records into this call");
}

std::vector<std::string> split_ids(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    auto comma = text.find(',', start);
    out.push_back(
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Follows "records[0].Id" through a JSON value.
const rapidjson::Value* follow(const rapidjson::Value& root, const std::string& path) {
  const rapidjson::Value* at = &root;
  std::size_t pos = 0;
  while (pos < path.size() && at != nullptr) {
    auto next = path.find_first_of(".[", pos);
    std::string name = path.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    if (!name.empty()) {
      if (!at->IsObject() || !at->HasMember(name.c_str())) return nullptr;
      at = &(*at)[name.c_str()];
    }
    if (next == std::string::npos) break;
    if (path[next] == '[') {
      auto close = path.find(']', next);
      if (close == std::string::npos) return nullptr;
      auto index =
          static_cast<rapidjson::SizeType>(std::strtoul(path.c_str() + next + 1, nullptr, 10));
      if (!at->IsArray() || index >= at->Size()) return nullptr;
      at = &(*at)[index];
      pos = close + 1;
      if (pos < path.size() && path[pos] == '.') ++pos;
    } else {
      pos = next + 1;
    }
  }
  return at;
}

}  // namespace

HttpResponse SalesforceApi::collections(const SalesforceCall& call) {
  const auto& s = call.segments;
  auto results_response = [](const std::vector<std::string>& results) {
    std::string body = "[";
    for (std::size_t i = 0; i < results.size(); ++i) body += (i ? "," : "") + results[i];
    return salesforce_json(200, body + "]");
  };

  if (s.size() == 2 && call.method == "DELETE") {
    auto ids = split_ids(call.query.count("ids") ? call.query.at("ids") : "");
    if (ids.empty())
      return salesforce_error(400, "MALFORMED_ID",
                              "ids: a comma-separated list of ids is required");
    if (ids.size() > kMaxCollection) return too_many();
    bool all_or_none = force_all_or_none_ ||
                       (call.query.count("allOrNone") && call.query.at("allOrNone") == "true");
    RecordStore saved = store_;
    std::vector<WriteOutcome> outcomes;
    for (const auto& raw : ids) {
      auto id = normalize_salesforce_id(raw);
      WriteOutcome outcome;
      if (!id) {
        outcome.errors.push_back({"MALFORMED_ID", "malformed id " + raw, {}});
      } else {
        outcome = remove(*id);
        outcome.id = *id;
      }
      outcomes.push_back(std::move(outcome));
    }
    return finish_collection(call, outcomes, all_or_none, saved, false);
  }

  if (s.size() == 2 && (call.method == "POST" || call.method == "PATCH")) {
    auto doc = parse_json(call.body);
    if (!doc || !doc->IsObject() || !doc->HasMember("records") || !(*doc)["records"].IsArray()) {
      return salesforce_error(400, "JSON_PARSER_ERROR",
                              "Expected a body of {\"allOrNone\":bool,\"records\":[...]}");
    }
    auto& records = (*doc)["records"];
    if (records.Size() > kMaxCollection) return too_many();
    bool all_or_none = force_all_or_none_ || bool_member(*doc, "allOrNone", false);
    RecordStore saved = store_;
    std::vector<WriteOutcome> outcomes;
    for (auto& record : records.GetArray()) {
      WriteOutcome outcome;
      std::string type = record.IsObject() && record.HasMember("attributes")
                             ? string_member(record["attributes"], "type")
                             : "";
      ObjectTable* table = type.empty() ? nullptr : store_.table(type);
      if (table == nullptr) {
        outcome.errors.push_back({"INVALID_TYPE", "Must send a concrete entity type.", {}});
      } else if (call.method == "POST") {
        if (record.HasMember("id") || record.HasMember("Id")) {
          outcome.errors.push_back(
              {"INVALID_FIELD", "cannot specify Id in an insert call", {"Id"}});
        } else {
          outcome = create(*table, to_json(record));
        }
      } else {
        std::string raw = string_member(record, "id", string_member(record, "Id"));
        auto id = normalize_salesforce_id(raw);
        if (raw.empty()) {
          outcome.errors.push_back({"MISSING_ARGUMENT", "Id not specified in an update call", {}});
        } else if (!id || id->compare(0, 3, table->def.key_prefix) != 0) {
          outcome.errors.push_back({"MALFORMED_ID",
                                    table->def.label + " ID: id value of incorrect type: " + raw,
                                    {"Id"}});
        } else {
          rapidjson::Document copy;
          copy.CopyFrom(record, copy.GetAllocator());
          copy.RemoveMember("id");
          outcome = update(*table, *id, to_json(copy));
          outcome.id = *id;
        }
      }
      outcomes.push_back(std::move(outcome));
    }
    return finish_collection(call, outcomes, all_or_none, saved, false);
  }

  if (s.size() == 3) {
    ObjectTable* table = store_.table(s[2]);
    if (table == nullptr)
      return salesforce_error(404, "NOT_FOUND", "The requested resource does not exist");
    std::vector<std::string> ids, fields;
    if (call.method == "GET") {
      ids = split_ids(call.query.count("ids") ? call.query.at("ids") : "");
      fields = split_ids(call.query.count("fields") ? call.query.at("fields") : "");
    } else if (call.method == "POST") {
      auto doc = parse_json(call.body);
      if (!doc || !doc->IsObject())
        return salesforce_error(400, "JSON_PARSER_ERROR",
                                "Expected {\"ids\":[...],\"fields\":[...]}");
      for (const char* key : {"ids", "fields"}) {
        if (doc->HasMember(key) && (*doc)[key].IsArray()) {
          for (auto& v : (*doc)[key].GetArray()) {
            if (v.IsString()) (key[0] == 'i' ? ids : fields).emplace_back(v.GetString());
          }
        }
      }
    } else {
      return salesforce_error(
          405, "METHOD_NOT_ALLOWED",
          "HTTP Method '" + call.method + "' not allowed. Allowed are GET,POST");
    }
    if (ids.empty() || fields.empty())
      return salesforce_error(400, "MALFORMED_QUERY", "ids and fields are required");
    if (ids.size() > kMaxCollection) return too_many();
    std::vector<std::string> canonical{"Id"};
    for (const auto& name : fields) {
      const FieldDef* f = table->def.field(name);
      if (f == nullptr)
        return salesforce_error(
            400, "INVALID_FIELD",
            "No such column '" + name + "' on entity '" + table->def.name + "'.");
      if (f->name != "Id") canonical.push_back(f->name);
    }
    std::vector<std::string> results;
    for (const auto& raw : ids) {
      auto id = normalize_salesforce_id(raw);
      const Record* r = id ? table->find(*id) : nullptr;
      results.push_back(r == nullptr ? "null" : record_json(*table, *r, canonical, call.version));
    }
    return results_response(results);
  }

  if (s.size() == 4 && call.method == "PATCH") {
    ObjectTable* table = store_.table(s[2]);
    if (table == nullptr)
      return salesforce_error(404, "NOT_FOUND", "The requested resource does not exist");
    const FieldDef* f = table->def.field(s[3]);
    if (f == nullptr || !f->external_id) {
      return salesforce_error(
          404, "NOT_FOUND",
          "Provided external ID field does not exist or is not accessible: " + s[3]);
    }
    auto doc = parse_json(call.body);
    if (!doc || !doc->IsObject() || !doc->HasMember("records") || !(*doc)["records"].IsArray()) {
      return salesforce_error(400, "JSON_PARSER_ERROR",
                              "Expected a body of {\"allOrNone\":bool,\"records\":[...]}");
    }
    auto& records = (*doc)["records"];
    if (records.Size() > kMaxCollection) return too_many();
    bool all_or_none = force_all_or_none_ || bool_member(*doc, "allOrNone", false);
    RecordStore saved = store_;
    std::vector<WriteOutcome> outcomes;
    ExternalIdIndex index = index_external_id(*table, f->name);
    for (auto& record : records.GetArray()) {
      WriteOutcome outcome;
      std::string type = record.IsObject() && record.HasMember("attributes")
                             ? string_member(record["attributes"], "type")
                             : table->def.name;
      std::string value = record.IsObject() ? string_member(record, f->name.c_str()) : "";
      if (!iequals(type, table->def.name)) {
        outcome.errors.push_back(
            {"INVALID_TYPE", "Records of one type only: " + table->def.name, {}});
      } else if (value.empty()) {
        outcome.errors.push_back({"MISSING_ARGUMENT", f->name + " not specified", {}});
      } else {
        rapidjson::Document copy;
        copy.CopyFrom(record, copy.GetAllocator());
        copy.RemoveMember("attributes");
        outcome = upsert(*table, f->name, value, to_json(copy), false, &index);
        if (outcome.status == 300) {
          outcome.errors = {{"DUPLICATE_EXTERNAL_ID",
                             "Foreign key external ID: " + value + " matched more than one record",
                             {}}};
          outcome.id.clear();
        }
      }
      outcomes.push_back(std::move(outcome));
    }
    return finish_collection(call, outcomes, all_or_none, saved, true);
  }
  return salesforce_error(
      405, "METHOD_NOT_ALLOWED",
      "HTTP Method '" + call.method + "' not allowed. Allowed are GET,POST,PATCH,DELETE");
}

HttpResponse SalesforceApi::finish_collection(const SalesforceCall& call,
                                              std::vector<WriteOutcome>& outcomes, bool all_or_none,
                                              RecordStore& saved, bool with_created) {
  (void)call;
  bool failed = false;
  for (const auto& o : outcomes) failed |= !o.errors.empty();
  if (failed && all_or_none) {
    store_ = std::move(saved);
    for (auto& o : outcomes) {
      if (o.errors.empty()) o.errors.push_back(kRolledBack);
    }
  }
  std::size_t written = 0;
  std::string body = "[";
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    auto& o = outcomes[i];
    if (o.errors.empty()) ++written;
    bool created = o.errors.empty() && o.created;
    std::string id = o.errors.empty() || !all_or_none ? o.id : std::string();
    body += (i ? "," : "") + salesforce_save_result(id, o.errors, with_created, created);
  }
  if (written > 0) count_write(written);
  return salesforce_json(200, body + "]");
}

HttpResponse SalesforceApi::composite(const SalesforceCall& call) {
  if (call.method != "POST") {
    return salesforce_error(405, "METHOD_NOT_ALLOWED",
                            "HTTP Method '" + call.method + "' not allowed. Allowed are POST");
  }
  auto doc = parse_json(call.body);
  if (!doc || !doc->IsObject() || !doc->HasMember("compositeRequest") ||
      !(*doc)["compositeRequest"].IsArray()) {
    return salesforce_error(400, "JSON_PARSER_ERROR",
                            "compositeRequest: expected an array of subrequests");
  }
  auto& requests = (*doc)["compositeRequest"];
  if (requests.Size() > kMaxSubrequests) {
    return salesforce_error(400, "LIMIT_EXCEEDED",
                            "Limit Exceeded: a composite request may hold at most 25 subrequests");
  }
  std::set<std::string> ids;
  int heavy = 0;
  static const std::regex kRefId("^[A-Za-z0-9_]+$");
  for (auto& r : requests.GetArray()) {
    std::string ref = string_member(r, "referenceId");
    std::string method = string_member(r, "method");
    std::string url = string_member(r, "url");
    if (ref.empty() || method.empty() || url.empty()) {
      return salesforce_error(400, "JSON_PARSER_ERROR",
                              "each subrequest needs method, url and referenceId");
    }
    if (!std::regex_match(ref, kRefId) || !ids.insert(ref).second) {
      return salesforce_error(400, "INVALID_INPUT",
                              "referenceId must be unique and alphanumeric: " + ref);
    }
    if (url.find("/query") != std::string::npos ||
        url.find("/composite/sobjects") != std::string::npos)
      ++heavy;
  }
  if (heavy > 5) {
    return salesforce_error(
        400, "LIMIT_EXCEEDED",
        "a composite request may hold at most 5 query or collection subrequests");
  }
  bool all_or_none = bool_member(*doc, "allOrNone", false);
  RecordStore saved = store_;
  std::map<std::string, rapidjson::Document> results;
  std::set<std::string> failed_refs;
  std::vector<std::string> parts;
  bool halted = false;
  static const std::regex kReference(R"(@\{([A-Za-z0-9_]+)\.([^}]+)\})");
  const std::string halted_body =
      R"([{"errorCode":"PROCESSING_HALTED","message":"The transaction was rolled back since another operation in the same transaction failed."}])";
  auto part = [](const std::string& body, int status, const std::string& ref,
                 const std::string& location) {
    std::string headers = location.empty() ? "{}" : R"({"Location":")" + location + "\"}";
    return fmt::format(R"({{"body":{},"httpHeaders":{},"httpStatusCode":{},"referenceId":"{}"}})",
                       body.empty() ? "null" : body, headers, status, ref);
  };
  force_all_or_none_ = all_or_none;
  in_composite_ = true;
  composite_writes_ = 0;
  for (auto& r : requests.GetArray()) {
    std::string ref = string_member(r, "referenceId");
    if (halted) {
      parts.push_back(part(halted_body, 400, ref, ""));
      continue;
    }
    std::string body = r.HasMember("body") ? to_json(r["body"]) : "";
    std::string url = string_member(r, "url");
    bool dependency_failed = false;
    std::string problem;
    auto substitute = [&](std::string text) {
      std::string out;
      auto begin = std::sregex_iterator(text.begin(), text.end(), kReference);
      std::size_t last = 0;
      for (auto it = begin; it != std::sregex_iterator(); ++it) {
        out += text.substr(last, static_cast<std::size_t>(it->position()) - last);
        last = static_cast<std::size_t>(it->position() + it->length());
        std::string target = (*it)[1], path = (*it)[2];
        if (failed_refs.count(target)) {
          dependency_failed = true;
          continue;
        }
        auto found = results.find(target);
        const rapidjson::Value* v = found == results.end() ? nullptr : follow(found->second, path);
        if (v == nullptr || !(v->IsString() || v->IsNumber())) {
          problem = "Invalid reference specified. No value for " + path + " found in " + target +
                    ". Provided referenceId ('" + target +
                    "') must match a referenceId of a previous subrequest.";
          continue;
        }
        out += v->IsString() ? std::string(v->GetString()) : format_number(v->GetDouble());
      }
      return out + text.substr(last);
    };
    url = substitute(url);
    body = substitute(body);
    HttpResponse sub;
    if (dependency_failed) {
      sub = salesforce_json(400, halted_body);
    } else if (!problem.empty()) {
      sub = salesforce_error(400, "INVALID_REFERENCE", problem);
    } else {
      SalesforceCall subcall;
      subcall.method = string_member(r, "method");
      subcall.outer = call.outer;
      subcall.body = body;
      auto q = url.find('?');
      std::string path = url.substr(0, q);
      if (q != std::string::npos) subcall.query = parse_query_string(url.substr(q + 1));
      std::string prefix = "/services/data/v";
      auto version_end = path.find('/', prefix.size());
      if (path.rfind(prefix, 0) != 0 || version_end == std::string::npos) {
        sub = salesforce_error(400, "INVALID_URL",
                               "The URL must start with /services/data/vXX.X/: " + url);
      } else {
        subcall.version = std::strtod(path.c_str() + prefix.size(), nullptr);
        std::string rest = path.substr(version_end + 1);
        std::size_t start = 0;
        while (start <= rest.size()) {
          auto slash = rest.find('/', start);
          std::string seg = url_decode_path(
              rest.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
          if (!seg.empty()) subcall.segments.push_back(seg);
          if (slash == std::string::npos) break;
          start = slash + 1;
        }
        if (!subcall.segments.empty() && subcall.segments[0] == "composite" &&
            subcall.segments.size() == 1) {
          sub = salesforce_error(400, "INVALID_URL", "composite requests cannot be nested");
        } else {
          sub = dispatch(subcall);
        }
      }
    }
    if (sub.status >= 400) {
      failed_refs.insert(ref);
      if (all_or_none) halted = true;
    } else if (!sub.body.empty()) {
      rapidjson::Document result;
      result.Parse(sub.body.c_str());
      if (!result.HasParseError()) results[ref] = std::move(result);
    }
    parts.push_back(part(sub.body, sub.status, ref, sub.header("Location")));
  }
  force_all_or_none_ = false;
  in_composite_ = false;
  if (halted) composite_writes_ = 0;  // rolled back: nothing was written
  if (composite_writes_ > 0) stats_.count_write(composite_writes_);
  if (halted) {
    store_ = std::move(saved);
    // Subrequests that had succeeded before the failure are rolled back too.
    std::size_t i = 0;
    for (auto& r : requests.GetArray()) {
      std::string ref = string_member(r, "referenceId");
      if (!failed_refs.count(ref) && parts[i].find("PROCESSING_HALTED") == std::string::npos) {
        parts[i] = part(halted_body, 400, ref, "");
      }
      ++i;
    }
  }
  std::string body = R"({"compositeResponse":[)";
  for (std::size_t i = 0; i < parts.size(); ++i) body += (i ? "," : "") + parts[i];
  return salesforce_json(200, body + "]}");
}

}  // namespace crmsync::emulators
