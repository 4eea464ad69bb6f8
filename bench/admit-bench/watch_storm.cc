// watch-storm: W watchers (one connection each: binary Watch, or with --http
// Server-Sent Events) watch one event while B pipelined buyers sell it out at
// full speed (buyers on their own thread).
// Reports pushes received per second, update latency (a watcher's receipt of
// a state from the moment a buyer was answered the booking that reached it),
// updates per watcher and the server's memory per watcher, and judges:
// every watcher's last update equals the final counters (GetEvent), no
// watcher saw seq or counters go backwards, every update of the sale counted
// W watchers, and the count drops to 0 once the watchers leave.
#include <fmt/format.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <thread>

#include "bench/admit-bench/scenarios.h"
#include "bench/admit-bench/sse_watcher.h"
#include "bench/admit-bench/wave.h"

namespace admit::bench {

namespace {

// Longest one poll waits, so that each loop notices its deadline and flags.
constexpr auto poll_wait = std::chrono::milliseconds(10);
constexpr auto count_poll_interval = std::chrono::milliseconds(10);

// The counters an update carries, kept without its event name (no allocation
// per update).
struct Seen {
  std::uint64_t seq = 0, version = 0;
  EventState state = EventState::open;
  std::uint32_t available = 0, held = 0, confirmed = 0, waitlisted = 0, watchers = 0;
};

// A state a watcher received: how many seats were confirmed, and when.
struct Sighting {
  std::uint32_t confirmed = 0;
  std::uint64_t received_ns = 0;
};

struct Watcher {
  std::uint64_t updates = 0;
  bool have_last = false;
  Seen last;
  std::string went_back;       // the first step backwards, empty when none
  std::string wrong_watchers;  // the first sale update with watchers != W
  std::vector<Sighting> sightings;
  std::optional<Status> watch_answer;
  std::uint64_t watch_errors = 0;  // on_watch_error: a re-watch was needed
};

struct Storm {
  std::uint32_t watchers = 0;  // W: what every sale update must count
  std::vector<Watcher> seen;
};

void on_update(Storm& storm, Watcher& w, const Seen& now, std::uint64_t received_ns) {
  ++w.updates;
  if (w.have_last && w.went_back.empty()) {
    const Seen& before = w.last;
    if (now.seq <= before.seq || now.version < before.version || now.confirmed < before.confirmed ||
        now.available > before.available) {
      w.went_back =
          fmt::format("seq {} -> {}, confirmed {} -> {}, available {} -> {}", before.seq, now.seq,
                      before.confirmed, now.confirmed, before.available, now.available);
    }
  }
  // A sale update comes after every watcher was counted (the buyers wait for it).
  if (now.confirmed > 0 && now.watchers != storm.watchers && w.wrong_watchers.empty()) {
    w.wrong_watchers = fmt::format("{} watchers at confirmed {} (expected {})", now.watchers,
                                   now.confirmed, storm.watchers);
  }
  w.last = now;
  w.have_last = true;
  w.sightings.push_back({now.confirmed, received_ns});
}

// The watchers of one run, over either transport.
class WatcherPool {
 public:
  virtual ~WatcherPool() = default;
  // Waits up to `timeout` for updates and hands them to the Watchers.
  virtual void poll(std::chrono::milliseconds timeout) = 0;
  // Every watcher leaves (its socket closes).
  virtual void close_all() = 0;
};

// Binary watchers: an AsyncClient each, on the base port.
class BinaryPool final : public WatcherPool {
 public:
  BinaryPool(const CommonOptions& common, const WatchStormOptions& options, Storm& storm,
             const std::string& event) {
    ClientOptions single = common.client;
    single.shard_aware = false;
    Progress progress("watchers connecting");
    const Status opened = fleet_.open(single, options.watchers, options.ramp_per_s, &progress);
    if (!opened.answered()) throw std::runtime_error("watchers: " + opened.to_string());
    for (std::size_t i = 0; i < fleet_.size(); ++i) {
      Watcher* w = &storm.seen[i];
      Storm* s = &storm;
      fleet_[i].on_update([s, w](const WatchUpdateView& u) {
        const Seen now{u.seq,  u.version,   u.state,      u.available,
                       u.held, u.confirmed, u.waitlisted, u.watchers};
        on_update(*s, *w, now, ns_since_epoch(u.received_at));
      });
      fleet_[i].on_watch_error([w](std::string_view, const Status&) { ++w->watch_errors; });
      const Status sent =
          fleet_[i].submit_watch(event, [w](const ReplyView& r) { w->watch_answer = r.status(); });
      if (!sent.answered()) {
        throw std::runtime_error(fmt::format("watcher {}: {}", i + 1, sent.to_string()));
      }
    }
  }
  void poll(std::chrono::milliseconds timeout) override { fleet_.poll_all(timeout); }
  void close_all() override { fleet_ = Fleet(); }

