#pragma once

#include <filesystem>
#include <stdexcept>

#include "mapping/secret.h"

namespace crmsync::state {

// Reads a credential (a password, a key) from a file: systemd's LoadCredential= directory, a
// Kubernetes secret mount, or a local file with mode 0600. Refuses a file that its group or
// others may read or write, because then the secret is not ours alone. One trailing newline is
// removed. Throws std::runtime_error naming the file and what to do; never the value.
mapping::SecretString read_credential_file(const std::filesystem::path& file);

}  // namespace crmsync::state
