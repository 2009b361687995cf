// tls.hpp: TLS settings (OpenSSL, through Boost.Asio's ssl streams) for listeners and connects.
// A server context holds a certificate chain and its private key; a client context holds the
// certificates it trusts, and every client connection checks the server's certificate against
// them and against the host name it was given. For mutual TLS a server context also names the CA
// its clients' certificates must chain to (a client without one is refused), and a client
// context carries its own certificate and key; connection::peer_names() then says whom the
// verified peer certificate names. A failed handshake never reaches an actor: the listener counts
// it and closes the socket; a connect completes with errc::tls_handshake_failed (or, in TLS 1.3,
// a client whose certificate the server refuses sees its connection closed right after it).
// Contexts are immutable once made and shared by reference count; any thread may use them.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/core/result.hpp"

namespace boost::asio::ssl {
class context;
}
struct x509_st;  // OpenSSL's X509

namespace troupe::io {

namespace detail {
struct tls_impl;
}

/// An OpenSSL context for one side of TLS connections.
///
///     auto server = troupe::io::tls_context::server(cert_pem, key_pem);     // result<tls_context>
///     auto client = troupe::io::tls_context::client(ca_pem);               // trusts ca_pem only
///     // mutual TLS: the server demands a client certificate signed by ca_pem
///     auto mserver = troupe::io::tls_context::server(cert_pem, key_pem, ca_pem);
///     auto mclient = troupe::io::tls_context::client(ca_pem, cert_pem, key_pem);
class tls_context {
 public:
  /// A server context: `cert_chain_pem` (leaf first) and its `private_key_pem`. TLS 1.2 or later.
  /// With `client_ca_pem`, every client must present a certificate that chains to it (mutual
  /// TLS); a client without one, or with another, fails the handshake.
  static result<tls_context> server(std::string_view cert_chain_pem, std::string_view private_key_pem,
                                    std::string_view client_ca_pem = {});
  /// A client context that trusts the certificates in `ca_pem`, or the system's store when it is
  /// empty. Peers are always verified (chain and host name). With `cert_chain_pem` and
  /// `private_key_pem`, the client presents that certificate when a server asks (mutual TLS).
  static result<tls_context> client(std::string_view ca_pem = {}, std::string_view cert_chain_pem = {},
                                    std::string_view private_key_pem = {});

  // --- runtime interface (not for user code) -------------------------------------------------
  detail::tls_impl& impl() const noexcept { return *impl_; }
  /// The Asio context, for a layer that runs its own ssl streams (remote's node connections).
  boost::asio::ssl::context& native() const noexcept;

 private:
  explicit tls_context(std::shared_ptr<detail::tls_impl> i) : impl_(std::move(i)) {}
  std::shared_ptr<detail::tls_impl> impl_;
};

/// The names a certificate is for: its subjectAltName DNS entries, in order, or, only when it has
/// none, its subject's common names (RFC 6125's rule, and OpenSSL's host check's). A name
/// holding a NUL byte is left out; no wildcard is expanded. Empty for a null certificate.
/// Users read a connection's through connection::peer_names(); this is for a layer that runs its
/// own ssl streams (remote's node connections: `SSL_get0_peer_certificate(stream.native_handle())`).
///
///     auto names = troupe::io::certificate_names(SSL_get0_peer_certificate(ssl));  // {"b"}
std::vector<std::string> certificate_names(const x509_st* cert);

}  // namespace troupe::io
