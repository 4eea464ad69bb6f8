#include "protocol/booking_ref.h"

#include "admit/limits.h"
#include "protocol/assertions.h"

namespace admit {
namespace {

// Crockford's base32: no I, L, O, U, so refs read aloud without confusion.
constexpr std::string_view alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::string_view prefix = "BK-";
constexpr int shard_bits = 6;
constexpr int serial_bits = 34;
constexpr std::uint64_t serial_mask = (std::uint64_t{1} << serial_bits) - 1;
static_assert(shards_max == 1u << shard_bits);
static_assert(shard_bits + serial_bits == 5 * 8);

// Odd multipliers and xor-shifts are bijections on 34 bits; their inverses undo
// the mix so a ref's serial can be read back.
constexpr std::uint64_t mul_a = 0x2545F4914F6CDD1Dull & serial_mask;  // odd
constexpr std::uint64_t mul_b = 0x9E3779B97F4A7C15ull & serial_mask;  // odd

std::uint64_t inverse_odd(std::uint64_t a) {
  std::uint64_t x = a;  // Newton's iteration: each step doubles the correct bits
  for (int i = 0; i < 6; ++i) x *= 2 - a * x;
  return x & serial_mask;
}

std::uint64_t unshift_xor(std::uint64_t y, int shift) {
  std::uint64_t x = y;
  for (int i = 0; i < serial_bits / shift + 1; ++i) x = y ^ (x >> shift);
  return x & serial_mask;
}

std::uint64_t mix(std::uint64_t x) {
  x = (x * mul_a) & serial_mask;
  x ^= x >> 17;
  x = (x * mul_b) & serial_mask;
  x ^= x >> 15;
  return x;
}

std::uint64_t unmix(std::uint64_t x) {
  x = unshift_xor(x, 15);
  x = (x * inverse_odd(mul_b)) & serial_mask;
  x = unshift_xor(x, 17);
  x = (x * inverse_odd(mul_a)) & serial_mask;
  return x;
}

// A character's digit value, either case; -1 outside the alphabet. A table:
// parse() and bits() read every character of every ref they see.
constexpr std::array<std::int8_t, 256> digit_values = [] {
  std::array<std::int8_t, 256> values{};
  values.fill(-1);
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    const auto upper = static_cast<unsigned char>(alphabet[i]);
    values[upper] = static_cast<std::int8_t>(i);
    if (upper >= 'A' && upper <= 'Z') values[upper - 'A' + 'a'] = static_cast<std::int8_t>(i);
  }
  return values;
}();

int digit_value(char c) { return digit_values[static_cast<unsigned char>(c)]; }

std::uint64_t value_of(const std::array<char, booking_ref_size>& chars) {
  std::uint64_t value = 0;
  for (std::size_t i = prefix.size(); i < booking_ref_size; ++i) {
    value = value << 5 | static_cast<std::uint64_t>(digit_value(chars[i]));
  }
  return value;
}

}  // namespace

BookingRef BookingRef::make(std::uint64_t serial, std::uint32_t shard) {
  ADMIT_ASSERT(serial >= 1 && serial <= booking_serial_max);
  ADMIT_ASSERT(shard < shards_max);
  return spelled(mix(serial) << shard_bits | shard);
}

BookingRef BookingRef::spelled(std::uint64_t value) {
  BookingRef ref;
  for (std::size_t i = 0; i < prefix.size(); ++i) ref.chars_[i] = prefix[i];
  for (std::size_t i = booking_ref_size; i > prefix.size(); --i) {
    ref.chars_[i - 1] = alphabet[value & 31];
    value >>= 5;
  }
  return ref;
}

std::uint64_t BookingRef::bits() const { return empty() ? 0 : value_of(chars_); }

std::optional<BookingRef> BookingRef::of_bits(std::uint64_t bits) {
  constexpr std::uint64_t value_max = (std::uint64_t{1} << (shard_bits + serial_bits)) - 1;
  if (bits == 0 || bits > value_max || unmix(bits >> shard_bits) == 0) return std::nullopt;
  return spelled(bits);
}

std::optional<BookingRef> BookingRef::parse(std::string_view text) {
  if (text.size() != booking_ref_size) return std::nullopt;
  BookingRef ref;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const char c = text[i] >= 'a' && text[i] <= 'z' ? static_cast<char>(text[i] - 32) : text[i];
    if (c != prefix[i]) return std::nullopt;
    ref.chars_[i] = c;
  }
  for (std::size_t i = prefix.size(); i < booking_ref_size; ++i) {
    const int digit = digit_value(text[i]);
    if (digit < 0) return std::nullopt;
    ref.chars_[i] = alphabet[static_cast<std::size_t>(digit)];
  }
  if (ref.serial() == 0) return std::nullopt;
  return ref;
}

std::uint32_t BookingRef::shard() const {
  return static_cast<std::uint32_t>(value_of(chars_) & (shards_max - 1));
}

std::uint64_t BookingRef::serial() const { return unmix(value_of(chars_) >> shard_bits); }

}  // namespace admit
