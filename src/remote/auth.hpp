// auth.hpp: the cookie challenge-response of the handshake. Internal to the remote layer.
// Each side sends a random nonce; the other proves it knows the cookie by returning
// HMAC-SHA256(cookie, role | nonce | name of the side that sent the nonce). The role label keeps
// a proof from being reflected back at its maker; the cookie itself never leaves the node.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "wire.hpp"

namespace troupe::remote::detail {

using nonce = std::array<std::uint8_t, nonce_size>;
using proof = std::array<std::uint8_t, proof_size>;

/// A fresh random nonce (OpenSSL's RAND_bytes). @throws std::runtime_error if it has no entropy.
nonce make_nonce();
/// HMAC-SHA256(cookie, role | nonce | name).
proof make_proof(std::string_view cookie, std::string_view role, const nonce& n, std::string_view name);
/// Compares in constant time.
bool same_proof(const proof& a, const proof& b) noexcept;

}  // namespace troupe::remote::detail
