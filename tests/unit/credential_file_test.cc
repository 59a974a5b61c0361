#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "state/credential_file.h"
#include "tests/support/service_env.h"

namespace crmsync::state {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

class CredentialFileTest : public ::testing::Test {
 protected:
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              crmsync::testing::unique_name("crmsync_cred");
  void SetUp() override { std::filesystem::create_directories(dir); }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::filesystem::path write(const std::string& name, const std::string& content, mode_t mode) {
    auto path = dir / name;
    std::ofstream(path) << content;
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::string error_of(const std::filesystem::path& path) {
    try {
      read_credential_file(path);
    } catch (const std::runtime_error& error) {
      return error.what();
    }
    return "";
  }
};

TEST_F(CredentialFileTest, ReadsOwnerOnlyFileWithoutTrailingNewline) {
  auto path = write("pw", "s3cret-value\n", 0600);
  EXPECT_EQ(read_credential_file(path).reveal(), "s3cret-value");
  auto read_only = write("pw2", "other", 0400);
  EXPECT_EQ(read_credential_file(read_only).reveal(), "other");
}

TEST_F(CredentialFileTest, RefusesGroupOrWorldAccessWithoutShowingTheValue) {
  auto path = write("pw", "s3cret-value", 0644);
  EXPECT_THAT(error_of(path), AllOf(HasSubstr("mode 644"), HasSubstr("chmod 600"),
                                    Not(HasSubstr("s3cret-value"))));
  auto group = write("pw-group", "s3cret-value", 0640);
  EXPECT_THAT(error_of(group), HasSubstr("mode 640"));
}

TEST_F(CredentialFileTest, MissingEmptyAndNonRegularFilesAreRefused) {
  EXPECT_THAT(error_of(dir / "absent"), HasSubstr("cannot open"));
  EXPECT_THAT(error_of(write("empty", "\n", 0600)), HasSubstr("empty"));
  ::chmod(dir.c_str(), 0700);
  EXPECT_THAT(error_of(dir), HasSubstr("not a regular file"));
}

TEST_F(CredentialFileTest, RefusesASymlink) {
  auto target = write("real", "value", 0600);
  std::filesystem::create_symlink(target, dir / "link");
  EXPECT_THAT(error_of(dir / "link"), HasSubstr("cannot open"));
}

}  // namespace
}  // namespace crmsync::state
