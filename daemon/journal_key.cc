#include "daemon/journal_key.h"

#include <fmt/format.h>

#include "state/credential_file.h"
#include "state/journal.h"
#include "state/secret_crypto.h"
#include "state/secret_store.h"
#include "state/state_database.h"

namespace crmsync::daemon {

namespace {

using mapping::ErrorClass;
using mapping::SyncError;

JournalSection journal_section(const Config& config) {
  return config.journal.value_or(JournalSection{});
}

SyncError in_context(const SyncError& error, std::string_view where) {
  return {error.error_class, fmt::format("{} ({})", error.message, where)};
}

mapping::Result<mapping::SecretString> decoded(const mapping::SecretString& text,
                                               std::string_view where) {
  auto key = state::decode_journal_key(text);
  if (!key) return in_context(key.error(), where);
  return key;
}

mapping::Result<mapping::SecretString> from_file(const std::filesystem::path& file) {
  try {
    return decoded(state::read_credential_file(file), "journal.key_file " + file.string());
  } catch (const std::exception& error) {
    return SyncError{ErrorClass::invalid, fmt::format("journal key: {}", error.what())};
  }
}

SyncError no_store(const std::string& name) {
  return {ErrorClass::invalid, fmt::format("journal key: journal.key_file is not set and there is "
                                           "no [secrets] store to read secret \"{}\" "
                                           "from; set journal.key_file or configure [secrets]",
                                           name)};
}

SyncError not_in_store(const std::string& name) {
  return {ErrorClass::invalid, fmt::format("journal key: the secret store has no current secret "
                                           "\"{}\"; create it with `openssl rand "
                                           "-base64 32 > F && chmod 600 F && crmsync secrets put "
                                           "{} --from-file F` (then remove F), or set "
                                           "journal.key_file",
                                           name, name)};
}

}  // namespace

mapping::Result<mapping::SecretString> load_journal_key(const Config& config,
                                                        state::StateDatabase& database) {
  JournalSection journal = journal_section(config);
  if (journal.key_file) return from_file(*journal.key_file);
  if (!config.secrets) return no_store(journal.key_secret);
  std::optional<state::MasterKey> master;
  try {
    master = state::MasterKey::from_file(config.secrets->master_key_file);
  } catch (const std::exception& error) {
    return SyncError{ErrorClass::invalid, fmt::format("journal key: {}", error.what())};
  }
  state::SecretStore store(
      database, *master,
      std::chrono::duration_cast<std::chrono::seconds>(config.secrets->previous_grace));
  auto versions = store.current_versions();
  if (!versions)
    return in_context(versions.error(), "reading the journal key from the secret store");
  if (!versions.value().contains(journal.key_secret)) return not_in_store(journal.key_secret);
  auto text = store.current(journal.key_secret);
  if (!text) return in_context(text.error(), "reading the journal key from the secret store");
  return decoded(text.value(), "secret \"" + journal.key_secret + "\"");
}

mapping::Result<mapping::SecretString> load_journal_key(const Config& config,
                                                        mapping::SecretProvider* secrets) {
  JournalSection journal = journal_section(config);
  if (journal.key_file) return from_file(*journal.key_file);
  if (secrets == nullptr) return no_store(journal.key_secret);
  auto text = secrets->current(journal.key_secret);
  if (!text) {
    // The provider's contract: `invalid` means the secret does not exist.
    if (text.error().error_class == ErrorClass::invalid) return not_in_store(journal.key_secret);
    return in_context(text.error(), "reading the journal key from the secret store");
  }
  return decoded(text.value(), "secret \"" + journal.key_secret + "\"");
}

}  // namespace crmsync::daemon
