// tls.cpp: OpenSSL contexts for servers and clients.
#include "troupe/io/tls.hpp"

#include <openssl/x509v3.h>

#include <boost/asio/buffer.hpp>

#include "conn_state.hpp"
#include "troupe/io/error.hpp"

namespace troupe::io {

namespace ssl = boost::asio::ssl;

namespace {
error tls_error(const boost::system::error_code& ec, const char* what) {
  return error(std::error_code(ec), std::string(what) + ": " + ec.message());
}
constexpr auto modern = ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use;

result<void> use_identity(ssl::context& ctx, std::string_view cert_chain_pem, std::string_view private_key_pem) {
  boost::system::error_code ec;
  ctx.use_certificate_chain(boost::asio::buffer(cert_chain_pem.data(), cert_chain_pem.size()), ec);
  if (ec) return tls_error(ec, "loading the certificate chain");
  ctx.use_private_key(boost::asio::buffer(private_key_pem.data(), private_key_pem.size()), ssl::context::pem, ec);
  if (ec) return tls_error(ec, "loading the private key");
  // A key that does not match the certificate would only show at the first handshake.
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
    return error(errc::tls_handshake_failed, "the private key does not match the certificate");
  return {};
}
}  // namespace

result<tls_context> tls_context::server(std::string_view cert_chain_pem, std::string_view private_key_pem,
                                        std::string_view client_ca_pem) {
  auto impl = std::make_shared<detail::tls_impl>(ssl::context::tls_server);
  boost::system::error_code ec;
  impl->ctx.set_options(modern, ec);
  if (ec) return tls_error(ec, "setting TLS options");
  if (auto r = use_identity(impl->ctx, cert_chain_pem, private_key_pem); !r) return r.error();
  if (!client_ca_pem.empty()) {
    impl->ctx.add_certificate_authority(boost::asio::buffer(client_ca_pem.data(), client_ca_pem.size()), ec);
    if (ec) return tls_error(ec, "loading the CA for client certificates");
    impl->ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
    if (ec) return tls_error(ec, "setting client verification");
  }
  return tls_context(std::move(impl));
}

result<tls_context> tls_context::client(std::string_view ca_pem, std::string_view cert_chain_pem,
                                        std::string_view private_key_pem) {
  auto impl = std::make_shared<detail::tls_impl>(ssl::context::tls_client);
  boost::system::error_code ec;
  impl->ctx.set_options(modern, ec);
  if (ec) return tls_error(ec, "setting TLS options");
  if (ca_pem.empty()) impl->ctx.set_default_verify_paths(ec);
  else impl->ctx.add_certificate_authority(boost::asio::buffer(ca_pem.data(), ca_pem.size()), ec);
  if (ec) return tls_error(ec, "loading trusted certificates");
  impl->ctx.set_verify_mode(ssl::verify_peer, ec);
  if (ec) return tls_error(ec, "setting peer verification");
  if (!cert_chain_pem.empty() || !private_key_pem.empty())
    if (auto r = use_identity(impl->ctx, cert_chain_pem, private_key_pem); !r) return r.error();
  return tls_context(std::move(impl));
}

boost::asio::ssl::context& tls_context::native() const noexcept { return impl_->ctx; }

std::vector<std::string> certificate_names(const x509_st* cert) {
  std::vector<std::string> names;
  if (cert == nullptr) return names;
  // A NUL inside a name would let "b\0.evil" pass a C-string compare with "b": such names are
  // dropped rather than trusted.
  auto keep = [&](const unsigned char* p, int n) {
    if (p == nullptr || n < 0) return;
    std::string s(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
    if (s.find('\0') == std::string::npos) names.push_back(std::move(s));
  };
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
      if (g->type == GEN_DNS) keep(ASN1_STRING_get0_data(g->d.dNSName), ASN1_STRING_length(g->d.dNSName));
    }
    GENERAL_NAMES_free(sans);
  }
  if (!names.empty()) return names;
  const X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    unsigned char* utf8 = nullptr;
    int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
    keep(utf8, n);
    OPENSSL_free(utf8);
  }
  return names;
}

}  // namespace troupe::io
