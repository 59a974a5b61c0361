#pragma once

#include <memory>
#include <string>

namespace CLI {
class App;
}

namespace crmsync::daemon {

struct CommonOptions;

// `crmsync secrets put|list|promote|discard|rotate|destroy|rotate-master|generate-master-key`:
// operator commands on the encrypted secret store ([secrets] in the configuration). Values are
// read from a file or standard input, never from the command line, and never printed.
class SecretsCli {
 public:
  // Registers the subcommands on `app`; `options` receives --config/--json.
  SecretsCli(CLI::App& app, CommonOptions& options);
  ~SecretsCli();

  bool chosen() const;
  int run();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace crmsync::daemon
