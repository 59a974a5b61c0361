#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "connectors/http/http_transport.h"

namespace crmsync::connectors::http {

namespace {

using mapping::ErrorClass;
using mapping::SyncError;

std::once_flag curl_initialised;

std::size_t collect_body(char* data, std::size_t size, std::size_t count, void* target) {
  static_cast<std::string*>(target)->append(data, size * count);
  return size * count;
}

std::size_t collect_header(char* data, std::size_t size, std::size_t count, void* target) {
  std::string_view line(data, size * count);
  auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(target);
  if (line.starts_with("HTTP/")) {
    headers->clear();  // a new response (after 100-continue or a redirect) starts over
    return size * count;
  }
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * count;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
  headers->emplace_back(std::move(name), std::string(value));
  return size * count;
}

// The one switch over libcurl errors.
SyncError transport_error(CURLcode code, const std::string& what, const char* detail) {
  std::string text = detail != nullptr && detail[0] != '\0' ? detail : curl_easy_strerror(code);
  switch (code) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
      return {ErrorClass::fatal, fmt::format("{}: TLS verification failed: {}; if the CRM is behind a private CA, "
                                             "configure its CA bundle",
                                             what, text)};
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return {ErrorClass::invalid, fmt::format("{}: {}", what, text)};
    default:
      // Connection refused/reset, timeouts, DNS, an empty reply: the network or the server is
      // briefly unavailable.
      return {ErrorClass::transient, fmt::format("{}: {}", what, text)};
  }
}

class CurlTransport final : public HttpTransport {
 public:
  CurlTransport(HttpTransportSettings settings, std::shared_ptr<spdlog::logger> logger)
      : settings_(std::move(settings)), logger_(std::move(logger)) {
    std::call_once(curl_initialised, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }
  ~CurlTransport() override {
    for (CURL* handle : idle_) curl_easy_cleanup(handle);
  }

  mapping::Result<HttpResponse> send(const HttpRequest& request, Deadline deadline) override {
    std::string what = request.description.empty() ? request.method + " request" : request.description;
    CURL* handle = acquire(deadline);
    if (handle == nullptr) {
      return SyncError{ErrorClass::transient, fmt::format("{}: no request slot free before the deadline "
                                                          "({} in flight)", what, settings_.max_in_flight)};
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      release(handle);
      return SyncError{ErrorClass::transient, fmt::format("{}: deadline passed before sending", what)};
    }
    HttpResponse response;
    char error_buffer[CURL_ERROR_SIZE] = {};
    curl_slist* headers = nullptr;
    for (const auto& [name, value] : request.headers) {
      headers = curl_slist_append(headers, (name + ": " + value).c_str());
    }
    headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
    curl_easy_reset(handle);
    curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 2L);
    if (settings_.ca_bundle) curl_easy_setopt(handle, CURLOPT_CAINFO, settings_.ca_bundle->c_str());
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings_.connect_timeout.count()));
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
    curl_easy_setopt(handle, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, &response.headers);
    if (!request.body.empty() || request.method == "POST" || request.method == "PATCH" || request.method == "PUT") {
      curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    }
    CURLcode code = curl_easy_perform(handle);
    long status = 0;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, nullptr);
    release(handle);
    if (code != CURLE_OK) return transport_error(code, what, error_buffer);
    response.status = static_cast<int>(status);
    return response;
  }

 private:
  // A pooled handle (keeping its connections alive), waiting while max_in_flight are busy.
  CURL* acquire(Deadline deadline) {
    std::unique_lock lock(mutex_);
    if (!slot_free_.wait_until(lock, deadline, [this] { return in_flight_ < settings_.max_in_flight; })) {
      return nullptr;
    }
    ++in_flight_;
    if (!idle_.empty()) {
      CURL* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
    return curl_easy_init();
  }
  void release(CURL* handle) {
    {
      std::lock_guard lock(mutex_);
      idle_.push_back(handle);
      --in_flight_;
    }
    slot_free_.notify_one();
  }

  HttpTransportSettings settings_;
  std::shared_ptr<spdlog::logger> logger_;
  std::mutex mutex_;
  std::condition_variable slot_free_;
  std::vector<CURL*> idle_;
  int in_flight_ = 0;
};

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(),
                   [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)); })) {
      return value;
    }
  }
  return std::nullopt;
}

std::unique_ptr<HttpTransport> make_curl_transport(const HttpTransportSettings& settings,
                                                   std::shared_ptr<spdlog::logger> logger) {
  return std::make_unique<CurlTransport>(settings, std::move(logger));
}

}  // namespace crmsync::connectors::http
