// Booking refs: "BK-" then 8 Crockford base32 characters (40 bits), e.g.
// BK-7M2Q9XK4. The low 6 bits name the owner shard, so a ref alone routes a
// Confirm or Cancel; the other 34 bits are the shard's booking serial passed
// through a bijective mix, so refs are unique per shard and not sequential.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace admit {

inline constexpr std::size_t booking_ref_size = 11;
inline constexpr std::uint64_t booking_serial_max = (std::uint64_t{1} << 34) - 1;

class BookingRef {
 public:
  BookingRef() = default;
  // serial in 1..booking_serial_max, shard < shards_max.
  static BookingRef make(std::uint64_t serial, std::uint32_t shard);
  // Accepts upper or lower case; nullopt unless the text is a well-formed ref.
  static std::optional<BookingRef> parse(std::string_view text);

  // The ref's 40 bits (shard and mixed serial), as BookItemResult carries
  // it; 0 for an empty ref. of_bits() takes nullopt unless `bits` came from
  // bits() of a ref.
  std::uint64_t bits() const;
  static std::optional<BookingRef> of_bits(std::uint64_t bits);

  std::string_view view() const { return {chars_.data(), chars_.size()}; }
  std::uint32_t shard() const;
  std::uint64_t serial() const;
  bool empty() const { return chars_[0] == '\0'; }
  friend bool operator==(const BookingRef&, const BookingRef&) = default;

 private:
  static BookingRef spelled(std::uint64_t value);  // "BK-" and the 40 bits in base32

  std::array<char, booking_ref_size> chars_{};
};

}  // namespace admit
