#include "tests/support/crm_emulator.h"

#include <signal.h>

#include <filesystem>
#include <stdexcept>
#include <thread>

#include "tests/support/service_env.h"

namespace crmsync::testing {

CrmEmulator::CrmEmulator(const std::string& api, const std::vector<std::string>& extra_args) {
  dir_ = (std::filesystem::temp_directory_path() / unique_name("crm_emulator")).string();
  std::filesystem::create_directories(dir_);
  ca_file_ = dir_ + "/ca.pem";
  std::vector<std::string> args = {"--api", api, "--listen", "127.0.0.1:0", "--ca-out", ca_file_};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<ChildProcess>(CRMSYNC_EMULATOR_BINARY, args);
  const std::string marker = "crm-emulator listening ";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string out = process_->output();
    if (auto at = out.find(marker); at != std::string::npos) {
      auto end = out.find('\n', at);
      if (end != std::string::npos) {
        base_url_ = out.substr(at + marker.size(), end - at - marker.size());
        return;
      }
    }
    if (process_->wait_for_exit(std::chrono::milliseconds(0))) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("crm-emulator did not start (build it with deploy/dev/build): " + process_->output());
}

CrmEmulator::~CrmEmulator() {
  process_->send_signal(SIGTERM);
  process_->wait_for_exit(std::chrono::seconds(5));
  process_.reset();
  std::filesystem::remove_all(dir_);
}

}  // namespace crmsync::testing
