#include "server/http/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <fstream>
#include <iterator>

#include "storage/validate.h"

namespace admit::server::http {
namespace {

constexpr std::string_view base64url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::size_t signature_size = 32;  // SHA-256
// Past this a secret file is not a key; refuse it rather than read it whole.
constexpr std::size_t secret_size_max = 4096;

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : bytes) {
    bits = bits << 8 | static_cast<unsigned char>(c);
    count += 8;
    while (count >= 6) {
      count -= 6;
      out.push_back(base64url_alphabet[bits >> count & 63]);
    }
  }
  if (count > 0) out.push_back(base64url_alphabet[bits << (6 - count) & 63]);
  return out;
}

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Strict: base64url alphabet, no padding, no bits left over.
std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    const int value = base64url_value(c);
    if (value < 0) return std::nullopt;
    bits = (bits << 6 | static_cast<std::uint32_t>(value)) & 0xFFFFFF;
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>(bits >> count & 0xFF));
    }
  }
  if ((bits & ((1u << count) - 1)) != 0) return std::nullopt;  // non-canonical tail
  return out;
}

std::array<unsigned char, signature_size> hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, signature_size> mac{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &size);
  return mac;
}

// A JSON string with nothing to escape in it (claims from this file only).
void append_json_string(std::string* out, std::string_view text) {
  out->push_back('"');
  for (const char c : text) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned char>(c));
      out->append(escaped);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

}  // namespace

std::string_view role_name(Role role) {
  switch (role) {
    case Role::read:
      return "read";
    case Role::app:
      return "app";
    case Role::admin:
      return "admin";
  }
  return "read";
}

std::optional<Role> role_from_name(std::string_view name) {
  for (const Role role : {Role::read, Role::app, Role::admin}) {
    if (role_name(role) == name) return role;
  }
  return std::nullopt;
}

std::optional<std::string> read_secret_file(const std::string& path, std::string* why) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    *why = "--auth-secret: cannot read " + path;
    return std::nullopt;
  }
  std::string secret;
  char chunk[512];
  while (file.read(chunk, sizeof chunk) || file.gcount() > 0) {
    secret.append(chunk, static_cast<std::size_t>(file.gcount()));
    if (secret.size() > secret_size_max) {
      *why = "--auth-secret: " + path + " is larger than 4096 bytes";
      return std::nullopt;
    }
  }
  if (secret.ends_with('\n')) secret.pop_back();
  if (secret.ends_with('\r')) secret.pop_back();
  if (secret.empty()) {
    *why = "--auth-secret: " + path + " is empty";
    return std::nullopt;
  }
  return secret;
}

std::string mint_token(std::string_view secret, const TokenClaims& claims) {
  std::string payload = R"({"role":)";
  append_json_string(&payload, role_name(claims.role));
  if (!claims.sub.empty()) {
    payload += R"(,"sub":)";
    append_json_string(&payload, claims.sub);
  }
  if (claims.exp_s) payload += R"(,"exp":)" + std::to_string(*claims.exp_s);
  payload += '}';
  std::string token = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
  token += '.';
  token += base64url_encode(payload);
  const auto mac = hmac_sha256(secret, token);
  token += '.';
  token += base64url_encode({reinterpret_cast<const char*>(mac.data()), mac.size()});
  return token;
}

Verified TokenVerifier::verify(std::string_view token, std::int64_t now_ms) {
  if (token.size() > token_size_max) return {std::nullopt, "token: longer than 256 bytes"};
  const std::size_t first = token.find('.');
  const std::size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return {std::nullopt, "token: not a JWT (header.payload.signature)"};
  }
  const auto header = base64url_decode(token.substr(0, first));
  const auto payload = base64url_decode(token.substr(first + 1, second - first - 1));
  const auto signature = base64url_decode(token.substr(second + 1));
  if (!header || !payload || !signature) return {std::nullopt, "token: not base64url"};

  // The header first: only HS256 (never "none", never another key type).
  simdjson::dom::element document;
  std::string_view alg;
  if (parser_.parse(*header).get(document) != simdjson::SUCCESS ||
      document["alg"].get_string().get(alg) != simdjson::SUCCESS || alg != "HS256") {
    return {std::nullopt, "token: alg must be HS256"};
  }
  const auto mac = hmac_sha256(secret_, token.substr(0, second));
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
    if (sub.get_string().get(user) != simdjson::SUCCESS ||
        storage::check_user(user) != Reason::none) {
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

namespace {

// What a `sub` restricts, per operation.
enum class SubRule : std::uint8_t {
  none,            // the operation names no user
  user_is_sub,     // the request's user must be the sub
  booking_of_sub,  // the booking's user must be the sub (known on its owner)
  refused,         // lists every user's bookings: not for a token bound to one user
};

struct Rule {
  Role least;
  SubRule sub;
};

// Indexed by Operation.
constexpr std::array<Rule, 13> rules = {{
    {Role::admin, SubRule::none},           // create_event
    {Role::admin, SubRule::none},           // update_event
    {Role::read, SubRule::none},            // get_event
    {Role::read, SubRule::none},            // list_events
    {Role::app, SubRule::user_is_sub},      // book
    {Role::app, SubRule::booking_of_sub},   // confirm
    {Role::app, SubRule::booking_of_sub},   // cancel
    {Role::read, SubRule::booking_of_sub},  // get_booking
    {Role::read, SubRule::refused},         // list_bookings
    {Role::read, SubRule::user_is_sub},     // waitlist_position
    {Role::app, SubRule::user_is_sub},      // leave_waitlist
    {Role::read, SubRule::none},            // stats
    {Role::read, SubRule::none},            // metrics
}};
static_assert(rules.size() == static_cast<std::size_t>(Operation::metrics) + 1);

}  // namespace

AccessDecision authorize(const Principal& principal, Operation operation, std::string_view user) {
  const Rule rule = rules[static_cast<std::size_t>(operation)];
  if (principal.role < rule.least) {
    return {Access::forbidden, rule.least == Role::admin ? "token: role admin required"
                                                         : "token: role app or admin required"};
  }
  if (!principal.has_sub()) return {Access::allowed, {}};
  switch (rule.sub) {
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
