#include "tests/support/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace crmsync::testing {

namespace {

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

}  // namespace

TcpProxy::TcpProxy(std::uint16_t target_port) : target_port_(target_port) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address = loopback(0);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener_, 64) != 0) {
    throw std::runtime_error("TcpProxy: cannot listen on 127.0.0.1");
  }
  socklen_t length = sizeof address;
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TcpProxy::~TcpProxy() {
  stopping_ = true;
  acceptor_.join();
  ::close(listener_);
  close_connections();
  for (auto& thread : threads_) thread.join();
  for (int fd : owned_) ::close(fd);
}

void TcpProxy::cut() {
  cut_ = true;
  close_connections();
}

void TcpProxy::stall() { stalled_ = true; }

void TcpProxy::restore() {
  cut_ = false;
  stalled_ = false;
}

void TcpProxy::close_connections() {
  std::lock_guard lock(mutex_);
  // shutdown() wakes the forwarding threads; they close their own descriptors.
  for (int fd : sockets_) ::shutdown(fd, SHUT_RDWR);
  sockets_.clear();
}

void TcpProxy::accept_loop() {
  while (!stopping_) {
    pollfd waiting{listener_, POLLIN, 0};
    if (::poll(&waiting, 1, 50) <= 0) continue;
    int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    if (cut_) {
      ::close(client);
      continue;
    }
    int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in target = loopback(target_port_);
    if (::connect(upstream, reinterpret_cast<sockaddr*>(&target), sizeof target) != 0) {
      ::close(client);
      ::close(upstream);
      continue;
    }
    std::lock_guard lock(mutex_);
    sockets_.push_back(client);
    sockets_.push_back(upstream);
    owned_.push_back(client);
    owned_.push_back(upstream);
    threads_.emplace_back([this, client, upstream] { forward(client, upstream); });
    threads_.emplace_back([this, client, upstream] { forward(upstream, client); });
  }
}

void TcpProxy::forward(int from, int to) {
  char buffer[16 * 1024];
  while (true) {
    ssize_t got = ::recv(from, buffer, sizeof buffer, 0);
    if (got <= 0) break;
    while (stalled_ && !stopping_ && !cut_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ssize_t sent = 0;
    while (sent < got) {
      ssize_t n = ::send(to, buffer + sent, static_cast<std::size_t>(got - sent), MSG_NOSIGNAL);
      if (n <= 0) {
        got = -1;
        break;
      }
      sent += n;
    }
    if (got < 0) break;
  }
  ::shutdown(to, SHUT_RDWR);
  ::shutdown(from, SHUT_RDWR);
}

}  // namespace crmsync::testing
