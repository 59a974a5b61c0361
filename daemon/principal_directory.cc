#include "daemon/principal_directory.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "connectors/prm/prm_directory_reader.h"
#include "connectors/prm/prm_query_session.h"
#include "daemon/config.h"

namespace crmsync::daemon {

using mapping::ErrorClass;
using mapping::SyncError;

PrincipalDirectory::PrincipalDirectory(std::optional<std::filesystem::path> principals_file,
                                       DirectoryRead read_directory)
    : principals_file_(std::move(principals_file)), read_directory_(std::move(read_directory)) {}

mapping::Result<mapping::PrincipalFile> read_principal_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return SyncError{ErrorClass::fatal, fmt::format("principals file {}: cannot be read; check the path and that "
                                                    "the daemon's user may read it",
                                                    path.string())};
  }
  std::stringstream text;
  text << in.rdbuf();
  auto load = mapping::parse_principal_file(text.str(), path.filename().string());
  if (!load.file) {
    return SyncError{ErrorClass::fatal, fmt::format("{}", fmt::join(load.problems, "\n"))};
  }
  return std::move(*load.file);
}

void check_principal_file(const Config& config) {
  if (!config.permissions.principals_file) return;
  auto read = read_principal_file(*config.permissions.principals_file);
  if (read) return;
  std::vector<std::string> problems;
  std::string_view text = read.error().message;
  while (!text.empty()) {
    auto end = text.find('\n');
    problems.emplace_back(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
  }
  throw ConfigError(std::move(problems));
}

mapping::Result<std::shared_ptr<const mapping::PrincipalMap>> PrincipalDirectory::load() const {
  mapping::PrincipalFile file;
  if (principals_file_) {
    auto read = read_principal_file(*principals_file_);
    if (!read) return read.error();
    file = std::move(read).value();
  }
  auto directory = read_directory_();
  if (!directory) return directory.error();
  auto map = mapping::build_principal_map(file, directory.value().first, directory.value().second);
  return std::shared_ptr<const mapping::PrincipalMap>(std::make_shared<mapping::PrincipalMap>(std::move(map)));
}

PrincipalDirectory::DirectoryRead prm_directory_read(const connectors::prm::PrmConnectionSettings& settings,
                                                     const connectors::prm::PartnerDirectoryBinding& binding) {
  return [settings, binding]() -> mapping::Result<std::pair<std::vector<mapping::DirectoryOrg>,
                                                            std::vector<mapping::DirectoryUser>>> {
    auto session = connectors::prm::PrmQuerySession::open(settings);
    if (!session) return session.error();
    auto directory = connectors::prm::read_partner_directory(*session.value(), binding);
    if (!directory) return directory.error();
    std::pair<std::vector<mapping::DirectoryOrg>, std::vector<mapping::DirectoryUser>> out;
    for (const auto& org : directory.value().orgs) out.first.push_back({org.id, org.tier, org.active});
    for (const auto& user : directory.value().users) out.second.push_back({user.id, user.partner_org_id, user.active});
    return out;
  };
}

}  // namespace crmsync::daemon
