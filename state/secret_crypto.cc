#include "state/secret_crypto.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>
#include <optional>
#include <stdexcept>

#include "state/credential_file.h"

namespace crmsync::state {

namespace {

constexpr std::size_t kNonceSize = 12;
constexpr std::size_t kTagSize = 16;

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

std::string random_bytes(std::size_t count) {
  std::string out(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1) {
    throw std::runtime_error("secret store: the system random generator failed");
  }
  return out;
}

const unsigned char* bytes_of(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

// AES-256-GCM: returns ciphertext with the tag appended.
std::string gcm_encrypt(std::string_view key, std::string_view nonce, std::string_view aad,
                        std::string_view plaintext) {
  CipherContext ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string out(plaintext.size() + kTagSize, '\0');
  int length = 0;
  int total = 0;
  bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) == 1 &&
            EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, bytes_of(key), bytes_of(nonce)) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &length, bytes_of(aad), static_cast<int>(aad.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &length,
                              bytes_of(plaintext), static_cast<int>(plaintext.size())) == 1;
  total = length;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + total, &length) == 1;
  total += length;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize),
                                 out.data() + total) == 1;
  if (!ok) throw std::runtime_error("secret store: AES-256-GCM encryption failed");
  out.resize(static_cast<std::size_t>(total) + kTagSize);
  return out;
}

// AES-256-GCM decryption; nothing when authentication fails.
std::optional<mapping::SecretString> gcm_decrypt(std::string_view key, std::string_view nonce,
                                                 std::string_view aad, std::string_view sealed) {
  if (sealed.size() < kTagSize || nonce.size() != kNonceSize) return std::nullopt;
  std::string_view ciphertext = sealed.substr(0, sealed.size() - kTagSize);
  std::string tag(sealed.substr(sealed.size() - kTagSize));
  CipherContext ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string out(ciphertext.size(), '\0');
  int length = 0;
  bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) == 1 &&
            EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, bytes_of(key), bytes_of(nonce)) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &length, bytes_of(aad), static_cast<int>(aad.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &length,
                              bytes_of(ciphertext), static_cast<int>(ciphertext.size())) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize), tag.data()) == 1;
  int total = length;
  ok = ok && EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + total, &length) == 1;
  if (!ok) {
    mapping::SecretString wipe(std::move(out));  // the destructor overwrites what was decrypted
    return std::nullopt;
  }
  out.resize(static_cast<std::size_t>(total + length));
  return mapping::SecretString(std::move(out));
}

std::string value_aad(std::string_view name, int version) {
  return fmt::format("crmsync-secret:v1|{}|{}", name, version);
}

std::string key_aad(std::string_view name, int version, std::string_view master_key_id) {
  return fmt::format("crmsync-data-key:v1|{}|{}|{}", name, version, master_key_id);
}

std::string fingerprint(std::string_view key) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  std::string input = "crmsync-master-key-id:v1|" + std::string(key);
  EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha256(), nullptr);
  mapping::SecretString wipe(std::move(input));
  std::string id;
  for (int i = 0; i < 8; ++i) id += fmt::format("{:02x}", digest[i]);
  return id;
}

mapping::Result<mapping::SecretString> unwrap_data_key(const MasterKey& master, std::string_view name,
                                                       int version, const SealedSecret& sealed) {
  if (sealed.master_key_id != master.id()) {
    return mapping::SyncError{
        mapping::ErrorClass::auth,
        fmt::format("secret {} v{}: wrapped under master key {}, but the configured master key is {}; "
                    "configure the key it was written with (or finish `crmsync secrets rotate-master`)",
                    name, version, sealed.master_key_id, master.id())};
  }
  auto data_key = gcm_decrypt(master.bytes().reveal(), sealed.wrap_nonce,
                              key_aad(name, version, sealed.master_key_id), sealed.wrapped_key);
  if (!data_key || data_key->reveal().size() != MasterKey::kSize) {
    return mapping::SyncError{mapping::ErrorClass::fatal,
                              fmt::format("secret {} v{}: its data key fails authentication (the stored "
                                          "key, its nonce or tag was altered, or it belongs to another "
                                          "secret or version)",
                                          name, version)};
  }
  return std::move(*data_key);
}

}  // namespace

