// The token format, part of the wire contract (Hello.token and HTTP
// `Authorization: Bearer`): JWT HS256 with claims `role`, optional `sub` and
// optional `exp`, base64url without padding, HMAC-SHA256 from OpenSSL.
// Minting lives here so the shell (`admit token`) and the server share one
// format; verifying (parsing claims, constant-time compare) is the server's
// (server/http/auth.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace admit::jwt {

enum class Role : std::uint8_t { read, app, admin };  // each may do what the ones before may
std::string_view role_name(Role role);
std::optional<Role> role_from_name(std::string_view name);

struct TokenClaims {
  Role role = Role::read;
  std::string sub;                    // empty: none
  std::optional<std::int64_t> exp_s;  // seconds since the epoch
};

// A `sub` is a booking user: 1..user_size_max bytes of UTF-8.
bool valid_sub(std::string_view sub);

inline constexpr std::size_t signature_size = 32;  // SHA-256
using Signature = std::array<unsigned char, signature_size>;
Signature hmac_sha256(std::string_view key, std::string_view data);

std::string base64url_encode(std::string_view bytes);
// Strict: base64url alphabet, no padding, no bits left over; nullopt otherwise.
std::optional<std::string> base64url_decode(std::string_view text);

// "header.payload.signature", each part base64url.
std::string mint_token(std::string_view secret, const TokenClaims& claims);

// The secret: a file's bytes without a trailing newline; nullopt and `why`
// (starting with `flag`, the option that named the file) when the file cannot
// be read or holds no key.
std::optional<std::string> read_secret_file(const std::string& path, std::string_view flag,
                                            std::string* why);

}  // namespace admit::jwt
