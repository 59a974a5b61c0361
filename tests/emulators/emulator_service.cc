#include "tests/emulators/emulator_service.h"

#include <fmt/format.h>

#include "tests/emulators/json_util.h"

namespace crmsync::emulators {

namespace {

constexpr std::string_view kAdminPrefix = "/_emulator/";

HttpResponse json_answer(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.set_header("Content-Type", "application/json");
  response.body = std::move(body);
  return response;
}

HttpResponse admin_error(int status, const std::string& message) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("error");
  write_string(writer, message);
  writer.EndObject();
  return json_answer(status, buffer.GetString());
}

std::optional<FaultRule> parse_fault(const rapidjson::Value& json, std::string& error) {
  if (!json.IsObject()) {
    error = "fault rule: expected a JSON object";
    return std::nullopt;
  }
  FaultRule rule;
  rule.method = string_member(json, "method", "*");
  rule.path_pattern = string_member(json, "path", "*");
  rule.status = static_cast<int>(int_member(json, "status", 0));
  rule.error_code = string_member(json, "error_code");
  rule.message = string_member(json, "message");
  rule.retry_after_seconds = static_cast<int>(int_member(json, "retry_after", 0));
  rule.latency = std::chrono::milliseconds(int_member(json, "latency_ms", 0));
  rule.drop_connection = bool_member(json, "drop_connection", false);
  rule.expire_tokens = bool_member(json, "expire_tokens", false);
  rule.in_batch = bool_member(json, "in_batch", false);
  rule.times = static_cast<int>(int_member(json, "times", -1));
  rule.seed = static_cast<std::uint64_t>(int_member(json, "seed", 1));
  auto p = json.FindMember("probability");
  if (p != json.MemberEnd() && p->value.IsNumber()) rule.probability = p->value.GetDouble();
  if (rule.status == 0 && rule.latency.count() == 0 && !rule.drop_connection &&
      !rule.expire_tokens) {
    error = "fault rule: give at least one of status, latency_ms, drop_connection, expire_tokens";
    return std::nullopt;
  }
  if (rule.in_batch && (rule.status == 0 || rule.latency.count() != 0 || rule.drop_connection ||
                        rule.expire_tokens)) {
    error = "fault rule: an in_batch rule answers a status (and nothing else) for $batch parts";
    return std::nullopt;
  }
  if ((rule.status != 0 && (rule.status < 400 || rule.status > 599)) || rule.times == 0 ||
      rule.probability <= 0 || rule.probability > 1) {
    error = "fault rule: status must be 400-599, times -1 or positive, probability in (0, 1]";
    return std::nullopt;
  }
  return rule;
}

constexpr std::string_view kDriftShape =
    R"(expected {"object":…,"id":…,"set":{field:value,…}} or {"object":…,"id":…,"delete":true})";

std::optional<DriftRequest> parse_drift(std::string_view body, std::string& error) {
  auto doc = parse_json(body);
  if (!doc || !doc->IsObject()) {
    error = "drift: " + std::string(kDriftShape);
    return std::nullopt;
  }
  DriftRequest drift;
  for (const auto& member : doc->GetObject()) {
    std::string name(member.name.GetString(), member.name.GetStringLength());
    const rapidjson::Value& value = member.value;
    if ((name == "object" || name == "id") && !(value.IsString() && value.GetStringLength() > 0)) {
      error = "drift: " + name + ": expected a non-empty string";
      return std::nullopt;
    }
    if (name == "object") {
      drift.object = value.GetString();
    } else if (name == "id") {
      drift.id = value.GetString();
    } else if (name == "set") {
      if (!value.IsObject() || value.MemberCount() == 0) {
        error = "drift: set: expected a non-empty JSON object of field values";
        return std::nullopt;
      }
      drift.set_json = to_json(value);
    } else if (name == "delete") {
      if (!value.IsTrue()) {
        error = "drift: delete: expected true";
        return std::nullopt;
      }
      drift.remove = true;
    } else {
      error = "drift: unknown member \"" + name + "\"; " + std::string(kDriftShape);
      return std::nullopt;
    }
  }
  if (drift.object.empty() || drift.id.empty() || drift.remove == !drift.set_json.empty()) {
    error = "drift: " + std::string(kDriftShape);
    return std::nullopt;
  }
  return drift;
}

HttpResponse drift_answer(const DriftRequest& drift, const DriftOutcome& outcome) {
  if (outcome.status != 200) return admin_error(outcome.status, outcome.error);
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("object");
  write_string(writer, drift.object);
  writer.Key("id");
  write_string(writer, outcome.id);
  if (drift.remove) {
    writer.Key("deleted");
    writer.Bool(true);
  } else {
    writer.Key("changed");
    writer.StartArray();
    for (const auto& field : outcome.changed) write_string(writer, field);
    writer.EndArray();
  }
  writer.EndObject();
  return json_answer(200, buffer.GetString());
}

}  // namespace

