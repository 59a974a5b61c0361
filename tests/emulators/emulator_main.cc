// crm-emulator: the Salesforce or Dataverse API emulator as a process (docs/emulators.md).

#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "tests/emulators/call_stats.h"
#include "tests/emulators/dataverse_api.h"
#include "tests/emulators/emulator_service.h"
#include "tests/emulators/fault_rules.h"
#include "tests/emulators/http_server.h"
#include "tests/emulators/salesforce_api.h"
#include "tests/emulators/tls_identity.h"

namespace {

using namespace crmsync::emulators;

constexpr const char* kUsage = R"(usage: crm-emulator --api salesforce|dynamics [options]
  --listen HOST:PORT        address to listen on (default 127.0.0.1:0; port 0 picks a free port)
  --plain-http              serve plain HTTP instead of HTTPS
  --tls-cert FILE --tls-key FILE   serve this certificate (PEM) instead of a generated one
  --ca-out FILE             write the PEM certificate clients must trust
  --seed FILE               JSON seed (fields and records) loaded at start and on reset
  --page-size N             cap query pages at N rows (default: the API's own 2000 / 5000)
  --daily-api-limit N       Salesforce DailyApiRequests (default 15000)
  --requests-per-window N   Dataverse service protection requests per 300 s (default 6000)
  --concurrent-requests N   Dataverse service protection concurrent requests (default 52; 0: no limit)
  --client-id ID            accepted client id (default crmsync-emulator-client)
  --client-secret SECRET    accepted client secret (default crmsync-emulator-secret)
  --user-password PASSWORD  Salesforce password grant password (default crmsync-emulator-password)
  --token-ttl SECONDS       access token lifetime (default 7200 Salesforce, 3599 Dataverse)
  --rotate-refresh-tokens   Salesforce refresh-token rotation: each refresh token works once
  --jwt-public-key FILE     PEM public key or certificate for the Salesforce JWT bearer flow
  --threads N               server threads (default 4)
The first line on stdout is "crm-emulator listening <base URL>".
)";

std::string read_file(const std::string& path, const std::string& flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(flag + ": cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

long parse_number(const std::string& flag, const std::string& value) {
  try {
    std::size_t used = 0;
    long n = std::stol(value, &used);
    if (used == value.size() && n >= 0) return n;
  } catch (const std::exception&) {
  }
  throw std::runtime_error(flag + ": expected a non-negative number, got \"" + value + "\"");
}

int run(int argc, char** argv) {
  std::string api_name, listen = "127.0.0.1:0", ca_out, tls_cert, tls_key;
  bool plain = false;
  int threads = 4;
  EmulatorSettings settings;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(flag + ": needs a value");
      return argv[++i];
    };
    if (flag == "--help" || flag == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (flag == "--api")
      api_name = value();
    else if (flag == "--listen")
      listen = value();
    else if (flag == "--plain-http")
      plain = true;
    else if (flag == "--tls-cert")
      tls_cert = value();
    else if (flag == "--tls-key")
      tls_key = value();
    else if (flag == "--ca-out")
      ca_out = value();
    else if (flag == "--seed")
      settings.seed_json = read_file(value(), "--seed");
    else if (flag == "--page-size")
      settings.page_size = static_cast<int>(parse_number(flag, value()));
    else if (flag == "--daily-api-limit")
      settings.daily_api_limit = parse_number(flag, value());
    else if (flag == "--requests-per-window")
      settings.requests_per_window = parse_number(flag, value());
    else if (flag == "--concurrent-requests")
      settings.concurrent_requests = static_cast<int>(parse_number(flag, value()));
    else if (flag == "--client-id")
      settings.client_id = value();
    else if (flag == "--client-secret")
      settings.client_secret = value();
    else if (flag == "--user-password")
      settings.user_password = value();
    else if (flag == "--token-ttl")
      settings.token_ttl = std::chrono::seconds(parse_number(flag, value()));
    else if (flag == "--rotate-refresh-tokens")
      settings.rotate_refresh_tokens = true;
    else if (flag == "--jwt-public-key")
      settings.jwt_public_key_pem = read_file(value(), "--jwt-public-key");
    else if (flag == "--threads")
      threads = std::max(1, static_cast<int>(parse_number(flag, value())));
    else
      throw std::runtime_error("unknown flag " + flag + " (see --help)");
  }
  if (api_name != "salesforce" && api_name != "dynamics") {
    throw std::runtime_error("--api: expected salesforce or dynamics, got \"" + api_name + "\"");
  }
  auto colon = listen.rfind(':');
  if (colon == std::string::npos)
    throw std::runtime_error("--listen: expected HOST:PORT, got \"" + listen + "\"");
  if (tls_cert.empty() != tls_key.empty())
    throw std::runtime_error("--tls-cert and --tls-key go together");

  ServerOptions options;
  options.host = listen.substr(0, colon);
  options.port = static_cast<std::uint16_t>(parse_number("--listen", listen.substr(colon + 1)));
  options.threads = threads;
  if (!plain)
    options.tls =
        tls_cert.empty() ? make_self_signed_identity() : load_tls_identity(tls_cert, tls_key);
  if (!ca_out.empty()) {
    if (plain) throw std::runtime_error("--ca-out: there is no certificate with --plain-http");
    std::ofstream out(ca_out, std::ios::binary | std::ios::trunc);
    out << options.tls->ca_pem;
    if (!out) throw std::runtime_error("--ca-out: cannot write " + ca_out);
  }

  EmulatorClock clock;
  CallStats stats;
  FaultRules faults;
  std::unique_ptr<EmulatedApi> api;
  if (api_name == "salesforce")
    api = std::make_unique<SalesforceApi>(settings, clock, stats);
  else
    api = std::make_unique<DataverseApi>(settings, clock, stats, &faults);
  EmulatorService service(*api, faults, stats, clock);
  HttpServer server(options,
                    [&service](const HttpRequest& request) { return service.handle(request); });
  std::string host =
      options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
  std::cout << fmt::format("crm-emulator listening {}://{}:{}", plain ? "http" : "https", host,
                           server.port())
            << std::endl;
  server.run();  // until SIGINT or SIGTERM
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "crm-emulator: " << error.what() << "\n";
    return 2;
  }
}
