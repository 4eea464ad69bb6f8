// ProbeTable, the open-addressing table under the user table and the user
// slots: random adds and erases agree with std::map, also when homes collide
// and probes wrap around the end of the array (what backward-shift deletion
// must get right).
#include "storage/probe_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace admit::storage::detail {
namespace {

// Key 0 is not stored: 0 marks an empty slot. `home_bits` narrows the hash so
// that many keys share a home.
struct TestSlot {
  std::uint32_t key = 0;
  std::uint32_t value = 0;
  std::uint32_t home_bits = 32;
  bool empty() const { return key == 0; }
  std::uint32_t hash() const { return hash_of(key, home_bits); }
  static std::uint32_t hash_of(std::uint32_t key, std::uint32_t home_bits) {
    const auto mixed = static_cast<std::uint32_t>((key * 0x9E3779B97F4A7C15ull) >> 32);
    return home_bits == 32 ? mixed : mixed & ((1u << home_bits) - 1);
  }
};

void agrees_with_map(std::uint32_t home_bits, std::uint32_t key_max, int steps) {
  SCOPED_TRACE("home_bits=" + std::to_string(home_bits));
  ProbeTable<TestSlot> table;
  std::map<std::uint32_t, std::uint32_t> model;
  std::mt19937 random(home_bits);
  const auto is = [](std::uint32_t key) {
    return [key](const TestSlot& s) { return s.key == key; };
  };
  for (int step = 0; step < steps; ++step) {
    const std::uint32_t key = 1 + random() % key_max;
    const std::uint32_t hash = TestSlot::hash_of(key, home_bits);
    if (random() % 3 == 0) {
      TestSlot* found = table.find(hash, is(key));
      ASSERT_EQ(found != nullptr, model.count(key) == 1) << step;
      if (found != nullptr) {
        table.erase(*found);
        model.erase(key);
      }
    } else {
      const auto [slot, added] = table.find_or_add(hash, is(key), [&] {
        return TestSlot{key, key * 7, home_bits};
      });
      ASSERT_EQ(added, model.count(key) == 0) << step;
      ASSERT_EQ(slot->value, key * 7);
      model.emplace(key, key * 7);
    }
    ASSERT_EQ(table.size(), model.size());
  }
  for (std::uint32_t key = 1; key <= key_max; ++key) {
    const TestSlot* found = table.find(TestSlot::hash_of(key, home_bits), is(key));
    ASSERT_EQ(found != nullptr, model.count(key) == 1) << key;
  }
  std::size_t visited = 0;
  table.for_each([&](const TestSlot& slot) {
    ++visited;
    EXPECT_EQ(model.count(slot.key), 1u);
  });
  EXPECT_EQ(visited, model.size());
}

TEST(ProbeTable, AgreesWithAMapUnderAddsAndErases) { agrees_with_map(32, 3000, 60'000); }

TEST(ProbeTable, AgreesWithAMapWhenHomesCollide) {
  for (std::uint32_t home_bits : {0u, 1u, 3u, 5u}) agrees_with_map(home_bits, 40, 20'000);
}

TEST(ProbeTable, ReserveKeepsWhatIsThere) {
  ProbeTable<TestSlot> table;
  const auto is = [](std::uint32_t key) {
    return [key](const TestSlot& s) { return s.key == key; };
  };
  for (std::uint32_t key = 1; key <= 100; ++key) {
    table.find_or_add(TestSlot::hash_of(key, 32), is(key), [key] { return TestSlot{key, key}; });
  }
  table.reserve(10'000);
  for (std::uint32_t key = 1; key <= 100; ++key) {
    const TestSlot* found = table.find(TestSlot::hash_of(key, 32), is(key));
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->value, key);
  }
  EXPECT_EQ(table.size(), 100u);
  table.clear();
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.find(TestSlot::hash_of(1, 32), is(1)), nullptr);
}

}  // namespace
}  // namespace admit::storage::detail
