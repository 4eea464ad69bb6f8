// A string of at most `capacity` bytes stored inline, so that values holding
// it stay fixed-size and trivially copyable: the commands that cross a shard's
// rings and go into its log (storage/command.h), the answers that come back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "protocol/assertions.h"

namespace admit {

template <std::size_t capacity>
struct FixedString {
  static_assert(capacity <= UINT16_MAX);
  std::uint16_t size = 0;
  char bytes[capacity];

  static constexpr std::size_t size_max = capacity;

  // The caller has checked the size against the protocol limit.
  void assign(std::string_view text) {
    ADMIT_ASSERT(text.size() <= capacity);
    size = static_cast<std::uint16_t>(text.size());
    if (!text.empty()) std::memcpy(bytes, text.data(), text.size());  // data() may be null
  }
  // For free text (reasons): longer text is cut.
  void assign_cut(std::string_view text) { assign(text.substr(0, capacity)); }
  std::string_view view() const { return {bytes, size}; }
};

}  // namespace admit
