#include "bench/admit-bench/fleet.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cassert>
#include <stdexcept>
#include <thread>

#include "admit/limits.h"

namespace admit::bench {

namespace {

constexpr auto progress_interval = std::chrono::milliseconds(250);
constexpr std::uint32_t list_page_size = list_limit_max;

}  // namespace

CpuSeconds process_cpu() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return {seconds(usage.ru_utime), seconds(usage.ru_stime)};
}

std::string unique_event_id(const std::string& prefix, const std::string& scenario, int index) {
  const auto wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  return fmt::format("{}-{}-{}-{}-{}", prefix, scenario, ::getpid(), wall_ms, index);
}

Progress::Progress(std::string label)
    : label_(std::move(label)),
      enabled_(::isatty(STDERR_FILENO) == 1),
      started_(Clock::now()),
      last_shown_(started_) {}

void Progress::update(std::uint64_t requests, std::uint64_t errors) {
  if (!enabled_) return;
  const auto now = Clock::now();
  if (now - last_shown_ < progress_interval) return;
  last_shown_ = now;
  const double seconds = std::chrono::duration<double>(now - started_).count();
  fmt::print(stderr, "\r\033[K[{}] {:.1f} s  {} requests  {:.0f} req/s  {} errors", label_, seconds,
             requests, seconds > 0 ? requests / seconds : 0.0, errors);
  std::fflush(stderr);
  shown_ = true;
}

void Progress::finish() {
  if (!shown_) return;
  fmt::print(stderr, "\r\033[K");
  std::fflush(stderr);
  shown_ = false;
}

SuccessRecorder::~SuccessRecorder() {
  if (file_ != nullptr) std::fclose(file_);
}

bool SuccessRecorder::open(const std::string& path, std::string* why) {
  if (path.empty()) return true;
  file_ = std::fopen(path.c_str(), "w");
  if (file_ == nullptr) {
    *why = fmt::format("--record: cannot open {} for writing", path);
    return false;
  }
  return true;
}

void SuccessRecorder::record(std::string_view event, std::string_view ref, std::string_view user,
                             std::uint32_t seats, Outcome outcome) {
  if (file_ == nullptr) return;
  // Events and users are names admit-bench made (letters, digits, '-'), refs
  // are BK-base32: nothing to escape.
  fmt::print(file_,
             "{{\"event\":\"{}\",\"ref\":\"{}\",\"user\":\"{}\",\"seats\":{},"
             "\"outcome\":\"{}\"}}\n",
             event, ref, user, seats, outcome_name(outcome));
}

Status Fleet::open(const ClientOptions& given, std::size_t count, double ramp_per_s,
                   Progress* progress) {
  // A load generator counts transport failures and the latency of each
  // request as sent: libadmit's retries would hide the one and stretch the other.
  ClientOptions options = given;
  options.attempts_max = 1;
  const auto started = Clock::now();
  clients_.reserve(count);
  polled_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (ramp_per_s > 0) {
      std::this_thread::sleep_until(started + std::chrono::duration<double>(i / ramp_per_s));
    }
    auto client = std::make_unique<AsyncClient>(options);
    auto hello = client->connect();
    if (!hello.ok()) {
      return Status::failure(
          hello.error() == ClientError::none ? ClientError::protocol_error : hello.error(),
          fmt::format("connection {} of {}: {}", i + 1, count, hello.status().to_string()));
    }
    polled_.push_back(client.get());
    clients_.push_back(std::move(client));
    if (progress != nullptr) progress->update(i + 1, 0);
  }
  return {};
}

std::size_t Fleet::in_flight() const {
  std::size_t total = 0;
  for (const auto& client : clients_) total += client->in_flight();
  return total;
}

std::size_t Fleet::poll_all(std::chrono::milliseconds timeout) {
  return AsyncClient::poll_many(polled_, timeout);
}

bool fetch_server_view(Client& client, const std::string& event, std::size_t bookings_max,
                       ServerView* view, std::string* why) {
  auto info = client.get_event(event);
  if (!info.ok()) {
    *why = fmt::format("GetEvent {}: {}", event, info.status().to_string());
    return false;
  }
  view->event = {info->capacity, info->available, info->held, info->confirmed, info->waitlisted};
  view->bookings.clear();
  std::string after;
  do {
    auto page = client.list_bookings(event, after, list_page_size);
    if (!page.ok()) {
      *why = fmt::format("ListBookings {} after '{}': {}", event, after, page.status().to_string());
      return false;
    }
    for (const auto& booking : page->bookings) {
      view->bookings.push_back({booking.ref, booking.user, booking.seats, booking.state});
    }
    if (view->bookings.size() > bookings_max) {
      *why = fmt::format("{} has more than {} bookings", event, bookings_max);
      return false;
    }
    assert(page->next_after.empty() || page->next_after != after);
    after = page->next_after;
  } while (!after.empty());
  return true;
}

std::optional<StatsInfo> server_stats(Client& client) {
  Result<StatsInfo> stats = client.stats();
  if (!stats.ok()) return std::nullopt;
  return std::move(stats.value());
}

std::uint64_t server_resident_bytes(Client& client) {
  const std::optional<StatsInfo> stats = server_stats(client);
  return stats ? stats->resident_bytes : 0;
}

void create_event_or_throw(Client& client, std::string_view id, std::uint32_t capacity,
                           std::uint32_t hold_ttl_ms, bool waitlist) {
  EventSpec spec;
  spec.id = id;
  spec.capacity = capacity;
  spec.hold_ttl_ms = hold_ttl_ms;
  spec.waitlist = waitlist;
  auto created = client.create_event(spec);
  if (!created.ok()) {
    throw std::runtime_error(
        fmt::format("CreateEvent {}: {}", spec.id, created.status().to_string()));
  }
}

}  // namespace admit::bench
