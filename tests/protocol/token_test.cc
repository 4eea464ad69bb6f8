// The token format (protocol/token.h): base64url and HMAC-SHA256 against
// published vectors, and minted tokens as the server's TokenVerifier
// (server/http/auth.h) reads them.
#include "protocol/token.h"

#include <gtest/gtest.h>

#include <string>

#include "server/http/auth.h"

namespace admit::jwt {
namespace {

using server::http::TokenVerifier;

constexpr std::int64_t now_ms = 1'800'000'000'000;

std::string hex(const Signature& mac) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char byte : mac) {
    out += digits[byte >> 4];
    out += digits[byte & 15];
  }
  return out;
}

// RFC 4648 section 10, without padding, plus the two characters base64url changes.
TEST(Token, Base64urlVectors) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},
      {"f", "Zg"},
      {"fo", "Zm8"},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg"},
      {"fooba", "Zm9vYmE"},
      {"foobar", "Zm9vYmFy"},
      {"\xfb\xff\xbf", "-_-_"},
      {std::string("\0\0", 2), "AAA"},
  };
  for (const auto& [bytes, text] : vectors) {
    EXPECT_EQ(base64url_encode(bytes), text);
    EXPECT_EQ(base64url_decode(text), bytes) << text;
  }
}

TEST(Token, Base64urlDecodeIsStrict) {
  EXPECT_FALSE(base64url_decode("Zg=="));   // padding
  EXPECT_FALSE(base64url_decode("+/8"));    // base64, not base64url
  EXPECT_FALSE(base64url_decode("Zm9vY"));  // 4n + 1 characters
  EXPECT_FALSE(base64url_decode("Zh"));     // bits left over: non-canonical
  EXPECT_FALSE(base64url_decode("Zm 9"));
}

// RFC 4231 test case 2.
TEST(Token, HmacSha256Vector) {
  EXPECT_EQ(hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Token, MintedClaimsAreJsonInBase64url) {
  const std::string token = mint_token("s", {Role::app, "user-42", 1'900'000'000});
  const std::size_t first = token.find('.');
  const std::size_t second = token.find('.', first + 1);
  ASSERT_NE(second, std::string::npos);
  EXPECT_EQ(base64url_decode(token.substr(0, first)), R"({"alg":"HS256","typ":"JWT"})");
  EXPECT_EQ(base64url_decode(token.substr(first + 1, second - first - 1)),
            R"({"role":"app","sub":"user-42","exp":1900000000})");
  const Signature mac = hmac_sha256("s", token.substr(0, second));
  EXPECT_EQ(base64url_decode(token.substr(second + 1)),
            std::string(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

TEST(Token, RoundTripThroughTheServersVerifier) {
  TokenVerifier verifier("the secret");
  for (const Role role : {Role::read, Role::app, Role::admin}) {
    const auto verified =
        verifier.verify(mint_token("the secret", {role, "", std::nullopt}), now_ms);
    ASSERT_TRUE(verified.principal) << verified.why;
    EXPECT_EQ(verified.principal->role, role);
    EXPECT_FALSE(verified.principal->has_sub());
  }
  // A sub with bytes JSON must escape, and one beyond ASCII.
  for (const std::string sub : {"user-42", "a\"b\\c", "ünïcødé"}) {
    const auto verified =
        verifier.verify(mint_token("the secret", {Role::app, sub, now_ms / 1000 + 60}), now_ms);
    ASSERT_TRUE(verified.principal) << sub << ": " << verified.why;
    EXPECT_EQ(verified.principal->sub.view(), sub);
  }
}

TEST(Token, TheVerifierRefusesWhatMintingDidNotSign) {
  TokenVerifier verifier("the secret");
  EXPECT_EQ(verifier.verify(mint_token("another", {Role::admin, "", std::nullopt}), now_ms).why,
            "token: bad signature");
  EXPECT_EQ(verifier.verify(mint_token("the secret", {Role::admin, "", now_ms / 1000}), now_ms).why,
            "token: expired");
}

TEST(Token, RolesAndSubs) {
  EXPECT_EQ(role_from_name("admin"), Role::admin);
  EXPECT_EQ(role_name(Role::read), "read");
  EXPECT_FALSE(role_from_name("root"));
  EXPECT_TRUE(valid_sub("user-42"));
  EXPECT_FALSE(valid_sub(""));
  EXPECT_FALSE(valid_sub(std::string(user_size_max + 1, 'u')));
  EXPECT_FALSE(valid_sub("\xc3\x28"));  // not UTF-8
}

TEST(Token, SecretFileNamesTheFlag) {
  const std::string path = ::testing::TempDir() + "admit-token-secret";
  std::string why;
  EXPECT_FALSE(read_secret_file(path + "-missing", "--secret", &why));
  EXPECT_EQ(why, "--secret: cannot read " + path + "-missing");
}

}  // namespace
}  // namespace admit::jwt