 private:
  Fleet fleet_;
};

// The counters of an SSE update's data (the event's JSON plus "seq").
std::optional<Seen> seen_from_json(std::string_view data) {
  const nlohmann::json j = nlohmann::json::parse(data, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  Seen seen;
  seen.seq = j.value("seq", std::uint64_t{0});
  seen.version = j.value("version", std::uint64_t{0});
  seen.state = event_state_from_name(j.value("state", std::string())).value_or(EventState::open);
  seen.available = j.value("available", 0u);
  seen.held = j.value("held", 0u);
  seen.confirmed = j.value("confirmed", 0u);
  seen.waitlisted = j.value("waitlisted", 0u);
  seen.watchers = j.value("watchers", 0u);
  return seen;
}

// --http: Server-Sent Events watchers on admitd's HTTP port, waited on in one poll(2).
class SsePool final : public WatcherPool {
 public:
  SsePool(const CommonOptions& common, const WatchStormOptions& options, Storm& storm,
          const std::string& event)
      : storm_(storm) {
    const std::uint16_t port = options.http_port != 0
                                   ? options.http_port
                                   : static_cast<std::uint16_t>(common.client.port + http_offset);
    watchers_.reserve(options.watchers);
    const auto started = Clock::now();
    for (std::uint32_t i = 0; i < options.watchers; ++i) {
      if (options.ramp_per_s > 0) {
        std::this_thread::sleep_until(started +
                                      std::chrono::duration<double>(i / options.ramp_per_s));
      }
      std::string why;
      SseWatcher& sse = watchers_.emplace_back();
      if (!sse.open(common.client.host, port, event, common.client.token, &why)) {
        throw std::runtime_error(fmt::format("SSE watcher {}: {}", i + 1, why));
      }
    }
  }
  void poll(std::chrono::milliseconds timeout) override {
    fds_.clear();
    for (const SseWatcher& sse : watchers_) fds_.push_back(pollfd{sse.fd(), POLLIN, 0});
    if (::poll(fds_.data(), fds_.size(), static_cast<int>(timeout.count())) <= 0) return;
    for (std::size_t i = 0; i < watchers_.size(); ++i) {
      if (fds_[i].revents == 0 || !watchers_[i].is_open()) continue;
      Watcher& w = storm_.seen[i];
      const std::uint64_t received_ns = now_ns();
      std::string why;
      const bool open = watchers_[i].read(
          [&](std::string_view data) {
            if (const std::optional<Seen> seen = seen_from_json(data)) {
              on_update(storm_, w, *seen, received_ns);
            }
          },
          &why);
      if (watchers_[i].accepted() && !w.watch_answer) w.watch_answer = Status();
      if (!open) {
        ++w.watch_errors;  // an SSE watcher does not come back: counted as a lost watch
        if (!w.watch_answer) w.watch_answer = Status::failure(ClientError::protocol_error, why);
      }
    }
  }
  void close_all() override { watchers_.clear(); }

 private:
  // admitd's default HTTP port is its base port + 80.
  static constexpr std::uint16_t http_offset = 80;

  Storm& storm_;
  std::vector<SseWatcher> watchers_;
  std::vector<pollfd> fds_;
};

// The buyers' side, filled on their thread and read after it joined.
struct Sale {
  RunSummary* summary = nullptr;
  ClientView* view = nullptr;
  std::vector<std::uint64_t> booked_ns;  // when each BOOKED answer was read
  std::atomic<bool> sold_out{false};
  std::atomic<std::uint64_t> answered{0};  // for the progress line on the other thread
  std::string failure;                     // set when the sale could not finish in time
};

struct BuyTicket {
  Sale* sale;
  std::uint32_t buyer;
  std::uint32_t number;
};

std::string buyer_user(std::uint32_t buyer, std::uint32_t number) {
  return fmt::format("b{}-{}", buyer, number);
}

void on_book(const BuyTicket& t, const ReplyView& reply) {
  Sale& sale = *t.sale;
  ++sale.summary->attempts;
  sale.answered.fetch_add(1, std::memory_order_relaxed);
  if (reply.error() != ClientError::none) {
    ++sale.summary->client_errors[static_cast<int>(reply.error())];
    ++sale.view->transport_errors;
    return;
  }
  const Outcome outcome = reply.outcome();
  ++sale.summary->outcomes[static_cast<int>(outcome)];
  ++sale.view->outcomes[static_cast<int>(outcome)];
  if (outcome == Outcome::sold_out) sale.sold_out = true;
  if (outcome != Outcome::booked) return;
  sale.booked_ns.push_back(ns_since_epoch(reply.received_at()));
  const BookReplyView booked = reply.book_view();
  ClientBooking booking{std::string(booked.ref), buyer_user(t.buyer, t.number), booked.seats};
  sale.view->live.push_back(booking);
  sale.view->acknowledged.push_back(std::move(booking));
}

// Each buyer keeps `pipeline` bookings (a fresh user each) in flight until
// the event is sold out, then every answer is drained.
void sell_out(Fleet& buyers, const std::string& event, std::uint32_t pipeline, Sale* sale,
              Clock::time_point deadline) {
  std::vector<std::uint32_t> next_number(buyers.size(), 0);
  while (!sale->sold_out) {
    if (Clock::now() > deadline) {
      sale->failure = "not sold out before the phase timeout";
      break;
    }
    for (std::size_t i = 0; i < buyers.size() && !sale->sold_out; ++i) {
      while (buyers[i].in_flight() < pipeline) {
        const BuyTicket ticket{sale, static_cast<std::uint32_t>(i), next_number[i]++};
        const std::string user = buyer_user(ticket.buyer, ticket.number);
        BookRequest book;
        book.event = event;
        book.user = user;
        const Status s = buyers[i].submit_book(
            book, [ticket](const ReplyView& reply) { on_book(ticket, reply); });
        if (!s.answered()) {
          sale->failure = "submit: " + s.to_string();
          sale->sold_out = true;  // stop: the verdict reports it
          break;
        }
      }
    }
    buyers.poll_all(poll_wait);
  }
  const std::size_t unanswered = buyers.drain(deadline, [] {});
  if (unanswered > 0 && sale->failure.empty()) {
    sale->failure = fmt::format("{} bookings unanswered at the phase timeout", unanswered);
  }
}

// Polls the watchers until `done` or `deadline`; false at the deadline.
template <typename Done>
bool poll_watchers_until(WatcherPool& watchers, Clock::time_point deadline, Done&& done) {
  while (!done()) {
    if (Clock::now() > deadline) return false;
    watchers.poll(poll_wait);
  }
  return true;
}

// GetEvent's watchers until it equals `expected` or `deadline`; the last value read.
template <typename WhileWaiting>
std::uint32_t await_watcher_count(Client& admin, const std::string& event, std::uint32_t expected,
                                  Clock::time_point deadline, WhileWaiting&& while_waiting) {
  std::uint32_t count = 0;
  while (true) {
    const Result<EventInfo> e = admin.get_event(event);
    if (!e.ok()) throw std::runtime_error("GetEvent " + event + ": " + e.status().to_string());
    count = e->watchers;
    if (count == expected || Clock::now() > deadline) return count;
    while_waiting();
  }
}

bool same_counters(const Seen& seen, const EventInfo& final_state) {
  return seen.available == final_state.available && seen.held == final_state.held &&
         seen.confirmed == final_state.confirmed && seen.waitlisted == final_state.waitlisted &&
         seen.version == final_state.version && seen.state == final_state.state;
}

void add_metric(RunSummary* summary, std::string name, double value) {
  summary->metrics.emplace_back(std::move(name), value);
}

// Update latency: each sighting of confirmed = k against the moment the k-th
// BOOKED answer was read (bookings of one event commit in order; the answers'
// read times, sorted, say when each state was reached). A watcher that read a
// state before the buyer read its answer counts 0.
void measure_latency(const Storm& storm, std::vector<std::uint64_t> booked_ns,
                     std::uint32_t final_confirmed, RunSummary* summary) {
  std::sort(booked_ns.begin(), booked_ns.end());
  LatencyHistogram final_latency;
  for (const Watcher& w : storm.seen) {
    bool final_seen = false;
    for (const Sighting& s : w.sightings) {
      if (s.confirmed == 0 || s.confirmed > booked_ns.size()) continue;
      const std::uint64_t reached = booked_ns[s.confirmed - 1];
      const std::uint64_t latency = s.received_ns > reached ? s.received_ns - reached : 0;
      summary->latency.record(latency);
      if (s.confirmed == final_confirmed && !final_seen) {
        final_latency.record(latency);
        final_seen = true;
      }
    }
  }
  constexpr double ns_per_ms = 1e6;
  add_metric(summary, "final_state_latency_p50_ms",
             final_latency.value_at_percentile_ns(50) / ns_per_ms);
  add_metric(summary, "final_state_latency_p99_ms",
             final_latency.value_at_percentile_ns(99) / ns_per_ms);
  add_metric(summary, "final_state_latency_max_ms", final_latency.max_ns() / ns_per_ms);
}

// Waits for every watch to be answered OK with a first update, then for the
// server to count all of them.
void await_watching(WatcherPool& watchers, Storm& storm, const std::string& event, Client& admin,
                    Clock::time_point deadline, RunSummary* summary) {
  const bool all_watching = poll_watchers_until(watchers, deadline, [&] {
    return std::all_of(storm.seen.begin(), storm.seen.end(),
                       [](const Watcher& w) { return w.watch_answer && w.updates > 0; });
  });
  std::size_t refused = 0;
  for (const Watcher& w : storm.seen) refused += w.watch_answer && !w.watch_answer->ok();
  expect(summary, "all_watching", all_watching && refused == 0,
         fmt::format("{} watches refused, {} without a first update", refused,
                     std::count_if(storm.seen.begin(), storm.seen.end(),
                                   [](const Watcher& w) { return w.updates == 0; })));
  const std::uint32_t counted = await_watcher_count(admin, event, storm.watchers, deadline,
                                                    [&] { watchers.poll(poll_wait); });
  expect(
      summary, "watchers_counted", counted == storm.watchers,
      fmt::format("GetEvent says {} watchers before the sale, {} watch", counted, storm.watchers));
}

// Every watcher's last update against the final counters, once they settle.
void judge_watchers(WatcherPool& watchers, Storm& storm, const EventInfo& final_state,
                    Clock::time_point deadline, RunSummary* summary) {
  poll_watchers_until(watchers, deadline, [&] {
    return std::all_of(storm.seen.begin(), storm.seen.end(), [&](const Watcher& w) {
      return w.have_last && same_counters(w.last, final_state);
    });
  });
  std::string stale, backwards, wrong_count;
  std::size_t stale_count = 0;
  std::uint64_t rewatches = 0;
  for (std::size_t i = 0; i < storm.seen.size(); ++i) {
    const Watcher& w = storm.seen[i];
    rewatches += w.watch_errors;
    if (!w.have_last || !same_counters(w.last, final_state)) {
      if (stale_count++ == 0) {
        stale = fmt::format("watcher {}: last confirmed {} version {} (final {} version {})", i,
                            w.last.confirmed, w.last.version, final_state.confirmed,
                            final_state.version);
      }
    }
    if (backwards.empty() && !w.went_back.empty()) {
      backwards = fmt::format("watcher {}: {}", i, w.went_back);
    }
    if (wrong_count.empty() && !w.wrong_watchers.empty()) {
      wrong_count = fmt::format("watcher {}: {}", i, w.wrong_watchers);
    }
  }
  expect(summary, "all_saw_final", stale_count == 0,
         fmt::format("{} watchers did not end on the final counters; {}", stale_count, stale));
  expect(summary, "never_backwards", backwards.empty(), backwards);
  expect(summary, "watchers_exact_during_sale", wrong_count.empty(), wrong_count);
  expect(summary, "no_rewatch", rewatches == 0,
         fmt::format("{} watches had to be sent again (a connection was lost)", rewatches));
}

// One socket per watcher: SSE over HTTP, or binary on the base port (which
// serves every event), as a page would.
std::unique_ptr<WatcherPool> open_watchers(const CommonOptions& common,
                                           const WatchStormOptions& options, Storm& storm,
                                           const std::string& event) {
  if (options.http) return std::make_unique<SsePool>(common, options, storm, event);
  return std::make_unique<BinaryPool>(common, options, storm, event);
}

// What the sale's buyers may be answered: a seat, or sold out.
ClientView sale_view() {
  ClientView view;
  view.expected[static_cast<int>(Outcome::booked)] = true;
  view.expected[static_cast<int>(Outcome::sold_out)] = true;
  view.still_waiting = 0;
  return view;
}

// The watchers leave (their sockets close): the count must reach 0; at the
// end of the sale it was `watching_at_end`, of `watchers`.
void judge_leaving(WatcherPool& pool, Client& admin, const std::string& event,
                   std::uint32_t watching_at_end, std::uint32_t watchers,
                   Clock::time_point deadline, RunSummary* summary) {
  pool.close_all();
  const std::uint32_t left = await_watcher_count(
      admin, event, 0, deadline, [] { std::this_thread::sleep_for(count_poll_interval); });
  expect(summary, "watchers_gone", left == 0,
         fmt::format("GetEvent still says {} watchers after all left", left));
  expect(summary, "watchers_exact_at_end", watching_at_end == watchers,
         fmt::format("GetEvent says {} watchers at the end of the sale, {} watch", watching_at_end,
                     watchers));
}

// The pushes of the sale (updates beyond `updates_before`) and how they
// spread over the watchers.
void report_pushes(const Storm& storm, std::uint64_t updates_before,
                   const WatchStormOptions& options, std::uint32_t sold, RunSummary* summary) {
  std::uint64_t updates = 0, fewest = ~std::uint64_t{0}, most = 0;
  for (const Watcher& w : storm.seen) {
    updates += w.updates;
    fewest = std::min(fewest, w.updates);
    most = std::max(most, w.updates);
  }
  const std::uint64_t pushes = updates - updates_before;
  const double per_s = summary->elapsed_s > 0 ? pushes / summary->elapsed_s : 0.0;
  add_metric(summary, "watchers", options.watchers);
  add_metric(summary, "pushes", static_cast<double>(pushes));
  add_metric(summary, "pushes_per_s", per_s);
  add_metric(summary, "updates_per_watcher_min", static_cast<double>(fewest));
  add_metric(summary, "updates_per_watcher_avg", static_cast<double>(updates) / options.watchers);
  add_metric(summary, "updates_per_watcher_max", static_cast<double>(most));
  summary->notes.push_back(fmt::format(
      "{} {} watchers, {} buyers (pipeline {}): sold {} seats; {} pushes ({:.0f}/s), {:.1f} "
      "updates per watcher (min {}, max {}); latency = booking answered -> watcher received",
      options.watchers, options.http ? "SSE" : "binary", options.buyers, options.pipeline, sold,
      pushes, per_s, static_cast<double>(updates) / options.watchers, fewest, most));
}

}  // namespace

RunSummary run_watch_storm(const CommonOptions& common, const WatchStormOptions& options) {
  assert(options.watchers > 0 && options.buyers > 0 && options.capacity > 0);
  RunSummary summary;
  summary.scenario = "watch-storm";
  const std::string event = unique_event_id(common.event_prefix, "watch-storm", 0);
  summary.events.push_back(event);
  Client admin(verify_options(common));
  create_event_or_throw(admin, event, options.capacity, 0, false);
  const auto phase = std::chrono::seconds(common.phase_timeout_s);

  ServerMemory& memory = summary.server_memory;
  memory.unit = "watcher";
  memory.resident_bytes_before = server_resident_bytes(admin);
  Storm storm;
  storm.watchers = options.watchers;
  storm.seen.resize(options.watchers);
  const std::unique_ptr<WatcherPool> watchers = open_watchers(common, options, storm, event);
  await_watching(*watchers, storm, event, admin, Clock::now() + phase, &summary);
  memory.resident_bytes_after = server_resident_bytes(admin);
  memory.units = options.watchers;
  std::uint64_t updates_before = 0;
  for (const Watcher& w : storm.seen) updates_before += w.updates;

  Fleet buyers;
  if (Status s = buyers.open(common.client, options.buyers, 0, nullptr); !s.answered()) {
    throw std::runtime_error("buyers: " + s.to_string());
  }
  ClientView view = sale_view();
  Sale sale;
  sale.summary = &summary;
  sale.view = &view;
  sale.booked_ns.reserve(options.capacity);
  const CpuSeconds cpu_before = process_cpu();
  const auto started = Clock::now();
  std::atomic<bool> sale_over{false};
  std::thread sale_thread([&] {
    sell_out(buyers, event, options.pipeline, &sale, started + phase);
    sale_over = true;
  });
  {
    Progress progress("watch-storm");
    while (!sale_over) {
      watchers->poll(poll_wait);
      progress.update(sale.answered.load(std::memory_order_relaxed), 0);
    }
  }
  sale_thread.join();
  const Result<EventInfo> final_state = admin.get_event(event);
  if (!final_state.ok()) throw std::runtime_error("GetEvent: " + final_state.status().to_string());
  expect(
      &summary, "sold_out", sale.failure.empty() && final_state->available == 0,
      sale.failure.empty() ? fmt::format("{} seats left", final_state->available) : sale.failure);
  judge_watchers(*watchers, storm, *final_state, Clock::now() + phase, &summary);
  summary.elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
  const CpuSeconds cpu_after = process_cpu();
  summary.client_cpu_s = cpu_after.total() - cpu_before.total();
  summary.client_user_cpu_s = cpu_after.user - cpu_before.user;
  const std::uint32_t watching_at_end = final_state->watchers;

  judge_leaving(*watchers, admin, event, watching_at_end, options.watchers, Clock::now() + phase,
                &summary);
  judge(admin, event, view, &summary);
  measure_latency(storm, std::move(sale.booked_ns), final_state->confirmed, &summary);
  report_pushes(storm, updates_before, options, final_state->confirmed, &summary);
  return summary;
}

}  // namespace admit::bench
