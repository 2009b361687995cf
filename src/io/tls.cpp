// tls.cpp: OpenSSL contexts for servers and clients.
#include "troupe/io/tls.hpp"

#include <boost/asio/buffer.hpp>

#include "conn_state.hpp"

namespace troupe::io {

namespace ssl = boost::asio::ssl;

namespace {
error tls_error(const boost::system::error_code& ec, const char* what) {
  return error(std::error_code(ec), std::string(what) + ": " + ec.message());
}
constexpr auto modern = ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use;
}  // namespace

result<tls_context> tls_context::server(std::string_view cert_chain_pem, std::string_view private_key_pem) {
  auto impl = std::make_shared<detail::tls_impl>(ssl::context::tls_server);
  boost::system::error_code ec;
  impl->ctx.set_options(modern, ec);
  if (ec) return tls_error(ec, "setting TLS options");
  impl->ctx.use_certificate_chain(boost::asio::buffer(cert_chain_pem.data(), cert_chain_pem.size()), ec);
  if (ec) return tls_error(ec, "loading the certificate chain");
  impl->ctx.use_private_key(boost::asio::buffer(private_key_pem.data(), private_key_pem.size()),
                            ssl::context::pem, ec);
  if (ec) return tls_error(ec, "loading the private key");
  return tls_context(std::move(impl));
}

result<tls_context> tls_context::client(std::string_view ca_pem) {
  auto impl = std::make_shared<detail::tls_impl>(ssl::context::tls_client);
  boost::system::error_code ec;
  impl->ctx.set_options(modern, ec);
  if (ec) return tls_error(ec, "setting TLS options");
  if (ca_pem.empty()) impl->ctx.set_default_verify_paths(ec);
  else impl->ctx.add_certificate_authority(boost::asio::buffer(ca_pem.data(), ca_pem.size()), ec);
  if (ec) return tls_error(ec, "loading trusted certificates");
  impl->ctx.set_verify_mode(ssl::verify_peer, ec);
  if (ec) return tls_error(ec, "setting peer verification");
  return tls_context(std::move(impl));
}

}  // namespace troupe::io
