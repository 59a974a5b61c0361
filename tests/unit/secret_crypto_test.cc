#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "state/secret_crypto.h"
#include "tests/support/service_env.h"

namespace crmsync::state {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view kValue = "client-secret-canary-9f3a";

class SecretCrypto : public ::testing::Test {
 protected:
  MasterKey master = MasterKey::generate();
  SealedSecret sealed = seal_secret(master, "salesforce.client_secret", 3, kValue);

  std::string failure(const MasterKey& key, std::string_view name, int version, const SealedSecret& s) {
    auto opened = open_secret(key, name, version, s);
    EXPECT_FALSE(opened.ok());
    if (opened.ok()) return "";
    EXPECT_THAT(opened.error().message, Not(HasSubstr(std::string(kValue))));
    return opened.error().message;
  }
};

TEST_F(SecretCrypto, RoundTrip) {
  auto opened = open_secret(master, "salesforce.client_secret", 3, sealed);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened.value().reveal(), kValue);
  EXPECT_EQ(sealed.master_key_id, master.id());
  EXPECT_EQ(sealed.nonce.size(), 12u);
  EXPECT_EQ(sealed.ciphertext.size(), kValue.size() + 16);
  EXPECT_EQ(sealed.ciphertext.find(kValue), std::string::npos);
}

TEST_F(SecretCrypto, WrongMasterKeyIsNamedAsSuch) {
  MasterKey other = MasterKey::generate();
  EXPECT_THAT(failure(other, "salesforce.client_secret", 3, sealed),
              HasSubstr("wrapped under master key " + master.id()));
}

TEST_F(SecretCrypto, WrongMasterKeyClaimingTheRightIdFailsAuthentication) {
  MasterKey other = MasterKey::generate();
  SealedSecret forged = sealed;
  forged.master_key_id = other.id();
  EXPECT_THAT(failure(other, "salesforce.client_secret", 3, forged), HasSubstr("data key fails authentication"));
}

TEST_F(SecretCrypto, EveryTamperedPartFailsWithAClearError) {
  auto flip_first = [](std::string& bytes) { bytes[0] = static_cast<char>(bytes[0] ^ 0x01); };
  auto flip_last = [](std::string& bytes) { bytes.back() = static_cast<char>(bytes.back() ^ 0x80); };

  SealedSecret ciphertext = sealed;
  flip_first(ciphertext.ciphertext);
  EXPECT_THAT(failure(master, "salesforce.client_secret", 3, ciphertext), HasSubstr("value fails authentication"));

  SealedSecret tag = sealed;
  flip_last(tag.ciphertext);  // the GCM tag is the last 16 bytes
  EXPECT_THAT(failure(master, "salesforce.client_secret", 3, tag), HasSubstr("value fails authentication"));

  SealedSecret nonce = sealed;
  flip_first(nonce.nonce);
  EXPECT_THAT(failure(master, "salesforce.client_secret", 3, nonce), HasSubstr("value fails authentication"));

  SealedSecret wrapped = sealed;
  flip_first(wrapped.wrapped_key);
  EXPECT_THAT(failure(master, "salesforce.client_secret", 3, wrapped), HasSubstr("data key fails authentication"));

  SealedSecret wrap_nonce = sealed;
  flip_first(wrap_nonce.wrap_nonce);
  EXPECT_THAT(failure(master, "salesforce.client_secret", 3, wrap_nonce), HasSubstr("data key fails authentication"));

  SealedSecret truncated = sealed;
  truncated.ciphertext.resize(5);
  EXPECT_THAT(failure(master, "salesforce.client_secret", 3, truncated), HasSubstr("fails authentication"));
}

TEST_F(SecretCrypto, CiphertextMovedToAnotherNameOrVersionDoesNotDecrypt) {
  EXPECT_THAT(failure(master, "dynamics.client_secret", 3, sealed), HasSubstr("fails authentication"));
  EXPECT_THAT(failure(master, "salesforce.client_secret", 4, sealed), HasSubstr("fails authentication"));
}

TEST_F(SecretCrypto, NoncesAndDataKeysAreFreshForEverySeal) {
  std::set<std::string> nonces;
  std::set<std::string> ciphertexts;
  for (int i = 0; i < 200; ++i) {
    SealedSecret again = seal_secret(master, "same", 1, kValue);
    nonces.insert(again.nonce);
    nonces.insert(again.wrap_nonce);
    ciphertexts.insert(again.ciphertext);
  }
  EXPECT_EQ(nonces.size(), 400u);
  EXPECT_EQ(ciphertexts.size(), 200u);
}

TEST_F(SecretCrypto, RewrapMovesTheDataKeyToTheNewMasterKey) {
  MasterKey next = MasterKey::generate();
  auto rewrapped = rewrap_secret(master, next, "salesforce.client_secret", 3, sealed);
  ASSERT_TRUE(rewrapped.ok()) << rewrapped.error().message;
  EXPECT_EQ(rewrapped.value().ciphertext, sealed.ciphertext);
  EXPECT_EQ(open_secret(next, "salesforce.client_secret", 3, rewrapped.value()).value().reveal(), kValue);
  EXPECT_FALSE(open_secret(master, "salesforce.client_secret", 3, rewrapped.value()).ok());
}

class MasterKeyFile : public ::testing::Test {
 protected:
  std::filesystem::path dir = std::filesystem::temp_directory_path() / crmsync::testing::unique_name("mk");
  void SetUp() override { std::filesystem::create_directories(dir); }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::filesystem::path write(const std::string& content, mode_t mode) {
    auto path = dir / "master.key";
    std::ofstream(path) << content;
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::string error_of(const std::filesystem::path& path) {
    try {
      MasterKey::from_file(path);
    } catch (const std::runtime_error& error) {
      return error.what();
    }
    return "";
  }
};

TEST_F(MasterKeyFile, Base64KeyWithOwnerOnlyModeLoads) {
  MasterKey key = MasterKey::generate();
  auto loaded = MasterKey::from_file(write(key.to_base64().reveal() + "\n", 0600));
  EXPECT_EQ(loaded.id(), key.id());
}

TEST_F(MasterKeyFile, WorldOrGroupReadableFileIsRefused) {
  MasterKey key = MasterKey::generate();
  EXPECT_THAT(error_of(write(key.to_base64().reveal(), 0644)), HasSubstr("chmod 600"));
  EXPECT_THAT(error_of(write(key.to_base64().reveal(), 0640)), HasSubstr("lets group or others access it"));
}

TEST_F(MasterKeyFile, WrongLengthOrNotBase64IsRefusedWithoutEchoingIt) {
  EXPECT_THAT(error_of(write("c2hvcnQ=", 0600)), HasSubstr("must be 32 bytes"));
  std::string not_base64 = "this is not base64 at all!!";
  std::string error = error_of(write(not_base64, 0600));
  EXPECT_THAT(error, HasSubstr("not base64"));
  EXPECT_THAT(error, Not(HasSubstr(not_base64)));
}

}  // namespace
}  // namespace crmsync::state
