// Byte-level writer and bounds-checked reader of snapshots (snapshot.cc).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "storage/internal.h"

namespace admit::storage::detail {

class SnapshotWriter {
 public:
  SnapshotWriter& u8(std::uint8_t v) {
    bytes_.push_back(v);
    return *this;
  }
  SnapshotWriter& u32(std::uint32_t v) { return little_endian(v, 4); }
  SnapshotWriter& u64(std::uint64_t v) { return little_endian(v, 8); }
  SnapshotWriter& i64(std::int64_t v) { return little_endian(static_cast<std::uint64_t>(v), 8); }
  SnapshotWriter& raw(std::string_view text) {
    bytes_.insert(bytes_.end(), text.begin(), text.end());
    return *this;
  }
  SnapshotWriter& str(std::string_view text) {
    return u32(static_cast<std::uint32_t>(text.size())).raw(text);
  }
  std::vector<std::uint8_t> take() { return std::move(bytes_); }

 private:
  SnapshotWriter& little_endian(std::uint64_t v, int size) {
    for (int i = 0; i < size; ++i) bytes_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
  std::vector<std::uint8_t> bytes_;
};

// Reads past the end yield zeros and set failed(); callers check once per item.
class SnapshotReader {
 public:
  explicit SnapshotReader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  std::uint8_t u8() { return static_cast<std::uint8_t>(little_endian(1)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(little_endian(4)); }
  std::uint64_t u64() { return little_endian(8); }
  std::int64_t i64() { return static_cast<std::int64_t>(little_endian(8)); }
  std::string_view raw(std::size_t size) {
    if (bytes_.size() - at_ < size) {
      failed_ = true;
      return {};
    }
    std::string_view out(reinterpret_cast<const char*>(bytes_.data() + at_), size);
    at_ += size;
    return out;
  }
  std::string_view str(std::size_t size_max) {
    const std::uint32_t size = u32();
    if (size > size_max) {
      failed_ = true;
      return {};
    }
    return raw(size);
  }
  // A count of items of at least `item_size` bytes each that can still fit.
  std::uint64_t count(std::size_t item_size) {
    const std::uint64_t n = u64();
    if (n > (bytes_.size() - at_) / item_size) failed_ = true;
    return failed_ ? 0 : n;
  }
  bool failed() const { return failed_; }
  bool at_end() const { return !failed_ && at_ == bytes_.size(); }

 private:
  std::uint64_t little_endian(std::size_t size) {
    if (bytes_.size() - at_ < size) {
      failed_ = true;
      return 0;
    }
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < size; ++i) v |= std::uint64_t{bytes_[at_ + i]} << (8 * i);
    at_ += size;
    return v;
  }
  std::span<const std::uint8_t> bytes_;
  std::size_t at_ = 0;
  bool failed_ = false;
};

}  // namespace admit::storage::detail
