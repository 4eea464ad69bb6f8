#include "server/event_directory.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>

#include "protocol/assertions.h"
#include "protocol/shard.h"

namespace admit::server {
namespace {

// Twice the events a shard may own, so linear probes stay short.
constexpr std::uint32_t table_slots = 2 * events_per_shard_max;
constexpr std::uint64_t slot_hash_seed = 0x5eed'd1ec'7041'ee01;
constexpr std::size_t payload_words = (sizeof(EventSnapshot) + 7) / 8;
constexpr std::size_t entry_words = 1 + payload_words;  // seqlock word, then the payload
// A reader that keeps meeting a writer mid-update yields after this many spins.
constexpr int read_spins_before_yield = 64;

std::uint32_t home_slot(std::string_view id) {
  return static_cast<std::uint32_t>(XXH3_64bits_withSeed(id.data(), id.size(), slot_hash_seed)) &
         (table_slots - 1);
}

}  // namespace

// Memory comes from calloc: zero pages are mapped lazily, so an idle table
// costs address space only. Words are accessed through std::atomic_ref.
struct EventDirectory::Table {
  std::uint64_t* words = nullptr;
  // Live watchers per slot, from every shard (any shard adds and removes its
  // own): not part of the owner's seqlocked snapshot.
  std::atomic<std::uint32_t>* watchers = nullptr;
  // Slots in use, in publication order, so listing visits events, not slots:
  // the owner writes slots_in_order[used] and then publishes `used + 1`.
  std::uint32_t* slots_in_order = nullptr;
  std::atomic<std::uint32_t> published{0};
  std::uint32_t used = 0;  // owner shard only

  Table() {
    words = static_cast<std::uint64_t*>(std::calloc(std::size_t{table_slots} * entry_words, 8));
    slots_in_order = static_cast<std::uint32_t*>(std::calloc(events_per_shard_max, 4));
    watchers = static_cast<std::atomic<std::uint32_t>*>(
        std::calloc(table_slots, sizeof(std::atomic<std::uint32_t>)));
    if (words == nullptr || slots_in_order == nullptr || watchers == nullptr) {
      throw std::bad_alloc();
    }
  }
  ~Table() {
    std::free(words);
    std::free(slots_in_order);
    std::free(watchers);
  }

  std::uint64_t* entry(std::uint32_t slot) const { return words + std::size_t{slot} * entry_words; }

  // A consistent copy of `slot`, or nullopt when the slot was never used.
  std::optional<EventSnapshot> read(std::uint32_t slot) const {
    std::uint64_t* const entry_words_ptr = entry(slot);
    std::uint64_t copy[payload_words];
    for (int spins = 0;; ++spins) {
      const std::uint64_t before =
          std::atomic_ref<std::uint64_t>(entry_words_ptr[0]).load(std::memory_order_acquire);
      if (before == 0) return std::nullopt;
      if (before % 2 == 0) {
        // Acquire loads: the sequence is read again only after the payload.
        for (std::size_t i = 0; i < payload_words; ++i) {
          copy[i] = std::atomic_ref<std::uint64_t>(entry_words_ptr[1 + i])
                        .load(std::memory_order_acquire);
        }
        const std::uint64_t after =
            std::atomic_ref<std::uint64_t>(entry_words_ptr[0]).load(std::memory_order_relaxed);
        if (after == before) break;
      }
      if (spins >= read_spins_before_yield) std::this_thread::yield();
    }
    EventSnapshot snapshot;
    std::memcpy(static_cast<void*>(&snapshot), copy, sizeof snapshot);
    snapshot.watchers = watchers[slot].load(std::memory_order_relaxed);
    return snapshot;
  }

