// auth.cpp: nonces and HMAC-SHA256 proofs through OpenSSL.
#include "auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace troupe::remote::detail {

nonce make_nonce() {
  nonce n{};
  if (RAND_bytes(n.data(), static_cast<int>(n.size())) != 1)
    throw std::runtime_error("troupe remote: OpenSSL RAND_bytes failed to make a handshake nonce");
  return n;
}

proof make_proof(std::string_view cookie, std::string_view role, const nonce& n, std::string_view name) {
  std::vector<std::uint8_t> data;
  data.reserve(role.size() + 1 + n.size() + name.size());
  data.insert(data.end(), role.begin(), role.end());
  data.push_back(0);  // keeps "ab"+"c" apart from "a"+"bc"
  data.insert(data.end(), n.begin(), n.end());
  data.insert(data.end(), name.begin(), name.end());
  proof p{};
  unsigned len = 0;
  HMAC(EVP_sha256(), cookie.data(), static_cast<int>(cookie.size()), data.data(), data.size(), p.data(), &len);
  return p;
}

bool same_proof(const proof& a, const proof& b) noexcept { return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

}  // namespace troupe::remote::detail