HttpResponse EmulatorService::handle(const HttpRequest& request) {
  std::string path = request.path();
  if (path.rfind(kAdminPrefix, 0) == 0)
    return admin(request, std::string_view(path).substr(kAdminPrefix.size()));

  stats_.count_request(api_.endpoint_name(request));
  int in_flight = stats_.begin_request();
  std::shared_ptr<void> served(nullptr, [this](void*) { stats_.end_request(); });
  if (auto refused = api_.refuse_concurrent(request, in_flight)) {
    stats_.count_concurrency_refusal();
    return *refused;  // `served` ends here: a refused request is not being served
  }
  auto fault = faults_.match(request.method, path);
  if (!fault) {
    HttpResponse response = api_.handle(request);
    response.held_until_sent = std::move(served);
    return response;
  }
  if (fault->expire_tokens) api_.expire_tokens();
  HttpResponse response;
  if (fault->drop_connection) {
    response.drop_connection = true;
  } else if (fault->status != 0) {
    response = api_.fault_response(fault->status, fault->error_code, fault->message,
                                   fault->retry_after_seconds);
  } else {
    response = api_.handle(request);
  }
  response.delay += fault->latency;
  response.held_until_sent = std::move(served);
  return response;
}

HttpResponse EmulatorService::admin(const HttpRequest& request, std::string_view rest) {
  const std::string& method = request.method;
  if (rest == "reset" && method == "POST") {
    api_.reset();
    faults_.clear();
    stats_.reset();
    return json_answer(200, R"({"reset":true})");
  }
  if (rest == "seed" && method == "POST") {
    if (auto error = api_.load_seed(request.body)) return admin_error(400, *error);
    return json_answer(200, R"({"loaded":true})");
  }
  if (rest.rfind("records/", 0) == 0 && method == "GET") {
    auto json = api_.records_json(rest.substr(8));
    if (!json) return admin_error(404, "no such object: " + std::string(rest.substr(8)));
    return json_answer(200, *json);
  }
  if (rest == "drift" && method == "POST") {
    std::string error;
    auto drift = parse_drift(request.body, error);
    if (!drift) return admin_error(400, error);
    return drift_answer(*drift, api_.plant_drift(*drift));
  }
  if (rest == "faults" && method == "POST") {
    auto doc = parse_json(request.body);
    std::string error = "fault rule: body is not JSON";
    std::optional<FaultRule> rule;
    if (doc) rule = parse_fault(*doc, error);
    if (!rule) return admin_error(400, error);
    int id = faults_.add(std::move(*rule));
    return json_answer(200, fmt::format(R"({{"id":{}}})", id));
  }
  if (rest == "faults" && method == "DELETE") {
    faults_.clear();
    return json_answer(200, R"({"cleared":true})");
  }
  if (rest == "stats" && method == "DELETE") {
    stats_.reset();
    return json_answer(200, R"({"cleared":true})");
  }
  if (rest == "stats" && method == "GET") {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    writer.Key("total_requests");
    writer.Int64(stats_.total_requests());
    writer.Key("requests");
    writer.StartObject();
    for (const auto& [endpoint, count] : stats_.requests()) {
      write_string(writer, endpoint);
      writer.Int64(count);
    }
    writer.EndObject();
    writer.Key("peak_concurrent_requests");
    writer.Int(stats_.peak_concurrent_requests());
    writer.Key("concurrency_refusals");
    writer.Int64(stats_.concurrency_refusals());
    writer.Key("records_per_write");
    writer.StartObject();
    for (const auto& [size, count] : stats_.write_sizes()) {
      write_string(writer, std::to_string(size));
      writer.Int64(count);
    }
    writer.EndObject();
    writer.EndObject();
    return json_answer(200, buffer.GetString());
  }
  if (rest == "clock") {
    if (method == "POST") {
      auto doc = parse_json(request.body);
      if (!doc || !doc->IsObject())
        return admin_error(
            400, "clock: expected {\"now\":ISO}, {\"advance_seconds\":N} or {\"resume\":true}");
      auto now = string_member(*doc, "now");
      if (!now.empty()) {
        auto ms = parse_iso_datetime(now);
        if (!ms) return admin_error(400, "clock: now: not an ISO 8601 date-time: " + now);
        if (doc->HasMember("rate")) {
          const auto& rate = (*doc)["rate"];
          if (!rate.IsNumber() || rate.GetDouble() <= 0 || rate.GetDouble() >= 1)
            return admin_error(400, "clock: rate: expected a number between 0 and 1 (emulated per real millisecond)");
          clock_.set_slowed(*ms, rate.GetDouble());
        } else {
          clock_.set(*ms);
        }
      } else if (doc->HasMember("advance_seconds") && (*doc)["advance_seconds"].IsNumber()) {
        clock_.advance(static_cast<std::int64_t>((*doc)["advance_seconds"].GetDouble() * 1000));
      } else if (bool_member(*doc, "resume", false)) {
        clock_.resume();
      } else {
        return admin_error(
            400, "clock: expected {\"now\":ISO}, {\"advance_seconds\":N} or {\"resume\":true}");
      }
    } else if (method != "GET") {
      return admin_error(405, "clock: GET or POST");
    }
    EpochMs now = clock_.now();
    return json_answer(200, fmt::format(R"({{"now":"{}","epoch_ms":{},"frozen":{},"rate":{}}})",
                                        format_iso_seconds(now), now, clock_.frozen(), clock_.rate()));
  }
  if (rest == "tokens/expire" && method == "POST") {
    api_.expire_tokens();
    return json_answer(200, R"({"expired":true})");
  }
  if (auto answer = api_.admin(request, rest)) return *answer;
  return admin_error(404, "unknown admin route: " + method + " /_emulator/" + std::string(rest));
}

}  // namespace crmsync::emulators
