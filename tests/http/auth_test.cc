// JWT HS256 verify and mint, and the authorization table.
#include "server/http/auth.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <fstream>

namespace admit::server::http {
namespace {

constexpr std::string_view secret = "a secret of the test";
constexpr std::int64_t now_ms = 1'800'000'000'000;

std::string b64url(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int size = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                   reinterpret_cast<const unsigned char*>(bytes.data()),
                                   static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(size));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

// A token built with OpenSSL's own base64, independently of auth.cc.
std::string signed_token(std::string_view header, std::string_view payload,
                         std::string_view key = secret) {
  const std::string signing = b64url(header) + "." + b64url(payload);
  unsigned char mac[32];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(signing.data()), signing.size(), mac, &size);
  return signing + "." + b64url({reinterpret_cast<const char*>(mac), size});
}

constexpr std::string_view hs256 = R"({"alg":"HS256","typ":"JWT"})";

TEST(Auth, MintedTokensVerify) {
  TokenVerifier verifier{std::string(secret)};
  const std::string token = mint_token(secret, {Role::app, "user-42", now_ms / 1000 + 3600});
  const Verified v = verifier.verify(token, now_ms);
  ASSERT_TRUE(v.principal) << v.why;
  EXPECT_EQ(v.principal->role, Role::app);
  EXPECT_EQ(v.principal->sub.view(), "user-42");
  const Verified admin =
      verifier.verify(mint_token(secret, {Role::admin, "", std::nullopt}), now_ms);
  ASSERT_TRUE(admin.principal);
  EXPECT_FALSE(admin.principal->has_sub());
  // Minted the same as an independent signer would.
  EXPECT_TRUE(verifier.verify(signed_token(hs256, R"({"role":"read","exp":1900000000})"), now_ms)
                  .principal);
}

TEST(Auth, BadTokensAreRefusedWithAReason) {
  TokenVerifier verifier{std::string(secret)};
  const std::string good = signed_token(hs256, R"({"role":"app"})");
  std::string tampered = good;
  tampered[tampered.find('.') + 3] ^= 1;
  std::string bad_signature = good;
  char& flipped = bad_signature[bad_signature.size() - 5];
  flipped = flipped == 'A' ? 'B' : 'A';
  const std::pair<std::string, std::string_view> cases[] = {
      {"", "token: not a JWT"},
      {"a.b", "token: not a JWT"},
      {"a.b.c.d", "token: not a JWT"},
      {"!!.b.c", "token: not base64url"},
      {signed_token(R"({"alg":"none"})", R"({"role":"admin"})"), "token: alg must be HS256"},
      {b64url(R"({"alg":"none"})") + "." + b64url(R"({"role":"admin"})") + ".",
       "token: alg must be HS256"},
      {signed_token(R"({"alg":"HS512"})", R"({"role":"admin"})"), "token: alg must be HS256"},
      {signed_token(R"({"alg":"RS256"})", R"({"role":"admin"})"), "token: alg must be HS256"},
      {signed_token(hs256, R"({"role":"admin"})", "another secret"), "token: bad signature"},
      {tampered, "token: bad signature"},
      {bad_signature, "token: bad signature"},
      {signed_token(hs256, R"({"role":"root"})"), "token: role"},
      {signed_token(hs256, R"({"sub":"u"})"), "token: role"},
      {signed_token(hs256, R"({"role":"app","sub":""})"), "token: sub"},
      {signed_token(hs256, R"({"role":"app","sub":7})"), "token: sub"},
      {signed_token(hs256, R"({"role":"app","exp":1799999999})"), "token: expired"},
      {signed_token(hs256, R"({"role":"app","exp":1800000000})"), "token: expired"},
      {signed_token(hs256, R"({"role":"app","exp":"soon"})"), "token: exp"},
      {signed_token(hs256, R"([1])"), "token: payload"},
      {std::string(300, 'a'), "token: longer than 256 bytes"},
  };
  for (const auto& [token, why] : cases) {
    const Verified v = verifier.verify(token, now_ms);
    EXPECT_FALSE(v.principal) << token;
    EXPECT_TRUE(v.why.starts_with(why)) << token << " -> " << v.why;
  }
}

TEST(Auth, BearerHeader) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer   abc "), "abc");
  EXPECT_FALSE(bearer_token("Basic abc"));
  EXPECT_FALSE(bearer_token("Bearer "));
  EXPECT_FALSE(bearer_token(""));
}

TEST(Auth, SecretFileWithoutTrailingNewline) {
  const std::string path = ::testing::TempDir() + "admit-secret";
  std::ofstream(path) << "s3cret\n";
  std::string why;
  EXPECT_EQ(read_secret_file(path, &why), "s3cret");
  std::ofstream(path) << "";
  EXPECT_FALSE(read_secret_file(path, &why));
  EXPECT_NE(why.find("empty"), std::string::npos);
  EXPECT_FALSE(read_secret_file(path + "-missing", &why));
  std::remove(path.c_str());
}

Principal principal(Role role, std::string_view sub = {}) {
  Principal p;
  p.role = role;
  p.sub.assign(sub);
  return p;
}

TEST(Auth, RolesAndSubs) {
  using enum Op;
  const Principal admin = principal(Role::admin), app = principal(Role::app),
                  reader = principal(Role::read), browser = principal(Role::app, "u1");
  for (const Op op : {create_event, update_event}) {
    EXPECT_EQ(authorize(admin, op, {}).access, Access::allowed);
    EXPECT_EQ(authorize(app, op, {}).access, Access::forbidden);
    EXPECT_EQ(authorize(reader, op, {}).access, Access::forbidden);
  }
  for (const Op op : {get_event, list_events, stats, metrics}) {
    for (const Principal& p : {admin, app, reader, browser}) {
      EXPECT_EQ(authorize(p, op, {}).access, Access::allowed);
    }
  }
  EXPECT_EQ(authorize(app, book, "anyone").access, Access::allowed);
  EXPECT_EQ(authorize(reader, book, "anyone").access, Access::forbidden);
  EXPECT_EQ(authorize(browser, book, "u1").access, Access::allowed);
  const AccessDecision other = authorize(browser, book, "u2");
  EXPECT_EQ(other.access, Access::forbidden);
  EXPECT_FALSE(other.message.empty());
  EXPECT_EQ(authorize(browser, leave_waitlist, "u2").access, Access::forbidden);
  EXPECT_EQ(authorize(browser, waitlist_position, "u1").access, Access::allowed);
  EXPECT_EQ(authorize(browser, list_bookings, {}).access, Access::forbidden);
  EXPECT_EQ(authorize(app, list_bookings, {}).access, Access::allowed);
  for (const Op op : {confirm, cancel, get_booking}) {
    EXPECT_EQ(authorize(browser, op, {}).access, Access::if_booking_of_sub);
    EXPECT_EQ(authorize(app, op, {}).access, Access::allowed);
  }
  EXPECT_EQ(authorize(reader, cancel, {}).access, Access::forbidden);
}

}  // namespace
}  // namespace admit::server::http
