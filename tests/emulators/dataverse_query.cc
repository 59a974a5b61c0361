// Dataverse entity-set queries: $select, $filter, $orderby, $top, $count, paging through
// odata.maxpagesize and @odata.nextLink, and change tracking with delta links.

#include <fmt/format.h>

#include <algorithm>
#include <regex>

#include "tests/emulators/dataverse_api.h"
#include "tests/emulators/dataverse_responses.h"
#include "tests/emulators/json_util.h"
#include "tests/emulators/odata_filter.h"

namespace crmsync::emulators {

namespace {

constexpr std::size_t kMaxPage = 5000;
constexpr EpochMs kChangeTrackingExpiryMs = 30LL * 24 * 3600 * 1000;

// The query string without $skiptoken / $deltatoken, still encoded.
std::string query_without(const std::string& raw, std::initializer_list<std::string_view> drop) {
  std::string out;
  std::size_t start = 0;
  while (start < raw.size()) {
    auto amp = raw.find('&', start);
    std::string pair =
        raw.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    std::string key = url_decode(pair.substr(0, pair.find('=')));
    bool dropped = std::find(drop.begin(), drop.end(), key) != drop.end();
    if (!pair.empty() && !dropped) out += (out.empty() ? "" : "&") + pair;
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  return out;
}

}  // namespace

std::optional<HttpResponse> DataverseApi::parse_select(const DataverseCall& call,
                                                       const ObjectDef& def,
                                                       std::vector<std::string>& select) const {
  auto it = call.query.find("$select");
  if (it == call.query.end()) return std::nullopt;
  const std::string& list = it->second;
  std::size_t start = 0;
  while (start <= list.size()) {
    auto comma = list.find(',', start);
    std::string name =
        list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const FieldDef* f = def.field(name);
    if (f == nullptr || f->name != name)
      return dataverse_error(400, "0x0", odata_unknown_property(name, def));
    select.push_back(name);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return std::nullopt;
}

HttpResponse DataverseApi::count(const DataverseCall& call, ObjectTable& table) {
  if (call.method != "GET") return dataverse_error(405, "0x80060888", "$count only answers GET.");
  std::size_t n = 0;
  if (call.query.count("$filter")) {
    auto parsed = parse_odata_filter(call.query.at("$filter"));
    if (auto* error = std::get_if<std::string>(&parsed)) return dataverse_error(400, "0x0", *error);
    ODataExpr filter = std::get<ODataExpr>(std::move(parsed));
    if (auto error = bind_odata_filter(filter, table.def))
      return dataverse_error(400, "0x0", *error);
    for (Record* r : table.live_rows_in_order()) n += odata_matches(filter, *r) ? 1 : 0;
  } else {
    n = table.live_rows_in_order().size();
  }
  HttpResponse response = dataverse_empty(200);
  response.set_header("Content-Type", "text/plain");
  response.body = std::to_string(std::min<std::size_t>(n, 5000));
  return response;
}

HttpResponse DataverseApi::collection(const DataverseCall& call, ObjectTable& table) {
  if (call.method == "POST") return create(call, table);
  if (call.method != "GET")
    return dataverse_error(
        405, "0x80060888",
        "The HTTP method '" + call.method + "' is not allowed on an entity set.");
  const ObjectDef& def = table.def;
  for (const char* unsupported :
       {"$skip", "$expand", "$apply", "fetchXml", "$search", "savedQuery", "userQuery"}) {
    if (call.query.count(unsupported)) {
      std::string what = unsupported;
      return dataverse_error(
          400, "0x0",
          what == "$skip" ? "The query parameter $skip is not supported."
                          : "The query parameter " + what + " is not supported by the emulator.");
    }
  }
  bool tracking = prefers(call, "odata.track-changes");
  if (call.query.count("$deltatoken")) return delta(call, table, call.query.at("$deltatoken"));
  if (tracking) {
    for (const char* option : {"$filter", "$orderby", "$top"}) {
      if (call.query.count(option)) {
        return dataverse_error(
            400, "0x80060888",
            std::string("The \"") + option +
                "\" query parameter isn't supported when Change Tracking is enabled.");
      }
    }
  }
  std::vector<std::string> select;
  if (auto error = parse_select(call, def, select)) return *error;
  std::optional<ODataExpr> filter;
  if (call.query.count("$filter")) {
    auto parsed = parse_odata_filter(call.query.at("$filter"));
    if (auto* error = std::get_if<std::string>(&parsed)) return dataverse_error(400, "0x0", *error);
    filter = std::get<ODataExpr>(std::move(parsed));
    if (auto error = bind_odata_filter(*filter, def)) return dataverse_error(400, "0x0", *error);
  }
  std::vector<ODataOrder> order;
  if (call.query.count("$orderby")) {
    auto parsed = parse_odata_orderby(call.query.at("$orderby"));
    if (auto* error = std::get_if<std::string>(&parsed)) return dataverse_error(400, "0x0", *error);
    order = std::get<std::vector<ODataOrder>>(parsed);
    for (const auto& o : order) {
      const FieldDef* f = def.field(o.property);
      if (f == nullptr || f->name != o.property)
        return dataverse_error(400, "0x0", odata_unknown_property(o.property, def));
    }
  }
  std::vector<Record*> rows;
  for (Record* r : table.live_rows_in_order()) {
    if (!filter || odata_matches(*filter, *r)) rows.push_back(r);
  }
  std::stable_sort(rows.begin(), rows.end(), [&](const Record* a, const Record* b) {
    for (const auto& o : order) {
      const FieldValue& x = a->get(o.property);
      const FieldValue& y = b->get(o.property);
      if (x == y) continue;
      bool less;
      if (is_null(x))
        less = true;
      else if (is_null(y))
        less = false;
      else if (std::holds_alternative<std::string>(x) && std::holds_alternative<std::string>(y)) {
        int cmp = icompare(std::get<std::string>(x), std::get<std::string>(y));
        if (cmp == 0) continue;
        less = cmp < 0;
      } else {
        less = x < y;
      }
      return o.descending ? !less : less;
    }
    return false;
  });
  std::size_t total = rows.size();
  if (call.query.count("$top")) {
    char* end = nullptr;
    long top = std::strtol(call.query.at("$top").c_str(), &end, 10);
    if (end == nullptr || *end != '\0' || top < 0)
      return dataverse_error(400, "0x0", "Invalid value for $top.");
    if (rows.size() > static_cast<std::size_t>(top)) rows.resize(static_cast<std::size_t>(top));
  }
  std::size_t page_size = kMaxPage;
  std::vector<std::string> applied;
  for (const auto& p : prefer_list(call)) {
    if (p.rfind("odata.maxpagesize=", 0) == 0) {
      long asked = std::strtol(p.c_str() + 18, nullptr, 10);
      if (asked > 0) {
        page_size = std::min<std::size_t>(static_cast<std::size_t>(asked), kMaxPage);
        applied.push_back("odata.maxpagesize=" + std::to_string(page_size));
      }
    }
  }
  if (settings_.page_size > 0)
    page_size = std::min(page_size, static_cast<std::size_t>(settings_.page_size));
  std::size_t offset = 0;
  std::int64_t tracking_version = store_.current_version();
  if (call.query.count("$skiptoken")) {
    static const std::regex kCookie(R"(crmsync:offset=([0-9]{1,9}):version=([0-9]{1,15}))");
    std::smatch m;
    std::string cookie = url_decode(call.query.at("$skiptoken"));
    if (!std::regex_search(cookie, m, kCookie))
      return dataverse_error(400, "0x80060888", "The $skiptoken value is not valid.");
    offset = std::stoul(m[1]);
    tracking_version = std::stoll(m[2]);
  }
  if (tracking) applied.push_back("odata.track-changes");
  std::size_t end = std::min(rows.size(), offset + page_size);
  std::string list;
  for (const auto& s : select) list += (list.empty() ? "" : ",") + s;
  std::string body = "{\"@odata.context\":\"" + call.api_base + "$metadata#" + def.entity_set +
                     (list.empty() ? "" : "(" + list + ")") + "\"";
  if (call.query.count("$count") && call.query.at("$count") == "true") {
    body += ",\"@odata.count\":" + std::to_string(std::min<std::size_t>(total, 5000));
  }
  body += ",\"value\":[";
  for (std::size_t i = offset; i < end; ++i)
    body += (i > offset ? "," : "") + entity_json(call, table, *rows[i], select, false);
  body += "]";
  std::string base = call.api_base + def.entity_set;
  if (end < rows.size()) {
    std::string cookie = fmt::format(
        R"(<cookie pagenumber="{}" pagingcookie="crmsync:offset={}:version={}" istracking="{}" />)",
        end / page_size + 1, end, tracking_version, tracking ? "True" : "False");
    std::string rest = query_without(call.raw_query, {"$skiptoken"});
    body += ",\"@odata.nextLink\":\"" + base + "?" + rest + (rest.empty() ? "" : "&") +
            "$skiptoken=" + url_encode(cookie) + "\"";
  } else if (tracking) {
    std::string token = std::to_string(tracking_version) + "!" + format_us_datetime(clock_.now());
    std::string rest = query_without(call.raw_query, {"$skiptoken", "$deltatoken", "$count"});
    body += ",\"@odata.deltaLink\":\"" + base + "?" + rest + (rest.empty() ? "" : "&") +
            "$deltatoken=" + url_encode(token) + "\"";
  }
  body += "}";
  HttpResponse response = dataverse_json(200, body);
  if (!applied.empty()) {
    std::string joined;
    for (const auto& a : applied) joined += (joined.empty() ? "" : ",") + a;
    response.set_header("Preference-Applied", joined);
  }
  return response;
}

HttpResponse DataverseApi::delta(const DataverseCall& call, ObjectTable& table,
                                 const std::string& token) {
  const ObjectDef& def = table.def;
  for (const char* option : {"$filter", "$orderby", "$top"}) {
    if (call.query.count(option)) {
      return dataverse_error(
          400, "0x80060888",
          std::string("The \"") + option +
              "\" query parameter isn't supported when Change Tracking is enabled.");
    }
  }
  static const std::regex kToken(
      R"(^([0-9]{1,15})!([0-9]{2})/([0-9]{2})/([0-9]{4}) ([0-9]{2}:[0-9]{2}:[0-9]{2})$)");
  std::smatch m;
  if (!std::regex_match(token, m, kToken)) {
    return dataverse_error(400, "0x80060888", "The delta token '" + token + "' is not valid.");
  }
  std::int64_t since = std::stoll(m[1]);
  auto issued = parse_iso_datetime(std::string(m[4]) + "-" + std::string(m[2]) + "-" +
                                   std::string(m[3]) + "T" + std::string(m[5]) + "Z");
  if (!issued || since > store_.current_version()) {
    return dataverse_error(400, "0x80060888", "The delta token '" + token + "' is not valid.");
  }
  if (clock_.now() - *issued > kChangeTrackingExpiryMs) {
    return dataverse_error(
        400, "0x80060888",
        "Version stamp associated with the client has expired. Please perform a full sync.");
  }
  std::vector<std::string> select;
  if (auto error = parse_select(call, def, select)) return *error;
  std::string list;
  for (const auto& s : select) list += (list.empty() ? "" : ",") + s;
  std::string body = "{\"@odata.context\":\"" + call.api_base + "$metadata#" + def.entity_set +
                     (list.empty() ? "" : "(" + list + ")") + "/$delta\",\"value\":[";
  bool first = true;
  for (Record* r : table.live_rows_in_order()) {
    if (r->version <= since) continue;
    body += (first ? "" : ",") + entity_json(call, table, *r, select, false);
    first = false;
  }
  for (Record* r : table.live_rows_in_order(true)) {
    if (!r->deleted || r->version <= since) continue;
    body += std::string(first ? "" : ",") + "{\"@odata.context\":\"" + call.api_base +
            "$metadata#" + def.entity_set + "/$deletedEntity\",\"id\":\"" + r->id +
            "\",\"reason\":\"deleted\"}";
    first = false;
  }
  std::string next =
      std::to_string(store_.current_version()) + "!" + format_us_datetime(clock_.now());
  std::string rest = query_without(call.raw_query, {"$skiptoken", "$deltatoken"});
  body += "],\"@odata.deltaLink\":\"" + call.api_base + def.entity_set + "?" + rest +
          (rest.empty() ? "" : "&") + "$deltatoken=" + url_encode(next) + "\"}";
  HttpResponse response = dataverse_json(200, body);
  response.set_header("Preference-Applied", "odata.track-changes");
  return response;
}

}  // namespace crmsync::emulators
