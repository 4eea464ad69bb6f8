#include "server/http/auth.h"

#include <openssl/crypto.h>

#include <array>

#include "protocol/assertions.h"

namespace admit::server::http {

Verified TokenVerifier::verify(std::string_view token, std::int64_t now_ms) {
  if (token.size() > token_size_max) return {std::nullopt, "token: longer than 256 bytes"};
  const std::size_t first = token.find('.');
  const std::size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return {std::nullopt, "token: not a JWT (header.payload.signature)"};
  }
  const auto header = jwt::base64url_decode(token.substr(0, first));
  const auto payload = jwt::base64url_decode(token.substr(first + 1, second - first - 1));
  const auto signature = jwt::base64url_decode(token.substr(second + 1));
  if (!header || !payload || !signature) return {std::nullopt, "token: not base64url"};

  // The header first: only HS256 (never "none", never another key type).
  simdjson::dom::element document;
  std::string_view alg;
  if (parser_.parse(*header).get(document) != simdjson::SUCCESS ||
      document["alg"].get_string().get(alg) != simdjson::SUCCESS || alg != "HS256") {
    return {std::nullopt, "token: alg must be HS256"};
  }
  const jwt::Signature mac = jwt::hmac_sha256(secret_, token.substr(0, second));
  if (signature->size() != mac.size() ||
      CRYPTO_memcmp(signature->data(), mac.data(), mac.size()) != 0) {
    return {std::nullopt, "token: bad signature"};
  }

  simdjson::dom::object claims;
  if (parser_.parse(*payload).get(document) != simdjson::SUCCESS ||
      document.get_object().get(claims) != simdjson::SUCCESS) {
    return {std::nullopt, "token: payload is not a JSON object"};
  }
  std::string_view role_text;
  std::optional<Role> role;
  if (claims["role"].get_string().get(role_text) != simdjson::SUCCESS ||
      !(role = role_from_name(role_text))) {
    return {std::nullopt, "token: role must be admin, app or read"};
  }
  Principal principal;
  principal.role = *role;
  if (const auto sub = claims["sub"]; sub.error() != simdjson::NO_SUCH_FIELD) {
    std::string_view user;
    if (sub.get_string().get(user) != simdjson::SUCCESS || !jwt::valid_sub(user)) {
      return {std::nullopt, "token: sub must be 1..64 bytes of UTF-8"};
    }
    principal.sub.assign(user);
  }
  if (const auto exp = claims["exp"]; exp.error() != simdjson::NO_SUCH_FIELD) {
    double exp_s = 0;
    if (exp.get_double().get(exp_s) != simdjson::SUCCESS) {
      return {std::nullopt, "token: exp must be a number"};
    }
    if (static_cast<double>(now_ms) / 1000.0 >= exp_s) return {std::nullopt, "token: expired"};
  }
  return {principal, {}};
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view scheme = "bearer ";
  if (authorization.size() <= scheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if ((authorization[i] | 0x20) != scheme[i]) return std::nullopt;
  }
  std::string_view token = authorization.substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

AccessDecision authorize(const Principal& principal, Op operation, std::string_view user) {
  const std::optional<Role> least = least_role(operation);
  ADMIT_ASSERT(least.has_value() && "authorize: an operation that needs no token");
  if (principal.role < *least) {
    return {Access::forbidden, *least == Role::admin ? "token: role admin required"
                                                     : "token: role app or admin required"};
  }
  if (!principal.has_sub()) return {Access::allowed, {}};
  switch (op_info(operation).sub) {
    case SubRule::none:
      return {Access::allowed, {}};
    case SubRule::user_is_sub:
      if (user == principal.sub.view()) return {Access::allowed, {}};
      return {Access::forbidden, "user: this token acts only as its sub"};
    case SubRule::booking_of_sub:
      return {Access::if_booking_of_sub, {}};
    case SubRule::refused:
      break;
  }
  return {Access::forbidden, "token: a token with sub cannot list every user's bookings"};
}

}  // namespace admit::server::http
