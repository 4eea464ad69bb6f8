#include "server/http/json_writer.h"

#include <charconv>

#include "protocol/assertions.h"
#include "storage/validate.h"

namespace admit::server::http {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

bool needs_escape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

void escape_into(std::string* out, unsigned char c) {
  switch (c) {
    case '"':
      out->append("\\\"");
      return;
    case '\\':
      out->append("\\\\");
      return;
    case '\n':
      out->append("\\n");
      return;
    case '\r':
      out->append("\\r");
      return;
    case '\t':
      out->append("\\t");
      return;
    case '\b':
      out->append("\\b");
      return;
    case '\f':
      out->append("\\f");
      return;
    default: {
      const char escaped[] = {'\\', 'u', '0', '0', hex_digits[c >> 4], hex_digits[c & 15]};
      out->append(escaped, sizeof escaped);
    }
  }
}

// Appends `text` escaped, runs of plain bytes at once.
void escaped_utf8(std::string* out, std::string_view text) {
  std::size_t plain_from = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (!needs_escape(c)) continue;
    out->append(text.data() + plain_from, i - plain_from);
    escape_into(out, c);
    plain_from = i + 1;
  }
  out->append(text.data() + plain_from, text.size() - plain_from);
}

// Text that is not UTF-8 (rare: every input field was checked): one code
// point at a time, each byte that starts no valid sequence as U+FFFD.
void escaped_lossy(std::string* out, std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t size = 1;
    while (size <= 4 &&
           (i + size > text.size() || !admit::storage::is_valid_utf8(text.substr(i, size)))) {
      ++size;
    }
    if (size > 4) {
      out->append("\\ufffd");
      ++i;
      continue;
    }
    escaped_utf8(out, text.substr(i, size));
    i += size;
  }
}

}  // namespace

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (depth_ == 0) return;
  const std::uint32_t bit = std::uint32_t{1} << depth_;
  if (has_items_ & bit) out_->push_back(',');
  has_items_ |= bit;
}

void JsonWriter::quoted(std::string_view text) {
  out_->push_back('"');
  if (admit::storage::is_valid_utf8(text)) {
    escaped_utf8(out_, text);
  } else {
    escaped_lossy(out_, text);
  }
  out_->push_back('"');
}

void JsonWriter::begin_object() {
  before_value();
  out_->push_back('{');
  ++depth_;
  ADMIT_ASSERT(depth_ < depth_max);
  has_items_ &= ~(std::uint32_t{1} << depth_);
}

void JsonWriter::end_object() {
  --depth_;
  out_->push_back('}');
}

void JsonWriter::begin_array() {
  before_value();
  out_->push_back('[');
  ++depth_;
  ADMIT_ASSERT(depth_ < depth_max);
  has_items_ &= ~(std::uint32_t{1} << depth_);
}

void JsonWriter::end_array() {
  --depth_;
  out_->push_back(']');
}

void JsonWriter::key(std::string_view name) {
  before_value();
  quoted(name);
  out_->push_back(':');
  after_key_ = true;
}

void JsonWriter::string(std::string_view value) {
  before_value();
  quoted(value);
}

void JsonWriter::number(std::uint64_t value) {
  before_value();
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out_->append(digits, end);
}

void JsonWriter::signed_number(std::int64_t value) {
  before_value();
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out_->append(digits, end);
}

void JsonWriter::boolean(bool value) {
  before_value();
  out_->append(value ? "true" : "false");
}

void JsonWriter::null() {
  before_value();
  out_->append("null");
}

}  // namespace admit::server::http
