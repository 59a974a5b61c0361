#pragma once

#include <string>

#include "mapping/secret.h"
#include "mapping/sync_error.h"

namespace crmsync::mapping {

// Where connectors get credentials (client secrets, signing keys, refresh tokens, passwords). The
// connectors do not know which implementation they have: the encrypted store in the state
// database (state/store_secret_provider.h) or credential files (state/file_secret_provider.h).
// Ask for the value each time a credential is needed (implementations cache), so that a rotated
// secret is used from the next token request on without a restart. Thread-safe.
class SecretProvider {
 public:
  virtual ~SecretProvider() = default;

  // The value to use now. `invalid` when the secret does not exist, `transient` when its store
  // cannot be reached.
  virtual Result<SecretString> current(const std::string& name) = 0;

  // Persists a new current value that the other side issued on use (an OAuth refresh token it
  // rotated), before the caller uses what came with it. A provider that cannot store (files)
  // answers `auth`.
  virtual Status store_rotated(const std::string& name, const SecretString& value) = 0;
};

}  // namespace crmsync::mapping
