// RocksDB-style crash test of durability strict, through the real admitd:
// client threads book, hold, confirm and cancel while the server is killed
// with SIGKILL at random moments; after each restart every acknowledged
// success must be there (in its acknowledged state or a later legal one), no
// booking may exist that no client could have caused, and the seat invariants
// must hold. Seeded: ADMIT_CRASH_SEED replays a run, ADMIT_CRASH_ROUNDS and
// ADMIT_CRASH_BURST_MS make it longer (bench/crash/run-crash does).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/durability/durability_support.h"

namespace admit::test {
namespace {

constexpr int workers_count = 4;
constexpr int users_per_worker = 12;
constexpr std::uint32_t event_capacity = 40;
constexpr std::uint32_t hold_ttl_ms = 10 * 60 * 1000;  // no hold expires during the test
// The events of the load: some confirm at once, some hold, one has a waitlist.
const std::vector<EventSpec> event_specs = {
    {.id = "crash-open-a", .capacity = event_capacity, .per_user_max = 2},
    {.id = "crash-open-b", .capacity = event_capacity, .per_user_max = 2},
    {.id = "crash-hold-a",
     .capacity = event_capacity,
     .per_user_max = 2,
     .hold_ttl_ms = hold_ttl_ms},
    {.id = "crash-hold-b",
     .capacity = event_capacity,
     .per_user_max = 2,
     .hold_ttl_ms = hold_ttl_ms},
    {.id = "crash-small-waitlist", .capacity = 6, .per_user_max = 2, .waitlist = true},
};

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr ? std::strtoull(text, nullptr, 10) : fallback;
}

// What a client was told last about a booking; a later legal state may follow.
enum class Acked { none, held, confirmed, cancelled };

struct Known {
  std::string event, user;
  std::uint32_t seats = 0;  // 0: not told (an ALREADY_BOOKED ref)
  Acked acked = Acked::none;
};

bool legal_after(Acked acked, BookingState now) {
  switch (acked) {
    case Acked::none:
      return true;
    case Acked::held:
      return true;  // confirmed, cancelled or expired since
    case Acked::confirmed:
      return now == BookingState::confirmed || now == BookingState::cancelled;
    case Acked::cancelled:
      return now == BookingState::cancelled;
  }
  return false;
}

// One client thread's users and what it was told about their bookings. A
// booking is only ever touched by the worker owning its user.
struct Worker {
  int index = 0;
  std::vector<std::string> users;
  std::map<std::string, Known> refs;
  std::map<std::pair<std::string, std::string>, std::string> current;  // (event, user) -> ref
  std::uint64_t next_request = 0;
  std::uint64_t acknowledged = 0;
  std::mt19937_64 rng;

