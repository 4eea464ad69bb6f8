#include "server/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <latch>

#include "server/reactor.h"
#include "storage/wal/format.h"

namespace admit::server {

std::int64_t wall_clock_ms() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return std::int64_t{now.tv_sec} * 1000 + now.tv_nsec / 1'000'000;
}

SharedState::SharedState(const ServerOptions& server_options)
    : options(server_options),
      started_at_ms(wall_clock_ms()),
      directory(server_options.shards),
      stats(std::make_unique<ShardStatsCounters[]>(server_options.shards)),
      metrics(std::make_unique<ShardMetrics[]>(server_options.shards)),
      ring_fds(server_options.shards, -1),
      failures_(server_options.shards) {
  const std::uint32_t shards = server_options.shards;
  for (std::uint32_t from = 0; from < shards; ++from) {
    for (std::uint32_t to = 0; to < shards; ++to) {
      // A shard never forwards to itself: no rings on the diagonal.
      const std::uint32_t slots = from == to ? 0 : server_options.ring_slots;
      request_rings.push_back(slots ? std::make_unique<SpscRing<RequestSlot>>(slots) : nullptr);
      response_rings.push_back(slots ? std::make_unique<SpscRing<ResponseSlot>>(slots) : nullptr);
    }
  }
}

SharedState::~SharedState() {
  for (auto& ring : request_rings) {
    if (!ring) continue;
    while (const RequestSlot* request = ring->front()) {
      delete request->command.batch;  // a forwarded BookBatch never served
      ring->commit_pop();
    }
  }
  for (auto& ring : response_rings) {
    if (!ring) continue;
    while (ResponseSlot* response = ring->front()) {
      response->result.free_attached();
      ring->commit_pop();
    }
  }
}

std::int64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

std::uint64_t resident_bytes() {
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return 0;
  unsigned long long size_pages = 0, resident_pages = 0;
  const bool read = std::fscanf(statm, "%llu %llu", &size_pages, &resident_pages) == 2;
  std::fclose(statm);
  return read ? resident_pages * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

ProcessCpu process_cpu() {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return {};
  const auto micros = [](const timeval& t) {
    return static_cast<std::uint64_t>(t.tv_sec) * 1'000'000 + static_cast<std::uint64_t>(t.tv_usec);
  };
  return {micros(usage.ru_utime), micros(usage.ru_stime)};
}

std::optional<std::pair<std::uint32_t, std::string>> SharedState::first_storage_failure() const {
  const std::lock_guard lock(failures_mutex_);
  for (std::uint32_t shard = 0; shard < failures_.size(); ++shard) {
    if (!failures_[shard].empty()) return std::pair{shard, failures_[shard]};
  }
  return std::nullopt;
}

void SharedState::set_storage_failure(std::uint32_t shard, const std::string& failure) {
  const std::lock_guard lock(failures_mutex_);
  failures_[shard] = failure;
}

namespace {

// A listening TCP socket on host:port. SO_REUSEPORT lets every shard bind the
// base port; the kernel spreads new connections across them.
int listen_on(const std::string& host, std::uint16_t port, bool reuse_port, std::string* why) {
  const std::string address = host + ":" + std::to_string(port);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *why = "cannot create a socket for " + address + ": " + std::strerror(errno);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int error = errno;
    ::close(fd);
    *why = error == EADDRINUSE ? "address " + address + " is already in use"
                               : "cannot bind " + address + ": " + std::strerror(error);
    return -1;
  }
  if (::listen(fd, listen_backlog) != 0) {
    const int error = errno;
    ::close(fd);
    *why = "cannot listen on " + address + ": " + std::strerror(error);
    return -1;
  }
  return fd;
}

}  // namespace

Server::Server(ServerOptions options) : options_(std::move(options)) {}

Server::~Server() {
  stop();
  for (const auto& fds : {base_listeners_, shard_listeners_, http_listeners_, stop_fds_}) {
    for (const int fd : fds) ::close(fd);
  }
}

