#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "tests/emulators/http_message.h"
#include "tests/emulators/tls_identity.h"

namespace crmsync::emulators {

using RequestHandler = std::function<HttpResponse(const HttpRequest&)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;          // 0: the kernel picks one; see HttpServer::port()
  std::optional<TlsIdentity> tls;  // nothing: plain HTTP
  int threads = 4;
};

// An HTTP/1.1 (keep-alive) server, HTTPS when given a TLS identity, over a pool of Asio threads.
// Every request goes to the one handler, which must be thread-safe. The handler's answer may ask
// for a delay (served by a timer, not a blocked thread) or a dropped connection. Owned by main;
// run() blocks until stop() (from any thread) or SIGINT/SIGTERM.
class HttpServer {
 public:
  HttpServer(ServerOptions options, RequestHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::uint16_t port() const;
  bool tls() const;
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crmsync::emulators