  std::string request_id(std::uint64_t seed) {
    return "crash-" + std::to_string(seed) + "-" + std::to_string(index) + "-" +
           std::to_string(next_request++);
  }
};

// One operation; false once the server stopped answering.
bool step(Worker& w, Client& client, std::uint64_t seed) {
  const EventSpec& spec = event_specs[w.rng() % event_specs.size()];
  const std::string& user = w.users[w.rng() % w.users.size()];
  const std::string event(spec.id);
  const auto key = std::make_pair(event, user);
  const auto found = w.current.find(key);
  if (found == w.current.end()) {
    const bool hold = spec.hold_ttl_ms > 0 && w.rng() % 2 == 0;
    const auto seats = static_cast<std::uint32_t>(1 + w.rng() % 2);
    const std::string id = w.request_id(seed);
    const Result<BookReply> booked =
        client.book({.event = event, .user = user, .seats = seats, .hold = hold, .request_id = id});
    if (!booked.answered()) return false;
    if (booked.outcome() == Outcome::booked || booked.outcome() == Outcome::held) {
      const Acked acked = booked.outcome() == Outcome::held ? Acked::held : Acked::confirmed;
      w.refs[booked->ref] = {event, user, seats, acked};
      w.current[key] = booked->ref;
      ++w.acknowledged;
    } else if (booked.outcome() == Outcome::already_booked) {
      w.refs.try_emplace(booked->ref, Known{event, user, 0, Acked::none});
      w.current[key] = booked->ref;
    }
    return true;
  }
  const std::string ref = found->second;
  Known& known = w.refs[ref];
  const std::string id = w.request_id(seed);
  if (known.acked == Acked::held && w.rng() % 2 == 0) {
    const Result<BookingInfo> confirmed = client.confirm(ref, id);
    if (!confirmed.answered()) return false;
    if (confirmed.outcome() == Outcome::booked) {
      known.acked = Acked::confirmed;
      ++w.acknowledged;
    } else {
      w.current.erase(key);
    }
    return true;
  }
  const Result<BookingInfo> cancelled = client.cancel(ref, id);
  if (!cancelled.answered()) return false;
  if (cancelled.outcome() == Outcome::ok) {
    known.acked = Acked::cancelled;
    ++w.acknowledged;
  }
  w.current.erase(key);
  return true;
}

void run_load(Worker& w, const AdmitdProcess& server, std::uint64_t seed,
              const std::atomic<bool>& killed) {
  Client client(crash_client_options(server, /*shard_aware=*/w.index % 2 == 0));
  constexpr int steps_max = 1'000'000;
  for (int i = 0; i < steps_max && !killed.load(); ++i) {
    if (!step(w, client, seed)) {
      if (killed.load()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // a slow answer: go on
    }
  }
}

void check_after_restart(const std::vector<Worker>& workers, Client& client, int round) {
  std::set<std::string> users, events;
  for (const Worker& w : workers) users.insert(w.users.begin(), w.users.end());
  for (const EventSpec& spec : event_specs) events.insert(std::string(spec.id));
  const std::vector<EventInfo> listed_events = all_events(client);
  const std::vector<BookingInfo> bookings = all_bookings(client, listed_events);
  ASSERT_EQ(listed_events.size(), event_specs.size()) << "round " << round;
  std::map<std::string, const BookingInfo*> by_ref;
  for (const BookingInfo& b : bookings) {
    EXPECT_TRUE(users.count(b.user) && events.count(b.event))
        << "round " << round << ": booking " << b.ref << " of " << b.user << " on " << b.event
        << " could not come from the load";
    by_ref[b.ref] = &b;
  }
  for (const Worker& w : workers) {
    for (const auto& [ref, known] : w.refs) {
      if (known.acked == Acked::none) continue;
      const auto it = by_ref.find(ref);
      ASSERT_NE(it, by_ref.end()) << "round " << round << ": acknowledged booking " << ref << " of "
                                  << known.user << " on " << known.event << " is lost";
      const BookingInfo& b = *it->second;
      EXPECT_EQ(b.event, known.event) << ref;
      EXPECT_EQ(b.user, known.user) << ref;
      if (known.seats != 0) {
        EXPECT_EQ(b.seats, known.seats) << ref;
      }
      EXPECT_TRUE(legal_after(known.acked, b.state))
          << "round " << round << ": " << ref << " was acknowledged "
          << static_cast<int>(known.acked) << " and is now " << booking_state_name(b.state);
    }
  }
  expect_invariants(listed_events, bookings);
}

TEST(CrashTest, AcknowledgedChangesSurviveKillNine) {
  const std::uint64_t seed = env_or("ADMIT_CRASH_SEED", std::random_device{}());
  const int rounds = static_cast<int>(env_or("ADMIT_CRASH_ROUNDS", 20));
  const std::uint64_t burst_ms_max = env_or("ADMIT_CRASH_BURST_MS", 400);
  std::printf("crash test: seed %llu, %d rounds (ADMIT_CRASH_SEED=%llu replays the schedule)\n",
              static_cast<unsigned long long>(seed), rounds, static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  // Frequent checkpoints: kills land before, during and after them too.
  AdmitdProcess server(admitd_options(2, "strict", {"--checkpoint-records", "300"}));
  {
    Client admin(crash_client_options(server, true));
    for (const EventSpec& spec : event_specs) {
      ASSERT_TRUE(admin.create_event(spec).ok()) << spec.id;
    }
  }
  std::vector<Worker> workers(workers_count);
  for (int i = 0; i < workers_count; ++i) {
    workers[i].index = i;
    workers[i].rng.seed(rng());
    for (int u = 0; u < users_per_worker; ++u) {
      workers[i].users.push_back("user-" + std::to_string(i) + "-" + std::to_string(u));
    }
  }
  for (int round = 1; round <= rounds; ++round) {
    std::atomic<bool> killed{false};
    std::vector<std::thread> threads;
    for (Worker& w : workers) {
      threads.emplace_back([&w, &server, seed, &killed] { run_load(w, server, seed, killed); });
    }
    const auto burst_ms = static_cast<std::int64_t>(50 + rng() % burst_ms_max);
    std::this_thread::sleep_for(std::chrono::milliseconds(burst_ms));
    server.kill9();
    killed.store(true);
    for (auto& thread : threads) thread.join();
    server.start();
    Client checker(crash_client_options(server, true));
    check_after_restart(workers, checker, round);
    if (HasFatalFailure()) return;
  }
  std::uint64_t acknowledged = 0;
  for (const Worker& w : workers) acknowledged += w.acknowledged;
  std::printf("crash test: %llu acknowledged changes checked over %d kills\n",
              static_cast<unsigned long long>(acknowledged), rounds);
  EXPECT_GT(acknowledged, static_cast<std::uint64_t>(rounds)) << "the load made no progress";
}

}  // namespace
}  // namespace admit::test
