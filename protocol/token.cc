#include "protocol/token.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <fstream>

#include "admit/limits.h"
#include "protocol/utf8.h"

namespace admit::jwt {
namespace {

constexpr std::string_view base64url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
// Past this a secret file is not a key; refuse it rather than read it whole.
constexpr std::size_t secret_size_max = 4096;

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// A JSON string; claims are ours, so the rare byte to escape gets \u00XX.
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

bool valid_sub(std::string_view sub) {
  return !sub.empty() && sub.size() <= user_size_max && is_valid_utf8(sub);
}

Signature hmac_sha256(std::string_view key, std::string_view data) {
  Signature mac{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &size);
  return mac;
}

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
  const Signature mac = hmac_sha256(secret, token);
  token += '.';
  token += base64url_encode({reinterpret_cast<const char*>(mac.data()), mac.size()});
  return token;
}

std::optional<std::string> read_secret_file(const std::string& path, std::string_view flag,
                                            std::string* why) {
  const std::string prefix = std::string(flag) + ": ";
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    *why = prefix + "cannot read " + path;
    return std::nullopt;
  }
  std::string secret;
  char chunk[512];
  while (file.read(chunk, sizeof chunk) || file.gcount() > 0) {
    secret.append(chunk, static_cast<std::size_t>(file.gcount()));
    if (secret.size() > secret_size_max) {
      *why = prefix + path + " is larger than " + std::to_string(secret_size_max) + " bytes";
      return std::nullopt;
    }
  }
  if (secret.ends_with('\n')) secret.pop_back();
  if (secret.ends_with('\r')) secret.pop_back();
  if (secret.empty()) {
    *why = prefix + path + " is empty";
    return std::nullopt;
  }
  return secret;
}

}  // namespace admit::jwt
