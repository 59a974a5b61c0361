#include "state/file_secret_provider.h"

#include <fmt/format.h>

#include "state/credential_file.h"

namespace crmsync::state {

FileSecretProvider::FileSecretProvider(std::map<std::string, std::filesystem::path> files)
    : files_(std::move(files)) {}

mapping::Result<mapping::SecretString> FileSecretProvider::current(const std::string& name) {
  auto it = files_.find(name);
  if (it == files_.end()) {
    return mapping::SyncError{mapping::ErrorClass::invalid,
                              fmt::format("secret {}: no credential file is configured for it", name)};
  }
  try {
    return read_credential_file(it->second);
  } catch (const std::exception& error) {
    return mapping::SyncError{mapping::ErrorClass::auth, fmt::format("secret {}: {}", name, error.what())};
  }
}

mapping::Status FileSecretProvider::store_rotated(const std::string& name, const mapping::SecretString&) {
  return mapping::SyncError{mapping::ErrorClass::auth,
                            fmt::format("secret {}: credential files are read-only; a CRM that rotates "
                                        "refresh tokens needs the encrypted secret store ([secrets])",
                                        name)};
}

}  // namespace crmsync::state
