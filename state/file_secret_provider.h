#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "mapping/secret_provider.h"

namespace crmsync::state {

// Secrets as credential files, one per name (systemd LoadCredential=, Kubernetes secret mounts,
// mode-0600 files): for deployments without the encrypted store. Read on every call, so a file
// replaced in place is picked up at once. Cannot persist rotated values.
class FileSecretProvider final : public mapping::SecretProvider {
 public:
  explicit FileSecretProvider(std::map<std::string, std::filesystem::path> files);
  mapping::Result<mapping::SecretString> current(const std::string& name) override;
  mapping::Status store_rotated(const std::string& name, const mapping::SecretString& value) override;

 private:
  std::map<std::string, std::filesystem::path> files_;
};

}  // namespace crmsync::state
