// A bounded single-producer single-consumer ring of fixed-size slots, the only
// channel between two shards. Lock-free: the producer owns `tail_`, the
// consumer owns `head_`; each publishes its index with release and reads the
// other's with acquire. Full is a refusal (try_push returns nullptr), never a
// wait and never a growth.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "protocol/assertions.h"

namespace admit::server {

template <typename Slot>
class SpscRing {
  static_assert(std::is_trivially_copyable_v<Slot>);

 public:
  // `slots` is a power of two. Slot memory is left untouched until used, so
  // idle rings cost address space, not resident memory.
  explicit SpscRing(std::uint32_t slots)
      : mask_(slots - 1), slots_(static_cast<Slot*>(::operator new[](sizeof(Slot) * slots))) {
    ADMIT_ASSERT(slots >= 2 && (slots & (slots - 1)) == 0);
  }
  ~SpscRing() { ::operator delete[](slots_); }
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  // Producer: a slot to fill, or nullptr when full. The slot becomes visible
  // to the consumer at commit_push().
  Slot* try_push() { return try_push_ahead(0); }
  void commit_push() { commit_push(1); }

  // Producer: the slot `ahead` places after the next one, filled now and made
  // visible later, in order, by commit_push(count) (an owner holds answers
  // until they are durable). nullptr when the ring has no room for it.
  Slot* try_push_ahead(std::uint32_t ahead) {
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed) + ahead;
    if (tail - cached_head_ > mask_) {
      cached_head_ = head_.load(std::memory_order_acquire);
      if (tail - cached_head_ > mask_) return nullptr;
    }
    return &slots_[tail & mask_];
  }
  void commit_push(std::uint32_t count) {
    tail_.store(tail_.load(std::memory_order_relaxed) + count, std::memory_order_release);
  }

  // Consumer: the oldest slot, or nullptr when empty. It stays valid until
  // commit_pop().
  Slot* front() {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    if (head == cached_tail_) {
      cached_tail_ = tail_.load(std::memory_order_acquire);
      if (head == cached_tail_) return nullptr;
    }
    return &slots_[head & mask_];
  }
  void commit_pop() {
    head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  std::uint32_t capacity() const { return mask_ + 1; }

 private:
  const std::uint64_t mask_;
  Slot* const slots_;
  // Producer side and consumer side on their own cache lines.
  alignas(64) std::atomic<std::uint64_t> tail_{0};
  std::uint64_t cached_head_ = 0;  // producer's last view of head_
  alignas(64) std::atomic<std::uint64_t> head_{0};
  std::uint64_t cached_tail_ = 0;  // consumer's last view of tail_
};

}  // namespace admit::server
