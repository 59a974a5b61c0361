#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "mapping/secret.h"
#include "mapping/sync_error.h"

namespace crmsync::state {

// The key that wraps every data key (DESIGN §5). 32 random bytes, kept in a file as base64 (from
// systemd LoadCredential=, a Kubernetes secret mount, or a mode-0600 file); never in the config,
// never logged. `id` is a short fingerprint (not the key) recorded beside every wrapped data key,
// so that the wrong master key is named as such instead of failing as "corrupt data".
class MasterKey {
 public:
  static constexpr std::size_t kSize = 32;

  // Reads and checks a master key file (owner-only permissions, base64 of exactly 32 bytes).
  // Throws std::runtime_error naming the file and what to do.
  static MasterKey from_file(const std::filesystem::path& file);
  // From base64 text; throws on anything but 32 bytes.
  static MasterKey from_base64(std::string_view text);
  // A fresh random key (for `crmsync secrets generate-master-key`).
  static MasterKey generate();

  const std::string& id() const { return id_; }
  const mapping::SecretString& bytes() const { return bytes_; }
  mapping::SecretString to_base64() const;

 private:
  explicit MasterKey(mapping::SecretString bytes);
  mapping::SecretString bytes_;
  std::string id_;
};

// One secret version at rest: the value under its own random data key (AES-256-GCM), and that
// data key under the master key (AES-256-GCM). Both carry associated data naming the secret and
// version, so a ciphertext copied to another row does not decrypt.
struct SealedSecret {
  std::string master_key_id;
  std::string wrapped_key;  // ciphertext + 16-byte tag
  std::string wrap_nonce;   // 12 bytes
  std::string ciphertext;   // ciphertext + 16-byte tag
  std::string nonce;        // 12 bytes
};

SealedSecret seal_secret(const MasterKey& master, std::string_view name, int version,
                         std::string_view plaintext);

// Decrypts a sealed version. A different master key, or any changed byte (ciphertext, nonce, tag,
// name, version), is an error that says which check failed; it never returns wrong plaintext.
mapping::Result<mapping::SecretString> open_secret(const MasterKey& master, std::string_view name,
                                                   int version, const SealedSecret& sealed);

// Re-wraps the data key of a sealed version under `to` (master key rotation); the value's
// ciphertext is untouched.
mapping::Result<SealedSecret> rewrap_secret(const MasterKey& from, const MasterKey& to,
                                            std::string_view name, int version,
                                            const SealedSecret& sealed);

}  // namespace crmsync::state