bool Server::open(std::string* why) {
  std::error_code error;
  std::filesystem::create_directories(options_.data_dir, error);
  if (error || !std::filesystem::is_directory(options_.data_dir)) {
    *why = "--data: cannot create folder " + options_.data_dir + ": " +
           (error ? error.message() : "not a folder");
    return false;
  }
  // Once, before any shard opens its log: a folder written with another
  // --shards would route events to the wrong logs.
  if (options_.durability != Durability::off &&
      !storage::wal::check_data_folder(options_.data_dir, options_.shards, why)) {
    return false;
  }
  // The shard ports first: SO_REUSEPORT would let a second admitd of the same
  // user share the base port, but not these.
  for (std::uint32_t shard = 0; shard < options_.shards; ++shard) {
    const auto own_port = static_cast<std::uint16_t>(options_.listen_port + 1 + shard);
    const int own = listen_on(options_.listen_host, own_port, false, why);
    if (own < 0) return false;
    shard_listeners_.push_back(own);
  }
  for (std::uint32_t shard = 0; shard < options_.shards; ++shard) {
    const int base = listen_on(options_.listen_host, options_.listen_port, true, why);
    if (base < 0) return false;
    base_listeners_.push_back(base);
    const int stop_fd = ::eventfd(0, EFD_CLOEXEC);
    if (stop_fd < 0) {
      *why = std::string("cannot create an eventfd: ") + std::strerror(errno);
      return false;
    }
    stop_fds_.push_back(stop_fd);
    if (options_.http_port == 0) continue;
    const int http = listen_on(options_.http_host, options_.http_port, true, why);
    if (http < 0) {
      *why = "--http: " + *why;
      return false;
    }
    http_listeners_.push_back(http);
  }
  return true;
}

// Each reactor sets its io_uring up on its own thread (SINGLE_ISSUER binds
// the ring to its creator), reports, and waits until every shard has: only
// then are all ring fds known for msg_ring wakes.
bool Server::start(std::string* why) {
  shared_ = std::make_unique<SharedState>(options_);
  const std::uint32_t shards = options_.shards;
  // Shared with the threads, which may still be leaving go.wait() when this
  // function returns.
  struct StartGate {
    std::latch go{1};
    std::atomic<bool> abort{false};
  };
  const auto gate = std::make_shared<StartGate>();
  std::vector<std::promise<std::string>> setups(shards);
  std::vector<std::future<std::string>> setup_results;
  for (auto& setup : setups) setup_results.push_back(setup.get_future());
  for (std::uint32_t shard = 0; shard < shards; ++shard) {
    const int http_listener = http_listeners_.empty() ? -1 : http_listeners_[shard];
    reactors_.push_back(std::make_unique<Reactor>(*shared_, shard, base_listeners_[shard],
                                                  shard_listeners_[shard], http_listener,
                                                  stop_fds_[shard]));
    threads_.emplace_back(
        [reactor = reactors_[shard].get(), setup = std::move(setups[shard]), gate]() mutable {
          std::string problem;
          reactor->setup(&problem);
          setup.set_value(problem);
          gate->go.wait();
          if (!gate->abort.load()) reactor->run();
        });
  }
  for (auto& result : setup_results) {
    const std::string problem = result.get();
    if (!problem.empty() && why->empty()) *why = problem;
  }
  gate->abort.store(!why->empty());
  gate->go.count_down();
  if (gate->abort.load()) {
    for (auto& thread : threads_) thread.join();
    threads_.clear();
    return false;
  }
  return true;
}

void Server::stop() {
  if (threads_.empty()) return;
  for (const int fd : stop_fds_) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(fd, &one, sizeof one);
  }
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

std::string Server::ready_line() const {
  const std::uint32_t first = options_.listen_port + 1u;
  const std::uint32_t last = options_.listen_port + options_.shards;
  return "admitd ready: " + options_.listen_host + ":" + std::to_string(options_.listen_port) +
         " (shard ports " + std::to_string(first) + "-" + std::to_string(last) + "), " +
         (options_.http_port != 0
              ? "http " + options_.http_host + ":" + std::to_string(options_.http_port) + ", "
              : std::string("http off, ")) +
         (options_.auth_secret ? "auth on, " : "") + std::to_string(options_.shards) +
         (options_.shards == 1 ? " shard" : " shards") + ", durability " +
         durability_name(options_.durability) + ", data " + options_.data_dir;
}

std::uint64_t Server::requests_served() const {
  std::uint64_t total = 0;
  for (std::uint32_t shard = 0; shard < options_.shards; ++shard) {
    total += shared_->stats[shard].requests.load(std::memory_order_relaxed);
  }
  return total;
}

}  // namespace admit::server
