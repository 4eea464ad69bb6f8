// A hash table of small slots for the booking hot path: open addressing with
// linear probing in a power-of-two array, at most 3/4 full. A slot carries
// its own key (or a 32-bit hash of it), so growing and erasing never hash a
// key again, and a probe reads a few adjacent slots, mostly one cache line.
// absl::flat_hash_map stored a 16-byte string_view or a padded pair per entry
// and rehashed names when growing (BM_BookSuccess, BM_BookMemory).
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

#include "protocol/assertions.h"

namespace admit::storage::detail {

// Slot needs: `bool empty() const` (a value-initialized Slot is empty) and
// `std::uint32_t hash() const`, the hash its home index comes from.
template <typename Slot>
class ProbeTable {
 public:
  std::size_t size() const { return size_; }

  // The slot `matches` accepts on the probe from `hash`'s home, or nullptr.
  template <typename Matches>
  const Slot* find(std::uint32_t hash, Matches&& matches) const {
    if (size_ == 0) return nullptr;
    for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.empty()) return nullptr;
      if (matches(slot)) return &slot;
    }
  }
  template <typename Matches>
  Slot* find(std::uint32_t hash, Matches&& matches) {
    return const_cast<Slot*>(std::as_const(*this).find(hash, matches));
  }

  // Starts loading the cache line of `hash`'s home.
  void prefetch(std::uint32_t hash) const {
    if (slots_) __builtin_prefetch(&slots_[hash & mask_]);
  }

  // The slot `matches` accepts, or a new one set to `make()`: {slot, added}.
  template <typename Matches, typename Make>
  std::pair<Slot*, bool> find_or_add(std::uint32_t hash, Matches&& matches, Make&& make) {
    if (4 * (size_ + 1) > 3 * capacity()) grow();
    for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.empty()) {
        slot = make();
        ADMIT_ASSERT(!slot.empty() && (slot.hash() & mask_) == (hash & mask_));
        ++size_;
        return {&slot, true};
      }
      if (matches(slot)) return {&slot, false};
    }
  }

  // Backward-shift deletion: the slots after `erased` on its probe move up,
  // so no tombstones are left to lengthen later probes.
  void erase(Slot& erased) {
    ADMIT_ASSERT(!erased.empty() && &erased >= slots_.get() && &erased <= &slots_[mask_]);
    std::size_t hole = static_cast<std::size_t>(&erased - slots_.get());
    for (std::size_t i = (hole + 1) & mask_; !slots_[i].empty(); i = (i + 1) & mask_) {
      const std::size_t home = slots_[i].hash() & mask_;
      // Moves slot i into the hole unless its home lies cyclically in (hole, i].
      const bool home_after_hole =
          hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
      if (home_after_hole) continue;
      slots_[hole] = slots_[i];
      hole = i;
    }
    slots_[hole] = Slot{};
    --size_;
  }

  // Room for `count` slots without growing.
  void reserve(std::size_t count) {
    if (4 * count <= 3 * capacity()) return;
    std::size_t wanted = capacity() == 0 ? min_capacity : capacity();
    while (4 * count > 3 * wanted) wanted *= 2;
    if (wanted != capacity()) rehash(wanted);
  }

  template <typename Visit>
  void for_each(Visit&& visit) const {
    for (std::size_t i = 0; i < capacity(); ++i) {
      if (!slots_[i].empty()) visit(slots_[i]);
    }
  }

  void clear() {
    slots_.reset();
    mask_ = 0;
    size_ = 0;
  }

 private:
  static constexpr std::size_t min_capacity = 16;
  std::size_t capacity() const { return slots_ ? mask_ + 1 : 0; }
  void grow() { rehash(capacity() == 0 ? min_capacity : 2 * capacity()); }
  void rehash(std::size_t capacity) {
    auto old = std::exchange(slots_, std::make_unique<Slot[]>(capacity));
    const std::size_t old_capacity = old ? mask_ + 1 : 0;
    mask_ = capacity - 1;
    for (std::size_t i = 0; i < old_capacity; ++i) {
      if (old[i].empty()) continue;
      std::size_t at = old[i].hash() & mask_;
      while (!slots_[at].empty()) at = (at + 1) & mask_;
      slots_[at] = old[i];
    }
  }

  std::unique_ptr<Slot[]> slots_;
  std::size_t mask_ = 0;  // capacity - 1 once slots_ is allocated
  std::size_t size_ = 0;
};

}  // namespace admit::storage::detail
