#pragma once

// Restarting the local PostgreSQL or Kafka that deploy/dev/services started, for the chaos suite.
// Each restart stops the one service's process (PostgreSQL: `pg_ctl stop -m fast`; Kafka: SIGTERM
// to the broker's pid from the work folder) and then runs `deploy/dev/services start`, which is
// idempotent and brings back only what is stopped. The work folder comes from CRMSYNC_WORK_DIR
// (`deploy/dev/services env` exports it). Used from the test's one thread; blocking.

#include <chrono>
#include <string>

namespace crmsync::testing {

enum class LocalService { postgres, kafka };

class ServiceRestarts {
 public:
  // `repo_root` holds deploy/dev/services; throws when CRMSYNC_WORK_DIR is not set.
  explicit ServiceRestarts(std::string repo_root);

  // Stops `service`, waits `down_for`, starts it again and waits until it answers. Throws with
  // the script's output when it does not come back.
  void restart(LocalService service, std::chrono::milliseconds down_for);

 private:
  std::string repo_root_;
  std::string work_dir_;
};

}  // namespace crmsync::testing