MasterKey::MasterKey(mapping::SecretString bytes) : bytes_(std::move(bytes)), id_(fingerprint(bytes_.reveal())) {}

MasterKey MasterKey::from_base64(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
  std::string decoded(text.size(), '\0');
  int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()), bytes_of(text),
                               static_cast<int>(text.size()));
  if (length < 0 || text.size() % 4 != 0) {
    mapping::SecretString wipe(std::move(decoded));
    throw std::runtime_error("master key: not base64; generate one with `crmsync secrets generate-master-key`");
  }
  // EVP_DecodeBlock counts padding as data: remove it.
  std::size_t padding = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
  decoded.resize(static_cast<std::size_t>(length) - padding);
  if (decoded.size() != kSize) {
    mapping::SecretString wipe(std::move(decoded));
    throw std::runtime_error(fmt::format("master key: must be {} bytes (base64), got {}; generate one with "
                                         "`crmsync secrets generate-master-key`",
                                         kSize, length - static_cast<int>(padding)));
  }
  return MasterKey(mapping::SecretString(std::move(decoded)));
}

MasterKey MasterKey::from_file(const std::filesystem::path& file) {
  mapping::SecretString text = read_credential_file(file);
  try {
    return from_base64(text.reveal());
  } catch (const std::runtime_error& error) {
    throw std::runtime_error(fmt::format("{} ({})", error.what(), file.string()));
  }
}

MasterKey MasterKey::generate() { return MasterKey(mapping::SecretString(random_bytes(kSize))); }

mapping::SecretString MasterKey::to_base64() const {
  std::string out(4 * ((kSize + 2) / 3) + 1, '\0');
  int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes_of(bytes_.reveal()),
                               static_cast<int>(kSize));
  out.resize(static_cast<std::size_t>(length));
  return mapping::SecretString(std::move(out));
}

SealedSecret seal_secret(const MasterKey& master, std::string_view name, int version,
                         std::string_view plaintext) {
  mapping::SecretString data_key(random_bytes(MasterKey::kSize));
  SealedSecret sealed;
  sealed.master_key_id = master.id();
  sealed.nonce = random_bytes(kNonceSize);  // a fresh key per version: the nonce is never reused with it
  sealed.ciphertext = gcm_encrypt(data_key.reveal(), sealed.nonce, value_aad(name, version), plaintext);
  sealed.wrap_nonce = random_bytes(kNonceSize);
  sealed.wrapped_key = gcm_encrypt(master.bytes().reveal(), sealed.wrap_nonce,
                                   key_aad(name, version, master.id()), data_key.reveal());
  return sealed;
}

mapping::Result<mapping::SecretString> open_secret(const MasterKey& master, std::string_view name,
                                                   int version, const SealedSecret& sealed) {
  auto data_key = unwrap_data_key(master, name, version, sealed);
  if (!data_key) return data_key.error();
  auto value = gcm_decrypt(data_key.value().reveal(), sealed.nonce, value_aad(name, version), sealed.ciphertext);
  if (!value) {
    return mapping::SyncError{mapping::ErrorClass::fatal,
                              fmt::format("secret {} v{}: its value fails authentication (ciphertext, "
                                          "nonce or tag altered, or moved from another secret or version)",
                                          name, version)};
  }
  return std::move(*value);
}

mapping::Result<SealedSecret> rewrap_secret(const MasterKey& from, const MasterKey& to, std::string_view name,
                                            int version, const SealedSecret& sealed) {
  auto data_key = unwrap_data_key(from, name, version, sealed);
  if (!data_key) return data_key.error();
  SealedSecret rewrapped = sealed;
  rewrapped.master_key_id = to.id();
  rewrapped.wrap_nonce = random_bytes(kNonceSize);
  rewrapped.wrapped_key = gcm_encrypt(to.bytes().reveal(), rewrapped.wrap_nonce,
                                      key_aad(name, version, to.id()), data_key.value().reveal());
  return rewrapped;
}

}  // namespace crmsync::state
