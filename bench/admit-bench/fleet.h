// Plumbing shared by the scenarios: a fleet of pipelined connections driven
// from one thread, the server's view of an event after a run, the live
// progress line, the --record file, and unique event names.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "admit/async_client.h"
#include "admit/client.h"
#include "bench/admit-bench/verdict.h"

namespace admit::bench {

using Clock = std::chrono::steady_clock;

inline std::uint64_t ns_since_epoch(Clock::time_point time) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count());
}

inline std::uint64_t now_ns() { return ns_since_epoch(Clock::now()); }

// CPU seconds this process has used so far.
struct CpuSeconds {
  double user = 0;
  double system = 0;
  double total() const { return user + system; }
};
CpuSeconds process_cpu();

// Flags every scenario takes.
struct CommonOptions {
  ClientOptions client;     // host and port from --server
  bool json = false;        // --json: one JSON object on stdout, no summary
  std::string record_path;  // --record FILE
  std::string event_prefix = "bench";
  int phase_timeout_s = 60;  // a phase (connect, send, drain, verify) taking longer fails
};

// A name no other run uses: prefix-scenario-pid-ms-index.
std::string unique_event_id(const std::string& prefix, const std::string& scenario, int index);

// The live progress line on stderr, only when stderr is a terminal and at most
// four times a second. finish() erases it.
class Progress {
 public:
  explicit Progress(std::string label);
  ~Progress() { finish(); }
  void update(std::uint64_t requests, std::uint64_t errors);
  void finish();

 private:
  std::string label_;
  bool enabled_ = false;
  bool shown_ = false;
  Clock::time_point started_;
  Clock::time_point last_shown_;
};

// Every acknowledged success as a JSON line: {"event","ref","user","seats","outcome"}.
class SuccessRecorder {
 public:
  SuccessRecorder() = default;
  ~SuccessRecorder();
  SuccessRecorder(const SuccessRecorder&) = delete;
  SuccessRecorder& operator=(const SuccessRecorder&) = delete;

  // An empty path records nothing. False (with `why`) when the file cannot be opened.
  bool open(const std::string& path, std::string* why);
  bool enabled() const { return file_ != nullptr; }
  void record(std::string_view event, std::string_view ref, std::string_view user,
              std::uint32_t seats, Outcome outcome);

 private:
  std::FILE* file_ = nullptr;
};

// AsyncClients driven by one thread: submit on any, then flush_all() and
// drain() until every callback ran.
class Fleet {
 public:
  // Opens `count` clients, at most `ramp_per_s` a second (0: as fast as it
  // goes), that do not retry (attempts_max 1). Stops at the first that fails
  // and says which.
  Status open(const ClientOptions& options, std::size_t count, double ramp_per_s,
              Progress* progress);
  std::size_t size() const { return clients_.size(); }
  AsyncClient& operator[](std::size_t i) { return *clients_[i]; }
  std::size_t in_flight() const;
  // Polls every client until nothing is in flight or `deadline` passes, and
  // returns how many requests were still unanswered then (0: all answered).
  // Those are failed at the deadline (connection_lost: every client closed), so
  // no callback outlives the caller's state. `on_sweep` runs after each poll.
  template <typename OnSweep>
  std::size_t drain(Clock::time_point deadline, OnSweep&& on_sweep);
  // AsyncClient::poll_many over every client: flushes, waits up to `timeout`
  // for replies in one poll(2), runs their callbacks, returns how many ran.
  std::size_t poll_all(std::chrono::milliseconds timeout);

 private:
  // Longest a drain waits in one poll, so that it notices its deadline.
  static constexpr auto drain_poll_max = std::chrono::milliseconds(50);

  std::vector<std::unique_ptr<AsyncClient>> clients_;
  std::vector<AsyncClient*> polled_;  // clients_, as poll_many takes them
};

template <typename OnSweep>
std::size_t Fleet::drain(Clock::time_point deadline, OnSweep&& on_sweep) {
  while (in_flight() > 0) {
    const auto now = Clock::now();
    if (now >= deadline) {
      const std::size_t unanswered = in_flight();
      for (auto& client : clients_) client->close();
      return unanswered;
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
    poll_all(std::min<std::chrono::milliseconds>(left, drain_poll_max));
    on_sweep();
  }
  return 0;
}

// GetEvent and every page of ListBookings. False (with `why`) when the server
// did not answer OK or when the event has more than `bookings_max` bookings.
bool fetch_server_view(Client& client, const std::string& event, std::size_t bookings_max,
                       ServerView* view, std::string* why);

// The server's Stats, or nullopt when the call fails.
std::optional<StatsInfo> server_stats(Client& client);

// The server's resident memory as its Stats reports it; 0 when the call
// fails or the server does not report it.
std::uint64_t server_resident_bytes(Client& client);

// Creates the event (per_user_max: capacity; no sale window) or throws
// std::runtime_error naming the server's answer.
void create_event_or_throw(Client& client, std::string_view id, std::uint32_t capacity,
                           std::uint32_t hold_ttl_ms, bool waitlist);

}  // namespace admit::bench
