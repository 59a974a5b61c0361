#include "tests/emulators/http_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <thread>
#include <vector>

namespace crmsync::emulators {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(120);
constexpr std::size_t kMaxBodyBytes = 64 * 1024 * 1024;
constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;  // long SOQL and OData query strings

// One client connection over Stream (plain or TLS): read, answer, repeat while keep-alive.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Stream stream, const RequestHandler& handler, std::string scheme)
      : stream_(std::move(stream)),
        handler_(handler),
        scheme_(std::move(scheme)),
        timer_(stream_.get_executor()) {}

  void start_plain() { read_request(); }

  void start_tls() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    stream_.async_handshake(ssl::stream_base::server,
                            [self = this->shared_from_this()](beast::error_code error) {
                              if (!error) self->read_request();
                            });
  }

 private:
  void read_request() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(kMaxBodyBytes);
    beast::get_lowest_layer(stream_).expires_after(kIdleTimeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](
                                beast::error_code error, std::size_t) { self->on_header(error); });
  }

  // libcurl sends "Expect: 100-continue" before large bodies and waits for the interim answer.
  void on_header(beast::error_code error) {
    if (error) {
      close();
      return;
    }
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      continue_ = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      http::async_write(
          stream_, *continue_,
          [self = this->shared_from_this()](beast::error_code write_error, std::size_t) {
            if (write_error) {
              self->close();
              return;
            }
            self->read_body();
          });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code error, std::size_t) {
                       self->on_read(error);
                     });
  }

  void on_read(beast::error_code error) {
    if (error) {
      close();
      return;
    }
    const auto& message = parser_->get();
    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    for (const auto& field : message) {
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request.body = message.body();
    std::string host(message[http::field::host]);
    request.base_url = scheme_ + "://" + (host.empty() ? std::string("127.0.0.1") : host);
    keep_alive_ = message.keep_alive();
    version_ = message.version();
    head_ = message.method() == http::verb::head;
    try {
      answer_ = handler_(request);
    } catch (const std::exception& failure) {
      // A bug in an emulator: answer it visibly instead of taking the server down.
      answer_ = HttpResponse{};
      answer_.status = 500;
      answer_.set_header("Content-Type", "text/plain");
      answer_.body = std::string("crm-emulator: internal error: ") + failure.what();
    }
    if (answer_.delay.count() > 0) {
      timer_.expires_after(answer_.delay);
      timer_.async_wait(
          [self = this->shared_from_this()](beast::error_code) { self->write_answer(); });
    } else {
      write_answer();
    }
  }

  void write_answer() {
    if (answer_.drop_connection) {
      answer_.held_until_sent.reset();
      beast::error_code ignored;
      beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(stream_).socket().close(ignored);
      return;
    }
    response_ = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(answer_.status), version_);
    response_->reason(reason_phrase(answer_.status));
    for (const auto& [name, value] : answer_.headers) response_->insert(name, value);
    response_->keep_alive(keep_alive_);
    response_->body() = std::move(answer_.body);
    if (answer_.status == 204 || answer_.status == 304) {
      response_->body().clear();
      response_->content_length(boost::none);
    } else {
      response_->prepare_payload();
      if (head_) response_->body().clear();
    }
    http::async_write(stream_, *response_,
                      [self = this->shared_from_this()](beast::error_code error, std::size_t) {
                        self->answer_.held_until_sent.reset();
                        if (error || !self->keep_alive_) {
                          self->close();
                          return;
                        }
                        self->read_request();
                      });
  }

  void close() {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  Stream stream_;
  const RequestHandler& handler_;
  std::string scheme_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpResponse answer_;
  std::shared_ptr<http::response<http::string_body>> response_;
  std::shared_ptr<http::response<http::empty_body>> continue_;
  bool keep_alive_ = true;
  bool head_ = false;
  unsigned version_ = 11;
};

}  // namespace

struct HttpServer::Impl {
  ServerOptions options;
  RequestHandler handler;
  asio::io_context io;
  ssl::context tls_context{ssl::context::tls_server};
  tcp::acceptor acceptor{io};
  std::vector<std::thread> threads;

  void accept() {
    acceptor.async_accept(
        asio::make_strand(io), [this](beast::error_code error, tcp::socket socket) {
          if (error) {
            if (acceptor.is_open()) accept();
            return;
          }
          socket.set_option(tcp::no_delay(true));
          if (options.tls) {
            using TlsStream = beast::ssl_stream<beast::tcp_stream>;
            std::make_shared<Session<TlsStream>>(
                TlsStream(beast::tcp_stream(std::move(socket)), tls_context), handler, "https")
                ->start_tls();
          } else {
            std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)),
                                                         handler, "http")
                ->start_plain();
          }
          accept();
        });
  }
};

HttpServer::HttpServer(ServerOptions options, RequestHandler handler)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
  if (impl_->options.tls) {
    auto& ctx = impl_->tls_context;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    ctx.use_certificate_chain(asio::buffer(impl_->options.tls->cert_pem));
    ctx.use_private_key(asio::buffer(impl_->options.tls->key_pem), ssl::context::pem);
  }
  tcp::endpoint endpoint(asio::ip::make_address(impl_->options.host), impl_->options.port);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen(asio::socket_base::max_listen_connections);
}

HttpServer::~HttpServer() {
  stop();
}

std::uint16_t HttpServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}

bool HttpServer::tls() const {
  return impl_->options.tls.has_value();
}

void HttpServer::run() {
  asio::signal_set signals(impl_->io, SIGINT, SIGTERM);
  signals.async_wait([this](beast::error_code, int) { impl_->io.stop(); });
  impl_->accept();
  for (int i = 1; i < impl_->options.threads; ++i) {
    impl_->threads.emplace_back([this] { impl_->io.run(); });
  }
  impl_->io.run();
  for (auto& thread : impl_->threads) {
    if (thread.joinable()) thread.join();
  }
}

void HttpServer::stop() {
  impl_->io.stop();
}

}  // namespace crmsync::emulators
