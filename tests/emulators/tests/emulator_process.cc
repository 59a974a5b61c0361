#include "tests/emulators/tests/emulator_process.h"

#include <curl/curl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include <rapidjson/document.h>

namespace crmsync::emulators::testing {

namespace {

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* out) {
  std::string line(data, size * count);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(value.begin());
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    (*static_cast<std::map<std::string, std::string, CaseInsensitiveLess>*>(
        out))[line.substr(0, colon)] = value;
  }
  return size * count;
}

}  // namespace

std::string Answer::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

EmulatorProcess::EmulatorProcess(const std::string& api,
                                 const std::vector<std::string>& extra_args) {
  char pattern[] = "/tmp/crm-emulator-test-XXXXXX";
  if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  bool plain = false;
  for (const auto& a : extra_args) plain |= a == "--plain-http";
  std::vector<std::string> args = {CRM_EMULATOR_BINARY, "--api", api, "--listen", "127.0.0.1:0"};
  if (!plain) {
    ca_file_ = dir_ + "/ca.pem";
    args.push_back("--ca-out");
    args.push_back(ca_file_);
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ == 0) {
    // Dies with the test process (fixtures are built on the main thread) even when that one ends
    // without its destructors (a sanitizer's abort, a crash, ctest's timeout): an orphaned
    // emulator kept ctest's output pipe open and the run waiting.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, 200) > 0) {
      char buffer[256];
      ssize_t n = read(out[0], buffer, sizeof buffer);
      if (n <= 0) break;
      line.append(buffer, static_cast<std::size_t>(n));
    }
  }
  close(out[0]);
  const std::string prefix = "crm-emulator listening ";
  if (line.rfind(prefix, 0) != 0 || line.find('\n') == std::string::npos) {
    throw std::runtime_error("crm-emulator did not print its URL; it printed: " + line);
  }
  base_url_ = line.substr(prefix.size(), line.find('\n') - prefix.size());
  client_ = std::make_unique<HttpClient>(base_url_, ca_file_);
}

EmulatorProcess::~EmulatorProcess() {
  client_.reset();
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    for (int i = 0; i < 50; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

HttpClient::HttpClient(std::string base_url, std::string ca_file)
    : base_url_(std::move(base_url)), ca_file_(std::move(ca_file)), curl_(curl_easy_init()) {}

HttpClient::~HttpClient() {
  curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Answer EmulatorProcess::request(const std::string& method, const std::string& target,
                                const std::string& body, const std::vector<std::string>& headers) {
  return client_->request(method, target, body, headers);
}

Answer HttpClient::request(const std::string& method, const std::string& target,
                           const std::string& body, const std::vector<std::string>& headers) {
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);
  Answer answer;
  std::string url = target.rfind("http", 0) == 0 ? target : base_url_ + target;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (!body.empty() || method == "POST" || method == "PATCH" || method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  if (!ca_file_.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file_.c_str());
  curl_slist* list = nullptr;
  bool expect = false;
  for (const auto& h : headers) {
    list = curl_slist_append(list, h.c_str());
    expect |= istarts_with(h, "Expect:");
  }
  if (!expect) list = curl_slist_append(list, "Expect:");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &answer.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(list);
  if (code != CURLE_OK) {
    answer.status = -static_cast<long>(code);
    answer.body = curl_easy_strerror(code);
    return answer;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

std::string EmulatorProcess::salesforce_login() {
  Answer a = request("POST", "/services/oauth2/token",
                     "grant_type=client_credentials&client_id=crmsync-emulator-client&client_"
                     "secret=crmsync-emulator-secret",
                     {"Content-Type: application/x-www-form-urlencoded"});
  rapidjson::Document doc;
  doc.Parse(a.body.c_str());
  if (a.status != 200 || !doc.IsObject() || !doc.HasMember("access_token")) {
    throw std::runtime_error("salesforce login failed: " + a.body);
  }
  token = doc["access_token"].GetString();
  return token;
}

Answer EmulatorProcess::sf(const std::string& method, const std::string& target,
                           const std::string& body, std::vector<std::string> headers) {
  headers.push_back("Authorization: Bearer " + token);
  if (!body.empty()) headers.push_back("Content-Type: application/json");
  std::string url = target.rfind("http", 0) == 0 || target.rfind("/services", 0) == 0
                        ? target
                        : "/services/data/v59.0" + target;
  return request(method, url, body, headers);
}

std::string EmulatorProcess::dataverse_login() {
  Answer a = request("POST", "/tenant-1/oauth2/v2.0/token",
                     "grant_type=client_credentials&client_id=crmsync-emulator-client&client_"
                     "secret=crmsync-emulator-secret"
                     "&scope=" +
                         base_url_ + "/.default",
                     {"Content-Type: application/x-www-form-urlencoded"});
  rapidjson::Document doc;
  doc.Parse(a.body.c_str());
  if (a.status != 200 || !doc.IsObject() || !doc.HasMember("access_token")) {
    throw std::runtime_error("dataverse login failed: " + a.body);
  }
  token = doc["access_token"].GetString();
  return token;
}

Answer EmulatorProcess::dv(const std::string& method, const std::string& target,
                           const std::string& body, std::vector<std::string> headers) {
  headers.push_back("Authorization: Bearer " + token);
  headers.push_back("OData-Version: 4.0");
  headers.push_back("OData-MaxVersion: 4.0");
  headers.push_back("Accept: application/json");
  if (!body.empty()) headers.push_back("Content-Type: application/json; charset=utf-8");
  std::string url = target.rfind("http", 0) == 0 ? target : "/api/data/v9.2/" + target;
  return request(method, url, body, headers);
}

Answer EmulatorProcess::admin(const std::string& method, const std::string& rest,
                              const std::string& body) {
  return request(method, "/_emulator/" + rest, body, {"Content-Type: application/json"});
}

}  // namespace crmsync::emulators::testing