  void write(std::uint32_t slot, const EventSnapshot& snapshot) {
    std::uint64_t* const entry_words_ptr = entry(slot);
    std::uint64_t copy[payload_words] = {};
    std::memcpy(copy, static_cast<const void*>(&snapshot), sizeof snapshot);
    std::atomic_ref<std::uint64_t> sequence(entry_words_ptr[0]);
    const std::uint64_t before = sequence.load(std::memory_order_relaxed);
    ADMIT_ASSERT(before % 2 == 0);
    sequence.store(before + 1, std::memory_order_relaxed);
    // Release stores: a reader that sees any new word also sees the odd sequence.
    for (std::size_t i = 0; i < payload_words; ++i) {
      std::atomic_ref<std::uint64_t>(entry_words_ptr[1 + i])
          .store(copy[i], std::memory_order_release);
    }
    sequence.store(before + 2, std::memory_order_release);
  }

  // The slot holding `id`, or the empty slot where it would go.
  std::uint32_t probe(std::string_view id, bool* found) const {
    std::uint32_t slot = home_slot(id);
    for (std::uint32_t step = 0; step < table_slots; ++step) {
      const auto current = read(slot);
      if (!current) break;
      if (current->id.view() == id) {
        *found = true;
        return slot;
      }
      slot = (slot + 1) & (table_slots - 1);
    }
    *found = false;
    return slot;
  }
};

EventDirectory::EventDirectory(std::uint32_t shards) : shards_(shards) {
  for (std::uint32_t i = 0; i < shards; ++i) tables_.push_back(std::make_unique<Table>());
}

EventDirectory::~EventDirectory() = default;

bool EventDirectory::full(std::uint32_t shard) const {
  return tables_[shard]->used >= events_per_shard_max;
}

void EventDirectory::publish(std::uint32_t shard, const EventSnapshot& event) {
  Table& table = *tables_[shard];
  bool found = false;
  const std::uint32_t slot = table.probe(event.id.view(), &found);
  table.write(slot, event);
  if (!found) {
    ADMIT_ASSERT(table.used < events_per_shard_max);
    std::atomic_ref<std::uint32_t>(table.slots_in_order[table.used])
        .store(slot, std::memory_order_relaxed);
    ++table.used;
    table.published.store(table.used, std::memory_order_release);
  }
}

std::optional<EventSnapshot> EventDirectory::find(std::string_view id) const {
  const Table& table = *tables_[owner_shard(id, shards_)];
  bool found = false;
  const std::uint32_t slot = table.probe(id, &found);
  if (!found) return std::nullopt;
  return table.read(slot);
}

bool EventDirectory::add_watchers(std::string_view id, std::int32_t delta) {
  Table& table = *tables_[owner_shard(id, shards_)];
  bool found = false;
  const std::uint32_t slot = table.probe(id, &found);
  if (!found) return false;
  table.watchers[slot].fetch_add(static_cast<std::uint32_t>(delta), std::memory_order_relaxed);
  return true;
}

std::vector<EventSnapshot> EventDirectory::list(std::string_view after, std::uint32_t limit,
                                                bool* more) const {
  // A max-heap by id of the `limit + 1` smallest ids after `after`: the
  // extra one tells whether more follow.
  const auto by_id = [](const EventSnapshot& a, const EventSnapshot& b) {
    return a.id.view() < b.id.view();
  };
  std::vector<EventSnapshot> smallest;
  smallest.reserve(std::size_t{limit} + 1);
  for (const auto& table : tables_) {
    const std::uint32_t published = table->published.load(std::memory_order_acquire);
    for (std::uint32_t i = 0; i < published; ++i) {
      const std::uint32_t slot =
          std::atomic_ref<std::uint32_t>(table->slots_in_order[i]).load(std::memory_order_relaxed);
      const auto event = table->read(slot);
      if (!event || event->id.view() <= after) continue;
      if (smallest.size() <= limit) {
        smallest.push_back(*event);
        std::push_heap(smallest.begin(), smallest.end(), by_id);
      } else if (event->id.view() < smallest.front().id.view()) {
        std::pop_heap(smallest.begin(), smallest.end(), by_id);
        smallest.back() = *event;
        std::push_heap(smallest.begin(), smallest.end(), by_id);
      }
    }
  }
  std::sort_heap(smallest.begin(), smallest.end(), by_id);
  *more = smallest.size() > limit;
  if (*more) smallest.pop_back();
  return smallest;
}

}  // namespace admit::server
