#pragma once

namespace crmsync::daemon {

// Exit codes of every crmsync command (docs/operations.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitProblem = 1;  // the command ran and found or hit a problem
inline constexpr int kExitUsage = 2;    // bad usage or configuration; nothing was done

// Parses the command line and runs the subcommand. Returns the process exit code.
int run_cli(int argc, char** argv);

}  // namespace crmsync::daemon
