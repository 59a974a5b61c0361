#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

#include "tests/emulators/text.h"

namespace crmsync::emulators::testing {

struct Answer {
  long status = 0;
  std::string body;
  std::map<std::string, std::string, CaseInsensitiveLess> headers;

  std::string header(const std::string& name) const;
};

// A libcurl client (one connection, reused: keep-alive) that trusts the emulator's CA.
class HttpClient {
 public:
  HttpClient(std::string base_url, std::string ca_file);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `target` is a path (joined to base_url) or an absolute URL.
  Answer request(const std::string& method, const std::string& target, const std::string& body = "",
                 const std::vector<std::string>& headers = {});

 private:
  std::string base_url_;
  std::string ca_file_;
  void* curl_ = nullptr;
};

// build/crm-emulator started by a test on 127.0.0.1 port 0 (HTTPS with a generated CA unless
// --plain-http is among the arguments), and a libcurl client that trusts that CA and reuses its
// connection (keep-alive). The destructor stops the process (SIGTERM, then SIGKILL).
class EmulatorProcess {
 public:
  EmulatorProcess(const std::string& api, const std::vector<std::string>& extra_args = {});
  ~EmulatorProcess();
  EmulatorProcess(const EmulatorProcess&) = delete;
  EmulatorProcess& operator=(const EmulatorProcess&) = delete;

  const std::string& base_url() const { return base_url_; }
  const std::string& ca_file() const { return ca_file_; }
  const std::string& dir() const { return dir_; }

  // `target` is a path ("/services/…", joined to base_url) or an absolute URL.
  Answer request(const std::string& method, const std::string& target, const std::string& body = "",
                 const std::vector<std::string>& headers = {});

  // Salesforce: a client-credentials token, then requests with it and JSON bodies.
  std::string salesforce_login();
  Answer sf(const std::string& method, const std::string& target, const std::string& body = "",
            std::vector<std::string> headers = {});

  // Dataverse: a client-credentials token, then requests with the OData headers.
  std::string dataverse_login();
  Answer dv(const std::string& method, const std::string& target, const std::string& body = "",
            std::vector<std::string> headers = {});

  // The admin API.
  Answer admin(const std::string& method, const std::string& rest, const std::string& body = "");

  std::string token;

 private:
  pid_t pid_ = -1;
  std::string base_url_;
  std::string ca_file_;
  std::string dir_;
  std::unique_ptr<HttpClient> client_;
};

}  // namespace crmsync::emulators::testing
