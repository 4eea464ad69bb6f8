// admitd as a whole: the listening sockets, the state every shard shares
// (event directory, Stats counters, the cross-shard rings) and the reactor
// threads. Start-up and shutdown happen here; requests never touch a lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "server/event_directory.h"
#include "server/metrics.h"
#include "server/server_options.h"
#include "server/shard_command.h"
#include "server/spsc_ring.h"

namespace admit::server {

class Reactor;

// A request forwarded from shard `origin` to the owner of its event or ref.
struct RequestSlot {
  std::uint64_t connection = 0;  // the origin's connection handle
  std::uint64_t request_id = 0;  // the client's id, echoed in the reply
  ShardCommand command;
};

// The owner's answer, on its way back to the origin.
struct ResponseSlot {
  std::uint64_t connection = 0;
  std::uint64_t request_id = 0;
  ShardResult result;
};

// What all shards share. Each ring has one producer and one consumer thread.
struct SharedState {
  explicit SharedState(const ServerOptions& options);
  ~SharedState();  // after the reactors stopped: frees pages of undelivered answers

  SpscRing<RequestSlot>& requests(std::uint32_t from, std::uint32_t to) {
    return *request_rings[from * options.shards + to];
  }
  SpscRing<ResponseSlot>& responses(std::uint32_t from, std::uint32_t to) {
    return *response_rings[from * options.shards + to];
  }

  const ServerOptions options;
  const std::int64_t started_at_ms;
  EventDirectory directory;
  std::unique_ptr<ShardStatsCounters[]> stats;
  std::unique_ptr<ShardMetrics[]> metrics;
  std::vector<std::unique_ptr<SpscRing<RequestSlot>>> request_rings;    // [from * shards + to]
  std::vector<std::unique_ptr<SpscRing<ResponseSlot>>> response_rings;  // [owner * shards + origin]
  std::vector<int> ring_fds;  // each shard's io_uring fd, for msg_ring wakes; set at start
  // Why each shard's storage refuses writes (empty: it does not), copied
  // from its log on the housekeeping tick, for /healthz on any shard.
  std::optional<std::pair<std::uint32_t, std::string>> first_storage_failure() const;
  void set_storage_failure(std::uint32_t shard, const std::string& failure);

  std::atomic<std::uint32_t> connections{0};  // across shards, for --max-connections

 private:
  mutable std::mutex failures_mutex_;
  std::vector<std::string> failures_;  // guarded by failures_mutex_
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Creates the data folder and binds every listening socket. False with a
  // reason naming the address or folder.
  bool open(std::string* why);
  // Starts the reactor threads and returns once all of them serve.
  bool start(std::string* why);
  // Tells every reactor to stop and joins them.
  void stop();

  std::string ready_line() const;
  std::uint64_t requests_served() const;

 private:
  ServerOptions options_;
  std::unique_ptr<SharedState> shared_;
  std::vector<int> base_listeners_;   // one SO_REUSEPORT socket per shard on the base port
  std::vector<int> shard_listeners_;  // shard i alone on base_port + 1 + i
  std::vector<int> http_listeners_;   // one SO_REUSEPORT socket per shard on --http; empty if off
  std::vector<int> stop_fds_;         // eventfds: a write tells reactor i to stop
  std::vector<std::unique_ptr<Reactor>> reactors_;
  std::vector<std::thread> threads_;
};

std::int64_t wall_clock_ms();
std::int64_t monotonic_ns();

// The process's resident memory, for Stats and /metrics: /proc/self/statm's
// second field (pages). 0 if unreadable. Those are rare: one small read.
std::uint64_t resident_bytes();

// The process's CPU time so far (getrusage: every thread, user and kernel).
struct ProcessCpu {
  std::uint64_t user_us = 0, system_us = 0;
};
ProcessCpu process_cpu();

}  // namespace admit::server
