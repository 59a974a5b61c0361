#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/support/child_process.h"

namespace crmsync::testing {

// build/crm-emulator for a connector test: HTTPS on 127.0.0.1 with a port of its own and a
// generated CA written into a fresh folder. Throws, failing the test, if it does not come up.
class CrmEmulator {
 public:
  CrmEmulator(const std::string& api, const std::vector<std::string>& extra_args = {});
  ~CrmEmulator();

  const std::string& base_url() const { return base_url_; }  // https://127.0.0.1:PORT
  const std::string& ca_file() const { return ca_file_; }
  std::string output() const { return process_->output(); }

 private:
  std::string dir_;
  std::string base_url_;
  std::string ca_file_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace crmsync::testing
