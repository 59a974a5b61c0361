#include "daemon/admin_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <thread>

#include "daemon/admin_routes.h"

namespace crmsync::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kReadTimeout = std::chrono::seconds(10);
constexpr std::size_t kMaxRequestBytes = 16 * 1024;

// One client connection: read a request, answer it, repeat while keep-alive.
class AdminSession : public std::enable_shared_from_this<AdminSession> {
 public:
  AdminSession(tcp::socket socket, const AdminRoutes& routes)
      : stream_(std::move(socket)), routes_(routes) {}

  void start() { read_request(); }

 private:
  void read_request() {
    parser_.emplace();
    parser_->header_limit(kMaxRequestBytes);
    parser_->body_limit(kMaxRequestBytes);
    stream_.expires_after(kReadTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code error, std::size_t) {
                       self->on_read(error);
                     });
  }

  void on_read(beast::error_code error) {
    if (error) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      return;
    }
    const auto& request = parser_->get();
    AdminResponse answer = routes_.handle(std::string_view(request.method_string().data(),
                                                           request.method_string().size()),
                                          std::string_view(request.target().data(),
                                                           request.target().size()));
    auto response = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(answer.status), request.version());
    response->set(http::field::server, "crmsync");
    response->set(http::field::content_type, answer.content_type);
    response->set(http::field::cache_control, "no-store");
    response->keep_alive(request.keep_alive());
    bool head = request.method() == http::verb::head;
    response->body() = std::move(answer.body);
    response->prepare_payload();
    if (head) response->body().clear();
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response](beast::error_code write_error, std::size_t) {
                        if (write_error || !response->keep_alive()) {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
                          return;
                        }
                        self->read_request();
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const AdminRoutes& routes_;
};

}  // namespace

struct AdminServer::Impl {
  Impl(const AdminRoutes& r, std::shared_ptr<spdlog::logger> log)
      : routes(r), logger(std::move(log)), acceptor(io) {}

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code error, tcp::socket socket) {
      if (error == asio::error::operation_aborted) return;
      if (error) {
        logger->warn("admin accept failed error=\"{}\"", error.message());
      } else {
        std::make_shared<AdminSession>(std::move(socket), routes)->start();
      }
      accept();
    });
  }

  const AdminRoutes& routes;
  std::shared_ptr<spdlog::logger> logger;
  asio::io_context io{1};
  tcp::acceptor acceptor;
  std::thread thread;
};

AdminServer::AdminServer(const AdminRoutes& routes, std::shared_ptr<spdlog::logger> logger)
    : impl_(std::make_unique<Impl>(routes, std::move(logger))) {}

AdminServer::~AdminServer() { stop(); }

std::uint16_t AdminServer::start(const std::string& host, std::uint16_t port) {
  beast::error_code error;
  auto address = asio::ip::make_address(host, error);
  if (error) {
    throw std::runtime_error(fmt::format("admin.listen: \"{}\" is not an IP address", host));
  }
  tcp::endpoint endpoint(address, port);
  auto fail = [&](std::string_view step) {
    throw std::runtime_error(fmt::format("admin endpoint {}:{}: {} failed: {}; choose another "
                                         "admin.listen",
                                         host, port, step, error.message()));
  };
  impl_->acceptor.open(endpoint.protocol(), error);
  if (error) fail("open");
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true), error);
  if (error) fail("set SO_REUSEADDR");
  impl_->acceptor.bind(endpoint, error);
  if (error) fail("bind");
  impl_->acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) fail("listen");
  std::uint16_t bound = impl_->acceptor.local_endpoint().port();
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
  impl_->logger->info("admin endpoint listening address={}:{}", host, bound);
  return bound;
}

void AdminServer::stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  asio::post(impl_->io, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  impl_->io.stop();
  impl_->thread.join();
}

}  // namespace crmsync::daemon
