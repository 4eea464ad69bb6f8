// throughput: N pipelined connections, each keeping up to D requests in
// flight, a mix of Book / GetEvent / Cancel over E events for a fixed time.
// Closed loop by default (a reply frees a slot); with --rate an open loop in
// which each request has an intended send time and its latency counts from
// then, so a stalled server shows up as latency (no coordinated omission).
#include <absl/container/flat_hash_set.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <charconv>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "bench/admit-bench/scenarios.h"
#include "bench/admit-bench/wave.h"
#include "protocol/booking_ref.h"
#include "protocol/shard.h"

namespace admit::bench {

namespace {

// ALREADY_BOOKED answers kept per worker to check that they name the user's booking.
constexpr std::size_t already_booked_kept_max = 100'000;
constexpr auto drain_timeout = std::chrono::seconds(30);
// Longest one poll waits for replies, so that the run notices its end.
constexpr auto poll_wait_max = std::chrono::milliseconds(10);
constexpr std::size_t user_name_size_max = 32;

enum class Op : std::uint8_t { book, get, cancel };

struct LiveRef {
  std::array<char, booking_ref_size> ref;
  std::uint32_t event = 0;
  std::uint64_t user = 0;
};

struct Worker;

struct Conn {
  Worker* worker = nullptr;
  AsyncClient* client = nullptr;
  std::uint32_t index = 0;  // across all workers
  std::uint32_t in_flight = 0;
  std::uint64_t next_fresh_user = 0;
  std::uint64_t rng = 0;
  std::uint64_t next_send_ns = 0;  // open loop: the intended time of the next request
  std::uint64_t send_interval_ns = 0;
  std::vector<LiveRef> live;
};

struct Worker {
  const ThroughputOptions* options = nullptr;
  const std::vector<std::string>* events = nullptr;
  SuccessRecorder* recorder = nullptr;
  std::vector<Conn> conns;
  LatencyHistogram latency;
  std::array<std::uint64_t, outcome_count> outcomes{};
  std::array<std::uint64_t, client_error_kinds> client_errors{};
  std::vector<std::pair<std::uint32_t, AlreadyBookedAnswer>> already_booked;  // event index
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<bool> stopping{false};
  std::uint64_t due_unsent = 0;  // open loop: intended sends the pipeline had no room for
  std::string failure;
  // Last, so destroyed first: its clients' destructors run the callbacks still
  // waiting, which update the members above.
  Fleet fleet;
};

// The callback's captures: 48 bytes at most (ReplyCallback::inline_size).
struct Pending {
  Conn* conn;
  std::uint64_t sent_ns;
  std::uint64_t user;
  std::uint32_t event;
  Op op;
  std::array<char, booking_ref_size> ref;  // cancel: the booking cancelled
};
static_assert(sizeof(Pending) <= ReplyCallback::inline_size);

std::uint64_t next_random(std::uint64_t* state) {  // splitmix64
  std::uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A fresh user ("c<connection>-<n>") is unique to its connection; a pool user
// ("u<n>") is shared by all. std::to_chars, not fmt: this runs twice per
// booking, and parsing a format string each time was a visible part of the
// client's CPU.
std::string_view user_name(const Conn& conn, std::uint64_t user, bool fresh,
                           std::array<char, user_name_size_max>* buffer) {
  char* const end = buffer->data() + buffer->size();
  char* out = buffer->data();
  *out++ = fresh ? 'c' : 'u';
  if (fresh) {
    out = std::to_chars(out, end, conn.index).ptr;
    *out++ = '-';
  }
  out = std::to_chars(out, end, user).ptr;
  return {buffer->data(), static_cast<std::size_t>(out - buffer->data())};
}

void on_reply(const Pending& pending, const ReplyView& reply);
void submit_one(Conn& conn, std::uint64_t sent_ns);

void account(Worker& worker, const Pending& pending, const ReplyView& reply) {
  Conn& conn = *pending.conn;
  const bool fresh = worker.options->users == 0;
  const Outcome outcome = reply.outcome();
  ++worker.outcomes[static_cast<int>(outcome)];
  if (pending.op == Op::book &&
      (outcome == Outcome::booked || outcome == Outcome::already_booked)) {
    const BookReplyView data = reply.book_view();
    std::array<char, user_name_size_max> buffer;
    if (outcome == Outcome::already_booked) {
      if (worker.already_booked.size() < already_booked_kept_max) {
        const std::string_view user = user_name(conn, pending.user, fresh, &buffer);
        worker.already_booked.push_back(
            {pending.event, {std::string(user), std::string(data.ref)}});
      }
      return;
    }
    LiveRef live{{}, pending.event, pending.user};
    assert(data.ref.size() == booking_ref_size);
    std::copy_n(data.ref.data(), booking_ref_size, live.ref.begin());
    conn.live.push_back(live);
    if (worker.recorder->enabled()) {
      worker.recorder->record((*worker.events)[pending.event], data.ref,
                              user_name(conn, pending.user, fresh, &buffer), data.seats, outcome);
    }
  } else if (pending.op == Op::cancel && outcome != Outcome::ok) {
    conn.live.push_back({pending.ref, pending.event, pending.user});  // still live
  }
}

void on_reply(const Pending& pending, const ReplyView& reply) {
  Conn& conn = *pending.conn;
  Worker& worker = *conn.worker;
  assert(conn.in_flight > 0);
  --conn.in_flight;
  const std::uint64_t now = ns_since_epoch(reply.received_at());
  worker.latency.record(now > pending.sent_ns ? now - pending.sent_ns : 0);
  worker.completed.fetch_add(1, std::memory_order_relaxed);
  if (reply.error() != ClientError::none) {
    ++worker.client_errors[static_cast<int>(reply.error())];
    worker.errors.fetch_add(1, std::memory_order_relaxed);
    if (pending.op == Op::cancel) conn.live.push_back({pending.ref, pending.event, pending.user});
    return;
  }
  account(worker, pending, reply);
  if (worker.options->rate_per_s == 0 && !worker.stopping.load(std::memory_order_relaxed)) {
    submit_one(conn, now);
  }
}

Op pick_op(Conn& conn, const ThroughputOptions& options) {
  const auto roll = static_cast<std::uint32_t>(next_random(&conn.rng) % 100);
  if (roll < options.mix_book) return Op::book;
  if (roll < options.mix_book + options.mix_get) return Op::get;
  return conn.live.empty() ? Op::book : Op::cancel;
}

Status submit_op(Conn& conn, Pending pending) {
  const ThroughputOptions& options = *conn.worker->options;
  const std::string& event = (*conn.worker->events)[pending.event];
  auto callback = [pending](const ReplyView& reply) { on_reply(pending, reply); };
  switch (pending.op) {
    case Op::book: {
      std::array<char, user_name_size_max> buffer;
      const std::string_view user = user_name(conn, pending.user, options.users == 0, &buffer);
      BookRequest book;
      book.event = event;
      book.user = user;
      return conn.client->submit_book(book, std::move(callback));
    }
    case Op::get:
      return conn.client->submit_get_event(event, std::move(callback));
    case Op::cancel:
      return conn.client->submit_cancel({pending.ref.data(), pending.ref.size()}, {},
                                        std::move(callback));
  }
  return Status::failure(ClientError::invalid_argument, "unknown op");
}

void submit_one(Conn& conn, std::uint64_t sent_ns) {
  Worker& worker = *conn.worker;
  const ThroughputOptions& options = *worker.options;
  Pending pending{&conn, sent_ns, 0, 0, pick_op(conn, options), {}};
  pending.event = static_cast<std::uint32_t>(next_random(&conn.rng) % worker.events->size());
  if (pending.op == Op::book) {
    pending.user =
        options.users == 0 ? conn.next_fresh_user++ : next_random(&conn.rng) % options.users;
  } else if (pending.op == Op::cancel) {
    const std::size_t pick = next_random(&conn.rng) % conn.live.size();
    std::swap(conn.live[pick], conn.live.back());
    pending.ref = conn.live.back().ref;
    pending.event = conn.live.back().event;
    pending.user = conn.live.back().user;
    conn.live.pop_back();
  }
  const Status submitted = submit_op(conn, pending);
  if (submitted.error() != ClientError::none) {
    ++worker.client_errors[static_cast<int>(submitted.error())];
    worker.errors.fetch_add(1, std::memory_order_relaxed);
    if (worker.failure.empty()) worker.failure = submitted.to_string();
    if (pending.op == Op::cancel) conn.live.push_back({pending.ref, pending.event, pending.user});
    return;
  }
  ++conn.in_flight;
}

// Open loop: every request whose intended time has come leaves, as far as the
// pipeline depth allows; the late ones keep their intended time.
void submit_due(Conn& conn, std::uint64_t now) {
  const std::uint32_t depth = conn.worker->options->pipeline;
  while (conn.next_send_ns <= now && conn.in_flight < depth) {
    submit_one(conn, conn.next_send_ns);
    conn.next_send_ns += conn.send_interval_ns;
  }
}

void run_worker(Worker& worker, std::uint64_t start_ns, std::uint64_t stop_ns) {
  const ThroughputOptions& options = *worker.options;
  for (Conn& conn : worker.conns) {
    if (options.rate_per_s > 0) {
      conn.next_send_ns = start_ns + (next_random(&conn.rng) % conn.send_interval_ns);
    } else {
      for (std::uint32_t i = 0; i < options.pipeline; ++i) submit_one(conn, now_ns());
    }
  }
  while (now_ns() < stop_ns && worker.failure.empty()) {
    auto wait = poll_wait_max;  // closed loop: replies are what we wait for
    if (options.rate_per_s > 0) {
      const std::uint64_t now = now_ns();
      std::uint64_t next_due_ns = stop_ns;
      for (Conn& conn : worker.conns) {
        submit_due(conn, now);
        next_due_ns = std::min(next_due_ns, conn.next_send_ns);
      }
      // Open loop: sleep in poll(2) no further than the next intended send.
      const auto until_due =
          std::chrono::milliseconds((next_due_ns - std::min(next_due_ns, now)) / 1'000'000);
      wait = std::min(wait, until_due);
    }
    worker.fleet.poll_all(wait);
  }
  worker.stopping.store(true, std::memory_order_relaxed);
  if (options.rate_per_s > 0) {
    for (const Conn& conn : worker.conns) {
      if (conn.next_send_ns < stop_ns) {
        worker.due_unsent += (stop_ns - conn.next_send_ns) / conn.send_interval_ns;
      }
    }
  }
  const std::size_t unanswered = worker.fleet.drain(Clock::now() + drain_timeout, [] {});
  if (unanswered > 0 && worker.failure.empty()) {
    worker.failure =
        fmt::format("{} requests unanswered {} s after the end", unanswered, drain_timeout.count());
  }
}

}  // namespace

namespace {

// Event ids spread evenly over the server's shards, so every shard works.
std::vector<std::string> create_events(Client& client, const CommonOptions& common,
                                       const ThroughputOptions& options) {
  auto hello = client.connect();
  if (!hello.ok()) throw std::runtime_error("connect: " + hello.status().to_string());
  const std::uint32_t shards = std::max<std::uint32_t>(1, hello->shards);
  const std::uint32_t count = options.events == 0 ? shards : options.events;
  const std::uint32_t per_shard_max = (count + shards - 1) / shards;
  std::vector<std::uint32_t> per_shard(shards, 0);
  std::vector<std::string> events;
  for (int candidate = 0; events.size() < count; ++candidate) {
    std::string id = unique_event_id(common.event_prefix, "throughput", candidate);
    std::uint32_t& owned = per_shard[owner_shard(id, shards)];
    if (owned >= per_shard_max) continue;
    ++owned;
    create_event_or_throw(client, id, options.capacity, 0, false);
    events.push_back(std::move(id));
  }
  return events;
}

std::vector<std::unique_ptr<Worker>> make_workers(const CommonOptions& common,
                                                  const ThroughputOptions& options,
                                                  const std::vector<std::string>& events,
                                                  SuccessRecorder* recorder) {
  std::vector<std::unique_ptr<Worker>> workers;
  Progress progress("connecting");
  const std::uint64_t seed = now_ns();
  for (std::uint32_t t = 0; t < options.threads; ++t) {
    auto worker = std::make_unique<Worker>();
    worker->options = &options;
    worker->events = &events;
    worker->recorder = recorder;
    const std::uint32_t first = options.connections * t / options.threads;
    const std::uint32_t last = options.connections * (t + 1) / options.threads;
    Status opened = worker->fleet.open(common.client, last - first, 0, &progress);
    if (!opened.answered()) throw std::runtime_error("connect: " + opened.to_string());
    worker->conns.resize(last - first);
    for (std::uint32_t i = 0; i < last - first; ++i) {
      Conn& conn = worker->conns[i];
      conn.worker = worker.get();
      conn.client = &worker->fleet[i];
      conn.index = first + i;
      conn.rng = seed ^ (std::uint64_t{first + i} << 32);
      if (options.rate_per_s > 0) {
        conn.send_interval_ns = std::max<std::uint64_t>(
            1, static_cast<std::uint64_t>(1e9 * options.connections / options.rate_per_s));
      }
    }
    workers.push_back(std::move(worker));
  }
  return workers;
}

// Runs the workers for the duration; returns the measured seconds.
double drive(std::vector<std::unique_ptr<Worker>>& workers, const ThroughputOptions& options) {
  const std::uint64_t start_ns = now_ns();
  const std::uint64_t stop_ns = start_ns + static_cast<std::uint64_t>(options.duration_s * 1e9);
  std::vector<std::thread> threads;
  for (auto& worker : workers) {
    threads.emplace_back([&worker, start_ns, stop_ns] { run_worker(*worker, start_ns, stop_ns); });
  }
  Progress progress("throughput");
  while (now_ns() < stop_ns) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::uint64_t completed = 0, errors = 0;
    for (auto& worker : workers) {
      completed += worker->completed.load(std::memory_order_relaxed);
      errors += worker->errors.load(std::memory_order_relaxed);
    }
    progress.update(completed, errors);
  }
  for (auto& thread : threads) thread.join();
  progress.finish();
  return static_cast<double>(now_ns() - start_ns) / 1e9;
}

// The client's view of one event: the live bookings of every connection.
ClientView client_view_of(std::uint32_t event, const std::vector<std::unique_ptr<Worker>>& workers,
                          const ThroughputOptions& options) {
  ClientView view;
  for (auto outcome : {Outcome::ok, Outcome::booked, Outcome::already_booked, Outcome::sold_out}) {
    view.expected[static_cast<int>(outcome)] = true;
  }
  view.still_waiting = 0;
  for (const auto& worker : workers) {
    for (const Conn& conn : worker->conns) {
      for (const LiveRef& live : conn.live) {
        if (live.event != event) continue;
        std::array<char, user_name_size_max> buffer;
        const std::string ref(live.ref.data(), live.ref.size());
        const std::string user(user_name(conn, live.user, options.users == 0, &buffer));
        view.live.push_back({ref, user, 1});
        view.acknowledged.push_back({ref, user, 1});
      }
    }
    for (const auto& [index, answer] : worker->already_booked) {
      if (index == event) view.already_booked.push_back(answer);
    }
  }
  return view;
}

}  // namespace

namespace {

// When an event holds more bookings than the listing limit, the views are
// compared by the server's counters against what the client holds.
std::vector<Invariant> check_by_counters(const ClientView& view, const ServerEvent& event,
                                         const std::string& why) {
  std::uint64_t client_seats = 0;
  for (const auto& booking : view.live) client_seats += booking.seats;
  const std::uint64_t sold = std::uint64_t{event.held} + event.confirmed;
  std::vector<Invariant> invariants;
  const bool sound = sold <= event.capacity && event.available == event.capacity - sold;
  invariants.push_back({"no_oversell", sound,
                        sound ? ""
                              : fmt::format("counters: sold {} of {}, available {}", sold,
                                            event.capacity, event.available)});
  absl::flat_hash_set<std::string_view> users;
  std::string twice;
  for (const auto& booking : view.live) {
    if (!users.insert(booking.user).second && twice.empty()) twice = booking.user;
  }
  invariants.push_back(
      {"no_user_twice", twice.empty(), fmt::format("client: user {} acknowledged twice", twice)});
  invariants.push_back(
      {"waitlist_fifo", event.waitlisted == 0,
       fmt::format("{} waiting on an event without a waitlist", event.waitlisted)});
  invariants.push_back({"views_agree", client_seats == sold,
                        fmt::format("counters only ({}): client holds {} seats, server {}", why,
                                    client_seats, sold)});
  for (auto& invariant : invariants) {
    if (invariant.pass) invariant.detail.clear();
  }
  return invariants;
}

void verdict_of_throughput(const CommonOptions& common, const ThroughputOptions& options,
                           const std::vector<std::string>& events,
                           const std::vector<std::unique_ptr<Worker>>& workers,
                           RunSummary* summary) {
  Client client(verify_options(common));
  std::vector<std::vector<Invariant>> per_event;
  for (std::uint32_t e = 0; e < events.size(); ++e) {
    const ClientView view = client_view_of(e, workers, options);
    ServerView server;
    std::string why;
    if (fetch_server_view(client, events[e], options.verify_bookings_max, &server, &why)) {
      per_event.push_back(check_invariants(view, server));
      per_event.back().pop_back();  // outcomes are judged over all events below
    } else if (!server.bookings.empty()) {
      summary->notes.push_back(fmt::format("{}: views compared by counters: {}", events[e], why));
      per_event.push_back(check_by_counters(view, server.event, why));
    } else {
      throw std::runtime_error("verify: " + why);
    }
    summary->seats_booked += std::uint64_t{server.event.held} + server.event.confirmed;
  }
  summary->invariants = merge_invariants(events, per_event);
  ClientView all;
  all.expected = client_view_of(0, {}, options).expected;
  all.outcomes = summary->outcomes;
  for (int i = 1; i < client_error_kinds; ++i) all.transport_errors += summary->client_errors[i];
  summary->invariants.push_back(check_no_unexpected_errors(all));
}

}  // namespace

RunSummary run_throughput(const CommonOptions& common, const ThroughputOptions& options) {
  assert(options.connections > 0 && options.pipeline > 0 && options.threads > 0);
  assert(options.mix_book + options.mix_get + options.mix_cancel == 100);
  RunSummary summary;
  summary.scenario = "throughput";
  SuccessRecorder recorder;
  std::string why;
  if (!recorder.open(common.record_path, &why)) throw std::runtime_error(why);
  Client setup(verify_options(common));
  const std::vector<std::string> events = create_events(setup, common, options);
  summary.events = events;
  auto workers = make_workers(common, options, events, &recorder);
  std::uint64_t due_unsent = 0;

  // Around the load only: connections and events exist before, the verdict's
  // listings come after.
  ServerMemory& memory = summary.server_memory;
  memory.unit = "booking";
  const std::optional<StatsInfo> server_before = server_stats(setup);
  const CpuSeconds cpu_before = process_cpu();
  summary.elapsed_s = drive(workers, options);
  const CpuSeconds cpu_after = process_cpu();
  const std::optional<StatsInfo> server_after = server_stats(setup);
  summary.client_cpu_s = cpu_after.total() - cpu_before.total();
  summary.client_user_cpu_s = cpu_after.user - cpu_before.user;
  if (server_before && server_after) {
    memory.resident_bytes_before = server_before->resident_bytes;
    memory.resident_bytes_after = server_after->resident_bytes;
  }
  summary.server_cost = server_cost_between(server_before, server_after);
  for (const auto& worker : workers) {
    summary.latency.merge(worker->latency);
    for (int i = 0; i < outcome_count; ++i) summary.outcomes[i] += worker->outcomes[i];
    for (int i = 0; i < client_error_kinds; ++i) {
      summary.client_errors[i] += worker->client_errors[i];
    }
    if (!worker->failure.empty()) summary.notes.push_back("client: " + worker->failure);
    due_unsent += worker->due_unsent;
  }
  summary.attempts = summary.latency.count();
  memory.units = summary.outcomes[static_cast<int>(Outcome::booked)];
  if (due_unsent > 0) {
    summary.notes.push_back(fmt::format(
        "{} requests were due but never sent (every connection had --pipeline {} in flight): "
        "the server did not keep up with --rate",
        due_unsent, options.pipeline));
  }
  verdict_of_throughput(common, options, events, workers, &summary);
  summary.notes.push_back(fmt::format(
      "{} connections x pipeline {}, {} thread(s), {} event(s) of {} seats, {}, mix book={} "
      "get={} cancel={}",
      options.connections, options.pipeline, options.threads, events.size(), options.capacity,
      options.rate_per_s > 0 ? fmt::format("open loop at {:.0f} req/s", options.rate_per_s)
                             : std::string("closed loop"),
      options.mix_book, options.mix_get, options.mix_cancel));
  return summary;
}

}  // namespace admit::bench
