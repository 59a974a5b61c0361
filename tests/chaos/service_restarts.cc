#include "tests/chaos/service_restarts.h"

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <thread>

#include "tests/support/child_process.h"
#include "tests/support/service_env.h"

namespace crmsync::testing {
namespace {

// Runs a shell command line; throws with its output unless it exits 0 within `timeout`.
void run_or_throw(const std::string& command, std::chrono::seconds timeout) {
  ChildProcess shell("/bin/sh", {"-c", command});
  auto code = shell.wait_for_exit(timeout);
  if (code != 0) {
    throw std::runtime_error("chaos: `" + command + "` exited with " + (code ? std::to_string(*code) : "a timeout") +
                             ":\n" + shell.output());
  }
}

}  // namespace

ServiceRestarts::ServiceRestarts(std::string repo_root)
    : repo_root_(std::move(repo_root)), work_dir_(require_service_env("CRMSYNC_WORK_DIR")) {}

void ServiceRestarts::restart(LocalService service, std::chrono::milliseconds down_for) {
  if (service == LocalService::postgres) {
    // As root, PostgreSQL's own commands run as the postgres user (as deploy/dev/services does).
    std::string as_pg = ::geteuid() == 0 ? "cd / && runuser -u postgres -- " : "";
    run_or_throw(as_pg + "/usr/lib/postgresql/15/bin/pg_ctl stop -D '" + work_dir_ + "/pg/data' -m fast -w -t 60 >/dev/null",
                 std::chrono::seconds(90));
  } else {
    std::ifstream pid_file(work_dir_ + "/kafka/kafka.pid");
    pid_t pid = 0;
    if (!(pid_file >> pid) || pid <= 1) throw std::runtime_error("chaos: no Kafka pid in " + work_dir_ + "/kafka/kafka.pid");
    ::kill(pid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (::kill(pid, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (::kill(pid, 0) == 0) ::kill(pid, SIGKILL);
  }
  std::this_thread::sleep_for(down_for);
  run_or_throw("CRMSYNC_WORK_DIR='" + work_dir_ + "' '" + repo_root_ + "/deploy/dev/services' start", std::chrono::seconds(180));
}

}  // namespace crmsync::testing
