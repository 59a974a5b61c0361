#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace crmsync::testing {

// A program started by a test, with stdout and stderr captured to a file. The destructor kills
// (SIGKILL) and reaps it if the test did not.
class ChildProcess {
 public:
  ChildProcess(const std::string& program, const std::vector<std::string>& args,
               const std::map<std::string, std::string>& extra_env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void send_signal(int signal);
  // The exit code, or -signal when killed by one; nothing if still running after `timeout`.
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);
  // Everything the process wrote so far.
  std::string output() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string output_path_;
};

struct HttpAnswer {
  int status = 0;
  std::string body;
};

// One HTTP/1.1 GET to 127.0.0.1:port (Connection: close). Nothing when no connection was possible.
std::optional<HttpAnswer> http_get(unsigned short port, const std::string& path);

// A TCP port on 127.0.0.1 that was free a moment ago.
unsigned short free_local_port();

}  // namespace crmsync::testing
