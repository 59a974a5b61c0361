#include "state/credential_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace crmsync::state {

mapping::SecretString read_credential_file(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    throw std::runtime_error(fmt::format("credential file {}: cannot open: {}", file.string(),
                                         std::strerror(errno)));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    int saved = errno;
    ::close(fd);
    throw std::runtime_error(fmt::format("credential file {}: cannot stat: {}", file.string(),
                                         std::strerror(saved)));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    throw std::runtime_error(fmt::format("credential file {}: not a regular file", file.string()));
  }
  if ((info.st_mode & 077) != 0) {
    ::close(fd);
    throw std::runtime_error(fmt::format(
        "credential file {}: mode {:o} lets group or others access it; run chmod 600 {}",
        file.string(), info.st_mode & 0777, file.string()));
  }
  std::string value;
  char buffer[4096];
  while (true) {
    ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      int saved = errno;
      ::close(fd);
      throw std::runtime_error(fmt::format("credential file {}: read failed: {}", file.string(),
                                           std::strerror(saved)));
    }
    if (got == 0) break;
    value.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  std::memset(buffer, 0, sizeof buffer);
  if (!value.empty() && value.back() == '\n') value.pop_back();
  if (!value.empty() && value.back() == '\r') value.pop_back();
  if (value.empty()) {
    throw std::runtime_error(fmt::format("credential file {}: empty", file.string()));
  }
  return mapping::SecretString(std::move(value));
}

}  // namespace crmsync::state
