#include "tests/emulators/client_secrets.h"

#include <fmt/format.h>

#include "tests/emulators/json_util.h"

namespace crmsync::emulators {

namespace {

HttpResponse answer(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.set_header("Content-Type", "application/json");
  response.body = std::move(body);
  return response;
}

}  // namespace

void ClientSecrets::reset(const std::string& initial) { secrets_ = {initial}; }

bool ClientSecrets::accepts(const std::string& secret) const { return secrets_.contains(secret); }

std::optional<HttpResponse> ClientSecrets::admin(const HttpRequest& request, std::string_view rest) {
  if (rest != "oauth/client-secrets") return std::nullopt;
  if (request.method != "POST") return answer(405, R"({"error":"oauth/client-secrets: POST"})");
  auto doc = parse_json(request.body);
  std::string add = doc && doc->IsObject() ? string_member(*doc, "add") : std::string();
  std::string remove = doc && doc->IsObject() ? string_member(*doc, "remove") : std::string();
  if (add.empty() && remove.empty()) {
    return answer(400, R"({"error":"oauth/client-secrets: expected {\"add\":S} and/or {\"remove\":S}"})");
  }
  if (!add.empty()) secrets_.insert(add);
  if (!remove.empty()) {
    if (secrets_.size() == 1 && secrets_.contains(remove)) {
      return answer(400, R"({"error":"oauth/client-secrets: cannot remove the last client secret"})");
    }
    secrets_.erase(remove);
  }
  return answer(200, fmt::format(R"({{"client_secrets":{}}})", secrets_.size()));
}

}  // namespace crmsync::emulators
