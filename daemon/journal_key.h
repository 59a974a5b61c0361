#pragma once

#include "daemon/config.h"
#include "mapping/secret.h"
#include "mapping/secret_provider.h"
#include "mapping/sync_error.h"

namespace crmsync::state {
class StateDatabase;
}

namespace crmsync::daemon {

// The journal's HMAC key (DESIGN §4), decoded: from journal.key_file when it is set (a credential
// file, mode 0600 or stricter, holding base64 of at least 32 random bytes), otherwise the secret
// store's current value of journal.key_secret (default "journal-hmac-key"; the same base64 text).
// A key that is missing is an `invalid` error telling the operator how to create it; a key is
// never generated here. Errors never contain the key.

// For commands: opens the secret store on `database` with the master key of [secrets].
mapping::Result<mapping::SecretString> load_journal_key(const Config& config,
                                                        state::StateDatabase& database);

// For the running daemon: reads the store through its provider (`secrets` may be null when the
// configuration has no [secrets]; then only journal.key_file can give the key).
mapping::Result<mapping::SecretString> load_journal_key(const Config& config,
                                                        mapping::SecretProvider* secrets);

}  // namespace crmsync::daemon
