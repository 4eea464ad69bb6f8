// Named limits of the Admit protocol, one definition for the server and
// libadmit. Every input past one of these is refused at the server's edge with
// an INVALID answer naming the field (or, for frames, a closed connection),
// and by libadmit before sending (invalid_argument); inside, values are trusted.
#pragma once

#include <cstddef>
#include <cstdint>

namespace admit {

inline constexpr std::uint32_t protocol_version = 1;

// Frames: 4-byte little-endian length prefix, then the FlatBuffer.
inline constexpr std::size_t frame_header_size = 4;
inline constexpr std::size_t frame_size_max = 1u << 20;  // FlatBuffer bytes, prefix excluded
inline constexpr std::size_t frame_requests_max = 1024;  // requests or replies per frame

inline constexpr std::size_t event_id_size_max = 128;
inline constexpr std::size_t user_size_max = 64;
inline constexpr std::size_t request_id_size_max = 64;
inline constexpr std::size_t token_size_max = 256;
inline constexpr std::size_t book_batch_items_max = 1024;  // bookings in one BookBatch

inline constexpr std::uint32_t capacity_max = 1'000'000'000;
inline constexpr std::uint32_t seats_max = capacity_max;  // per booking
inline constexpr std::uint32_t waitlist_length_max = 1'000'000;
inline constexpr std::uint32_t hold_ttl_ms_max = 24u * 3600 * 1000;
inline constexpr std::uint32_t rate_per_s_max = 1'000'000;

inline constexpr std::uint32_t watches_per_connection_max = 64;  // Watch past it: INVALID
inline constexpr std::uint32_t list_limit_default = 100;
inline constexpr std::uint32_t list_limit_max = 1000;

inline constexpr std::uint32_t shards_max = 64;  // the booking ref carries the shard in 6 bits

}  // namespace admit
