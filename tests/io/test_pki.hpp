// test_pki.hpp: test certificates made at test time with OpenSSL's API: a CA, and a leaf for
// "localhost" signed by it, usable as a server's and as a client's certificate (mutual TLS);
// more leaves with other names (make_leaf: node names for the remote layer, a CN without a
// subjectAltName). Shared by the io tests (TLS listeners, HTTPS, WebSocket over TLS) and the
// remote tests (TLS between nodes). Nothing is read from or written to disk.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace troupe_test {

/// PEM texts of a test PKI: a CA (and its key, to sign more leaves) and a leaf for "localhost".
struct test_pki {
  std::string ca_cert, leaf_chain, leaf_key, ca_key;
};

/// PEM texts of one more leaf certificate and its key.
struct test_leaf {
  std::string chain, key;
};

namespace pki_detail {
struct key_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct x509_free {
  void operator()(X509* x) const { X509_free(x); }
};
using key_ptr = std::unique_ptr<EVP_PKEY, key_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;

inline key_ptr ec_key() { return key_ptr(EVP_EC_gen("P-256")); }

// A leaf gets `san` as its subjectAltName ("DNS:a,DNS:b"), none if empty.
inline x509_ptr make_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, bool ca, long serial,
                          const std::string& san = "DNS:localhost") {
  x509_ptr x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600L * 24);
  X509_set_pubkey(x.get(), key);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(x.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer != nullptr ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const char* value) {
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    X509_add_ext(x.get(), e, -1);
    X509_EXTENSION_free(e);
  };
  if (ca) {
    add(NID_basic_constraints, "critical,CA:TRUE");
    add(NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add(NID_basic_constraints, "critical,CA:FALSE");
    if (!san.empty()) add(NID_subject_alt_name, san.c_str());
  }
  X509_sign(x.get(), issuer_key, EVP_sha256());
  return x;
}

inline std::string pem(X509* x) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string s(data, static_cast<std::size_t>(n));
  BIO_free(b);
  return s;
}
inline std::string pem(EVP_PKEY* k) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string s(data, static_cast<std::size_t>(n));
  BIO_free(b);
  return s;
}
}  // namespace pki_detail

/// Makes a fresh CA and a "localhost" leaf signed by it (EC P-256, valid for a day).
inline test_pki make_pki(long serial = 1) {
  using namespace pki_detail;
  auto ca_key = ec_key();
  auto ca = make_cert(ca_key.get(), "troupe test CA", nullptr, ca_key.get(), true, serial);
  auto leaf_key = ec_key();
  auto leaf = make_cert(leaf_key.get(), "localhost", ca.get(), ca_key.get(), false, serial + 1);
  return {pem(ca.get()), pem(leaf.get()), pem(leaf_key.get()), pem(ca_key.get())};
}

/// Makes a leaf signed by `pki`'s CA whose subjectAltName holds `dns_names` (none: no
/// subjectAltName at all) and whose subject CN is `cn`.
inline test_leaf make_leaf(const test_pki& pki, const std::vector<std::string>& dns_names, const std::string& cn,
                           long serial) {
  using namespace pki_detail;
  BIO* b = BIO_new_mem_buf(pki.ca_cert.data(), static_cast<int>(pki.ca_cert.size()));
  x509_ptr ca(PEM_read_bio_X509(b, nullptr, nullptr, nullptr));
  BIO_free(b);
  b = BIO_new_mem_buf(pki.ca_key.data(), static_cast<int>(pki.ca_key.size()));
  key_ptr ca_key(PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr));
  BIO_free(b);
  std::string san;
  for (const auto& n : dns_names) san += (san.empty() ? "DNS:" : ",DNS:") + n;
  auto key = ec_key();
  auto leaf = make_cert(key.get(), cn.c_str(), ca.get(), ca_key.get(), false, serial, san);
  return {pem(leaf.get()), pem(key.get())};
}

}  // namespace troupe_test
