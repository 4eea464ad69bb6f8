// Auth, for both protocols: verifying JWT HS256 tokens into a Principal, and
// the checks of which role and which `sub` may do which operation
// (DESIGN.md "Auth"). The token format (minting, base64url, HMAC-SHA256 from
// OpenSSL) is the wire contract's, protocol/token.h, re-exported here;
// signatures are compared in constant time (CRYPTO_memcmp).
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "admit/limits.h"
#include "protocol/operations.h"
#include "protocol/token.h"
#include "server/shard_command.h"

namespace admit::server::http {

using jwt::mint_token;
using jwt::Role;
using jwt::role_from_name;
using jwt::role_name;
using jwt::TokenClaims;

// Who a request acts as. Without auth (loopback, no --auth-secret): admin, no sub.
struct Principal {
  Role role = Role::admin;
  FixedString<user_size_max> sub;  // size 0: acts for any user

  bool has_sub() const { return sub.size != 0; }
};

// admitd's --auth-secret FILE (jwt::read_secret_file, `why` naming the flag).
inline std::optional<std::string> read_secret_file(const std::string& path, std::string* why) {
  return jwt::read_secret_file(path, "--auth-secret", why);
}

struct Verified {
  std::optional<Principal> principal;  // set iff the token is good
  std::string_view why;                // otherwise: "token: expired", ...
};

// One per shard (holds simdjson's parser): checks tokens against one secret.
class TokenVerifier {
 public:
  explicit TokenVerifier(std::string secret) : secret_(std::move(secret)) {}
  // A token is good when its header says alg HS256, its signature matches,
  // `role` is admin, app or read, `sub` (if any) is a valid user and `exp`
  // (if any) is after `now_ms`.
  Verified verify(std::string_view token, std::int64_t now_ms);

 private:
  std::string secret_;
  simdjson::dom::parser parser_;
};

// `Authorization: Bearer <token>` (scheme in any case): the token, or nullopt.
std::optional<std::string_view> bearer_token(std::string_view authorization);

enum class Access : std::uint8_t {
  allowed,
  forbidden,          // 403 / UNAUTHORIZED: `message` says why
  if_booking_of_sub,  // allowed only if the booking's user is the principal's sub:
                      // decided by the owner, which knows the booking
                      // (ShardCommand::acting_user)
};

struct AccessDecision {
  Access access = Access::forbidden;
  std::string_view message;  // forbidden only
};

// The rule is the operation's least role and sub rule (protocol/operations.h),
// the same for both protocols; `operation` needs a token (least_role() set).
// `user`: the user the request names (book, waitlist), else empty.
AccessDecision authorize(const Principal& principal, Op operation, std::string_view user);

}  // namespace admit::server::http
