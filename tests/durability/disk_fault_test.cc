// Real disk faults under a booking load (issue 10, item 3):
// - a data folder on a tiny tmpfs that fills up (ENOSPC; mounting needs root,
//   the test is skipped otherwise), then grows (remount);
// - a disk whose writes and flushes start failing with EIO (the LD_PRELOAD
//   shim fault_shim.cc: device-mapper is not available in the sandbox).
// Expected: every request answered (a write UNAVAILABLE, never a success that
// is not durable), reads of the published counters served, nothing
// acknowledged lost across kill -9, writes back once the disk has room, a
// failed write never retried (fail-stop until a restart).
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/durability/durability_support.h"
#include "tests/http/http_test_client.h"

namespace admit::test {
namespace {

using Clock = std::chrono::steady_clock;
using HttpClient = test::Client;  // libcurl; admit::Client speaks the binary protocol

constexpr int load_threads = 4;
constexpr auto load_time_max = std::chrono::seconds(8);
constexpr auto recovery_wait_max = std::chrono::seconds(5);
const std::string padding(48, 'p');  // longer records fill the disk sooner

struct Acknowledged {
  std::string ref, user;
};

// What a booking load was told.
struct LoadResult {
  std::vector<Acknowledged> acknowledged;
  std::map<Outcome, int> outcomes;
  std::set<std::string> unavailable_messages;  // each text once
  int unanswered = 0;                          // transport errors, timeouts
};

// `load_threads` clients book on `events` (one seat each, a new user and
// request id each time) until `stop_after_unavailable` UNAVAILABLE answers
// came back, or `time_max`.
LoadResult book_until_unavailable(const AdmitdProcess& server,
                                  const std::vector<std::string>& events, const std::string& tag,
                                  int stop_after_unavailable,
                                  Clock::duration time_max = load_time_max) {
  LoadResult result;
  std::mutex mutex;
  std::atomic<int> unavailable{0};
  const auto deadline = Clock::now() + time_max;
  std::vector<std::thread> threads;
  for (int t = 0; t < load_threads; ++t) {
    threads.emplace_back([&, t] {
      ClientOptions options = crash_client_options(server, t % 2 == 0);  // half forwarded
      admit::Client client(options);
      for (int i = 0; unavailable.load() < stop_after_unavailable && Clock::now() < deadline; ++i) {
        const std::string user = tag + "-" + std::to_string(t) + "-" + std::to_string(i) + padding;
        const std::string& event = events[static_cast<std::size_t>(i) % events.size()];
        const Result<BookReply> booked =
            client.book({.event = event, .user = user, .request_id = user});
        std::lock_guard lock(mutex);
        if (!booked.answered()) {
          ++result.unanswered;
          continue;
        }
        ++result.outcomes[booked.outcome()];
        if (booked.outcome() == Outcome::booked) {
          result.acknowledged.push_back({booked->ref, user});
        } else if (booked.outcome() == Outcome::unavailable) {
          result.unavailable_messages.insert(booked.message());
          ++unavailable;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return result;
}

std::string describe(const LoadResult& load) {
  std::string text = std::to_string(load.acknowledged.size()) + " acknowledged, " +
                     std::to_string(load.unanswered) + " unanswered;";
  for (const auto& [outcome, count] : load.outcomes) {
    text += " " + std::string(outcome_name(outcome)) + " x" + std::to_string(count);
  }
  for (const std::string& message : load.unavailable_messages) text += "\n  " + message;
  return text;
}

std::vector<std::string> create_events(const AdmitdProcess& server) {
  admit::Client client(crash_client_options(server, true));
  std::vector<std::string> events;
  for (int i = 0; i < 4; ++i) {  // on both shards
    events.push_back("disk-" + std::to_string(i));
    EXPECT_TRUE(client.create_event({.id = events.back(), .capacity = 10'000'000}).ok());
  }
  return events;
}

// Reads that need no change: the published counters (GetEvent, ListEvents,
// Stats) are served and show at least every acknowledged booking.
void expect_counters_served(const AdmitdProcess& server, const std::vector<std::string>& events,
                            std::size_t acknowledged) {
  admit::Client reader(crash_client_options(server, true));
  std::uint64_t confirmed = 0;
  for (const std::string& id : events) {
    const Result<EventInfo> event = reader.get_event(id);
    ASSERT_TRUE(event.ok()) << event.status().to_string();
    confirmed += event->confirmed;
  }
  EXPECT_GE(confirmed, acknowledged);
  const Result<StatsInfo> stats = reader.stats();
  EXPECT_TRUE(stats.ok()) << stats.status().to_string();
}

// After kill -9 and a restart: every acknowledged booking is there, with its
// user, and the seat invariants hold.
void expect_acknowledged_survive(AdmitdProcess& server,
                                 const std::vector<Acknowledged>& acknowledged) {
  server.kill9();
  server.start();
  admit::Client client(crash_client_options(server, true));
  const std::vector<EventInfo> events = all_events(client);
  const std::vector<BookingInfo> bookings = all_bookings(client, events);
  std::map<std::string, std::string> users_by_ref;
  for (const BookingInfo& booking : bookings) users_by_ref[booking.ref] = booking.user;
  std::size_t lost = 0;
  for (const Acknowledged& ack : acknowledged) {
    const auto found = users_by_ref.find(ack.ref);
    if (found == users_by_ref.end() || found->second != ack.user) ++lost;
  }
  EXPECT_EQ(lost, 0u) << "of " << acknowledged.size() << " acknowledged bookings";
  expect_invariants(events, bookings);
}

// A booking tried once a second until one is BOOKED or `wait` passes.
bool books_again_within(const AdmitdProcess& server, const std::string& event,
                        std::chrono::seconds wait, std::vector<Acknowledged>* acknowledged) {
  admit::Client client(crash_client_options(server, true));
  const auto deadline = Clock::now() + wait;
  for (int i = 0; Clock::now() < deadline; ++i) {
    const std::string user = "again-" + std::to_string(i);
    const Result<BookReply> booked =
        client.book({.event = event, .user = user, .request_id = user});
    if (booked.outcome() == Outcome::booked) {
      acknowledged->push_back({booked->ref, user});
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

// A tmpfs mounted on a fresh folder for the test's life.
class Tmpfs {
 public:
  explicit Tmpfs(const std::string& size) {
    char pattern[] = "/tmp/admit-tmpfs-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) return;
    dir_ = pattern;
    const std::string options = "size=" + size;
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      why_ = std::strerror(errno);
    }
  }
  ~Tmpfs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }
  bool resize(const std::string& size) {
    const std::string options = "size=" + size;
    return ::mount(nullptr, dir_.c_str(), nullptr, MS_REMOUNT, options.c_str()) == 0;
  }
  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_, why_;
  bool mounted_ = false;
};

TEST(DiskFaults, FullTmpfsRefusesWritesServesReadsAndRecoversWhenItGrows) {
  Tmpfs tmpfs("3m");
  if (!tmpfs.mounted()) {
    GTEST_SKIP() << "mounting a tmpfs needs root (CAP_SYS_ADMIN): " << tmpfs.why();
  }
  AdmitdOptions options = admitd_options(2, "strict", {"--map-size", "1MiB"});
  options.data_dir = tmpfs.dir() + "/data";
  AdmitdProcess server(options);
  const std::vector<std::string> events = create_events(server);
  LoadResult load = book_until_unavailable(server, events, "full", 20);
  ASSERT_GE(load.outcomes[Outcome::unavailable], 20) << describe(load);
  EXPECT_EQ(load.unanswered, 0) << describe(load);
  ASSERT_FALSE(load.acknowledged.empty()) << describe(load);
  for (const std::string& message : load.unavailable_messages) {
    EXPECT_NE(message.find("out of disk space"), std::string::npos) << message;
  }
  expect_counters_served(server, events, load.acknowledged.size());
  {  // the disk refused nothing admitted: bookings read from the machine are served too
    admit::Client reader(crash_client_options(server, true));
    const Result<BookingInfo> booking = reader.get_booking(load.acknowledged.back().ref);
    EXPECT_TRUE(booking.ok()) << booking.status().to_string();
  }
  EXPECT_NE(server.output().find("short of space"), std::string::npos) << server.output();

  ASSERT_TRUE(tmpfs.resize("48m"));  // room for both shards' whole reserve
  EXPECT_TRUE(books_again_within(server, events[0], recovery_wait_max, &load.acknowledged))
      << server.output();
  const auto deadline = Clock::now() + recovery_wait_max;  // retried once a second
  while (server.output().find("room again") == std::string::npos && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(server.output().find("room again"), std::string::npos) << server.output();
  expect_acknowledged_survive(server, load.acknowledged);
}

// The fault shim, preloaded into the next admitd started.
class FailingDisk {
 public:
  FailingDisk() {
    const char* shim = std::getenv("ADMIT_FAULT_SHIM");
    if (shim == nullptr) return;
    char pattern[] = "/tmp/admit-fault-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) return;
    dir_ = pattern;
    ::setenv("ADMIT_FAULT_FILE", (dir_ + "/fail").c_str(), 1);
    ::setenv("LD_PRELOAD", shim, 1);
    // An AddressSanitizer build of admitd would refuse a library loaded before its runtime.
    const char* asan = std::getenv("ASAN_OPTIONS");
    saved_asan_ = asan != nullptr ? asan : "";
    had_asan_ = asan != nullptr;
    ::setenv("ASAN_OPTIONS", (saved_asan_ + ":verify_asan_link_order=0").c_str(), 1);
  }
  ~FailingDisk() {
    preload_off();
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }
  bool ready() const { return !dir_.empty(); }
  void fail(bool on) {
    if (on) {
      std::ofstream(dir_ + "/fail") << "EIO\n";
    } else {
      std::filesystem::remove(dir_ + "/fail");
    }
  }
  void preload_off() {
    ::unsetenv("LD_PRELOAD");
    ::unsetenv("ADMIT_FAULT_FILE");
    if (had_asan_) {
      ::setenv("ASAN_OPTIONS", saved_asan_.c_str(), 1);
    } else {
      ::unsetenv("ASAN_OPTIONS");
    }
  }

 private:
  std::string dir_;
  std::string saved_asan_;
  bool had_asan_ = false;
};

TEST(DiskFaults, FailingWritesStopTheShardsWritesUntilARestartAndLoseNothing) {
  FailingDisk disk;
  if (!disk.ready()) GTEST_SKIP() << "ADMIT_FAULT_SHIM is not set (run through meson test)";
  AdmitdProcess server(admitd_options(2, "strict"));
  disk.preload_off();  // the next start, after the "crash", runs on a sound disk
  const std::vector<std::string> events = create_events(server);
  LoadResult load = book_until_unavailable(server, events, "before", 1, std::chrono::seconds(1));
  ASSERT_EQ(load.outcomes[Outcome::unavailable], 0) << describe(load);
  ASSERT_FALSE(load.acknowledged.empty());

  disk.fail(true);
  HttpClient http;
  {  // the first write after the fault is applied, then its batch fails: 503, not 201
    const Reply booked = http.send("POST", server.http_url("/v1/events/disk-0/bookings"),
                                   R"({"user":"http-first"})");
    EXPECT_EQ(booked.status, 503) << booked.body;
    EXPECT_EQ(booked.outcome(), "UNAVAILABLE") << booked.body;
    EXPECT_NE(booked.message().find("not known to be durable"), std::string::npos) << booked.body;
  }
  LoadResult failing = book_until_unavailable(server, events, "failing", 40);
  EXPECT_EQ(failing.unanswered, 0) << describe(failing);
  ASSERT_GE(failing.outcomes[Outcome::unavailable], 40) << describe(failing);
  bool waiting_answered = false;  // a booking applied, then its batch failed: not as booked
  for (const std::string& message : failing.unavailable_messages) {
    EXPECT_NE(message.find("Input/output error"), std::string::npos) << message;
    waiting_answered |= message.find("not known to be durable") != std::string::npos;
  }
  EXPECT_TRUE(waiting_answered) << describe(failing);
  load.acknowledged.insert(load.acknowledged.end(), failing.acknowledged.begin(),
                           failing.acknowledged.end());
  expect_counters_served(server, events, load.acknowledged.size());
  Reply health;
  for (const auto deadline = Clock::now() + recovery_wait_max; Clock::now() < deadline;) {
    health = http.send("GET", server.http_url("/healthz"));  // updated on a housekeeping tick
    if (health.status == 503) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(health.status, 503) << health.body;
  EXPECT_NE(health.body.find("shard"), std::string::npos) << health.body;

  // The disk works again, but a failed write or flush is never retried:
  // writes stay refused past several retry intervals, until a restart.
  disk.fail(false);
  std::vector<Acknowledged> after;
  EXPECT_FALSE(books_again_within(server, events[0], std::chrono::seconds(3), &after));
  EXPECT_NE(server.output().find("never retried"), std::string::npos) << server.output();

  expect_acknowledged_survive(server, load.acknowledged);
  EXPECT_TRUE(books_again_within(server, events[0], recovery_wait_max, &after));
}

}  // namespace
}  // namespace admit::test
