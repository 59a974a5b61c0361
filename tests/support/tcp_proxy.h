#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace crmsync::testing {

// A TCP forwarder on 127.0.0.1 between a process under test and a real service, that a test can
// cut (every open connection is closed and new ones are closed on accept, as when a database
// host becomes unreachable) and restore. For tests only: one thread per direction per connection.
class TcpProxy {
 public:
  explicit TcpProxy(std::uint16_t target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  std::uint16_t port() const { return port_; }
  void cut();
  // Keeps every connection open but forwards nothing, as a host that stops answering without
  // closing anything (TCP itself still acknowledges, so only timeouts above TCP notice).
  void stall();
  void restore();  // ends a cut or a stall

 private:
  void accept_loop();
  void forward(int from, int to);
  void close_connections();

  std::uint16_t target_port_;
  std::uint16_t port_ = 0;
  int listener_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> cut_{false};
  std::atomic<bool> stalled_{false};
  std::mutex mutex_;
  std::vector<int> sockets_;  // open connections (both ends), shut down by cut()
  std::vector<int> owned_;    // every descriptor, closed by the destructor
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace crmsync::testing
