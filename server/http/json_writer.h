// A streaming JSON writer into a std::string: no document tree, no
// allocation beyond the output's growth. Strings are escaped per RFC 8259
// (quote, backslash, control characters); bytes that are not UTF-8 are
// written as U+FFFD, so the output is always valid JSON whatever the input.
// Distinct names per type (string_field, number_field, ...) so a string
// literal never turns into a bool.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace admit::server::http {

class JsonWriter {
 public:
  static constexpr int depth_max = 16;  // nesting the adapter's answers never reach

  explicit JsonWriter(std::string* out) : out_(out) {}

  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  // The key of the next value, inside an object.
  void key(std::string_view name);

  void string(std::string_view value);
  void number(std::uint64_t value);
  void signed_number(std::int64_t value);
  void boolean(bool value);
  void null();

  void string_field(std::string_view name, std::string_view value) { key(name), string(value); }
  void number_field(std::string_view name, std::uint64_t value) { key(name), number(value); }
  void signed_field(std::string_view name, std::int64_t value) { key(name), signed_number(value); }
  void bool_field(std::string_view name, bool value) { key(name), boolean(value); }
  void null_field(std::string_view name) { key(name), null(); }

 private:
  void before_value();
  void quoted(std::string_view text);

  std::string* out_;
  std::uint32_t has_items_ = 0;  // bit d: the container at depth d has an item already
  int depth_ = 0;
  bool after_key_ = false;
};

}  // namespace admit::server::http
