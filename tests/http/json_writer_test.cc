// JsonWriter: output parsed back by nlohmann_json (a parser nobody here wrote).
#include "server/http/json_writer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace admit::server::http {
namespace {

TEST(JsonWriter, NestedValuesAndCommas) {
  std::string out;
  JsonWriter json(&out);
  json.begin_object();
  json.string_field("a", "x");
  json.number_field("n", 18446744073709551615ull);
  json.signed_field("s", -5);
  json.bool_field("b", false);
  json.null_field("z");
  json.key("list");
  json.begin_array();
  json.begin_object();
  json.end_object();
  json.number(1);
  json.begin_array();
  json.end_array();
  json.end_array();
  json.end_object();
  EXPECT_EQ(out,
            R"({"a":"x","n":18446744073709551615,"s":-5,"b":false,"z":null,"list":[{},1,[]]})");
  EXPECT_TRUE(nlohmann::json::accept(out));
}

TEST(JsonWriter, EscapesEveryByteCorrectly) {
  std::string every;
  for (int c = 1; c < 128; ++c) every.push_back(static_cast<char>(c));
  every += "\xC3\xA9\xF0\x9F\x8E\xAB";  // é and a ticket emoji pass through
  std::string out;
  JsonWriter json(&out);
  json.begin_object();
  json.string_field(every, every);
  json.end_object();
  const auto parsed = nlohmann::json::parse(out);
  EXPECT_EQ(parsed.at(every).get<std::string>(), every);
}

TEST(JsonWriter, InvalidUtf8BecomesReplacementCharacters) {
  const std::string bad = std::string("a\xFF", 2) + "\xC3" + "b\xED\xA0\x80" + "\"";
  std::string out;
  JsonWriter json(&out);
  json.string(bad);
  const auto parsed = nlohmann::json::parse(out);  // throws on invalid UTF-8
  EXPECT_EQ(parsed.get<std::string>(),
            "a\xEF\xBF\xBD\xEF\xBF\xBD"
            "b\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

}  // namespace
}  // namespace admit::server::http
