#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

#include "mapping/principal_map.h"
#include "mapping/sync_error.h"

namespace crmsync::connectors::prm {
struct PrmConnectionSettings;
struct PartnerDirectoryBinding;
}  // namespace crmsync::connectors::prm

namespace crmsync::daemon {

struct Config;

// Builds the principal map (DESIGN §3) from the principals file ([permissions] principals_file:
// the partners' CRM ids) and the PRM's partner directory (who exists, tiers, active flags, which
// org each user belongs to). Called by the apply worker at start and every directory_refresh.
class PrincipalDirectory {
 public:
  using DirectoryRead = std::function<mapping::Result<std::pair<std::vector<mapping::DirectoryOrg>,
                                                                std::vector<mapping::DirectoryUser>>>()>;

  PrincipalDirectory(std::optional<std::filesystem::path> principals_file, DirectoryRead read_directory);

  // A fresh map; an unreadable or invalid principals file or an unreachable PRM is an error (the
  // caller keeps the map it has: access is never widened by a failure, and never silently kept
  // on a file an operator broke: the error names every problem).
  mapping::Result<std::shared_ptr<const mapping::PrincipalMap>> load() const;

 private:
  std::optional<std::filesystem::path> principals_file_;
  DirectoryRead read_directory_;
};

// The PRM's partner directory through a fresh query session per read (a refresh every few tens
// of seconds does not need a standing connection).
PrincipalDirectory::DirectoryRead prm_directory_read(const connectors::prm::PrmConnectionSettings& settings,
                                                     const connectors::prm::PartnerDirectoryBinding& binding);

// Reads and checks a principals file (for `crmsync config check` and load()).
mapping::Result<mapping::PrincipalFile> read_principal_file(const std::filesystem::path& path);

// `crmsync config check` and the start: the principals file [permissions] names, when it names one,
// is part of the configuration. Throws ConfigError with every problem.
void check_principal_file(const Config& config);

}  // namespace crmsync::daemon
