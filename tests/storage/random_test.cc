// Drives the state machine with random commands (few events and users, so
// conflicts are frequent; time jumps so holds expire) and compares every
// answer with the naive model in reference_model.h. Replays from the seed:
//   ADMIT_SEED=<seed> ADMIT_RANDOM_COMMANDS=<count> storage_random_test
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>

#include "reference_model.h"
#include "storage/state_machine.h"

namespace admit::storage {
namespace {

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0' ? std::strtoull(text, nullptr, 10) : fallback;
}

constexpr std::uint64_t default_seed = 20261126;

// How often each outcome came up, per command family, to show the mix
// reaches every rule (printed at the end).
struct Histogram {
  std::uint64_t book[outcome_count] = {};
  std::uint64_t confirm_cancel[outcome_count] = {};
  std::uint64_t leave[outcome_count] = {};
  std::uint64_t expired_holds = 0;
};
Histogram histogram;

// An assert() or check_invariants() failure aborts: say what to replay first.
char replay_note[128];
volatile std::sig_atomic_t current_command_known = 0;
std::uint64_t current_command = 0;

void print_replay_note(int) {
  if (current_command_known != 0) {
    char line[160];
    const int size = std::snprintf(line, sizeof line, "\n%s, aborted at command %llu\n",
                                   replay_note, static_cast<unsigned long long>(current_command));
    if (size > 0) (void)!write(STDERR_FILENO, line, static_cast<std::size_t>(size));
  }
  std::signal(SIGABRT, SIG_DFL);
  std::raise(SIGABRT);
}
// About 15 s of CPU (20-40 s wall on the shared 2-core box), debugoptimized.
constexpr std::uint64_t default_commands = 1'500'000;
constexpr int invariant_check_every = 1000;
constexpr int snapshot_every = 5000;

// One epoch: a fresh machine and model with random options, driven for a
// while. Epochs keep the model's linear scans short.
class Epoch {
 public:
  Epoch(std::mt19937_64& rng, std::uint64_t first_command)
      : rng_(rng),
        options_(random_options()),
        sm_(std::make_unique<StateMachine>(options_)),
        model_(options_),
        command_(first_command) {}

  void run(int commands) {
    for (std::uint32_t i = 0, n = 2 + pick(3); i < n; ++i) create_random_event();
    for (int i = 0; i < commands; ++i, ++command_) {
      SCOPED_TRACE("command " + std::to_string(command_));
      current_command = command_;
      step();
      if (::testing::Test::HasFatalFailure()) return;
      if (i % invariant_check_every == 0) sm_->check_invariants();
      if (i % snapshot_every == snapshot_every - 1) swap_for_restored_copy();
    }
    sm_->check_invariants();
    swap_for_restored_copy();
  }

 private:
  std::uint32_t pick(std::uint32_t n) { return static_cast<std::uint32_t>(rng_() % n); }
  bool chance(int percent) { return pick(100) < static_cast<std::uint32_t>(percent); }

  Options random_options() {
    Options o;
    o.shard = pick(shards_max);
    o.default_rate_per_s = chance(30) ? 1 + pick(20) : 0;
    o.default_rate_burst = pick(4);
    o.request_ids_max = 1 + pick(60);
    o.request_id_retention_ms = 100 + pick(5000);
    return o;
  }

  std::string event_id() { return "e" + std::to_string(pick(5)); }
  std::string user() { return "u" + std::to_string(pick(12)); }
  // Shared ids make replays and conflicts; fresh ones make remembered answers.
  std::string request_id() {
    if (chance(15)) return "r" + std::to_string(pick(40));
    if (chance(25)) return "q" + std::to_string(++fresh_request_ids_);
    return "";
  }

  EventConfig random_config() {
    EventConfig c;
    c.capacity = pick(20);
    c.per_user_max = chance(50) ? 0 : pick(5);
    c.hold_ttl_ms = chance(50) ? 0 : 1 + pick(400);
    c.waitlist = chance(70);
    c.waitlist_max = chance(50) ? 0 : pick(6);
    c.opens_at_ms = chance(20) ? now_ms_ + pick(300) : 0;
    c.closes_at_ms = chance(15) ? c.opens_at_ms + pick(3000) : 0;
    c.rate_per_s = chance(15) ? 1 + pick(50) : 0;
    c.rate_burst = pick(3);
    c.state = chance(85) ? EventState::open : static_cast<EventState>(1 + pick(2));
    return c;
  }

  void create_random_event() {
    const std::string id = event_id();
    const EventConfig config = random_config();
    const EventResult got = sm_->create_event({id, config}, now_ms_);
    const model::Answer want = model_.create(id, config);
    ASSERT_EQ(got.outcome, want.outcome) << "create " << id;
  }

  EventPatch random_patch() {
    const EventConfig c = random_config();
    EventPatch p;
    if (chance(40)) p.capacity = c.capacity;
    if (chance(15)) p.per_user_max = c.per_user_max;
    if (chance(15)) p.hold_ttl_ms = c.hold_ttl_ms;
    if (chance(15)) p.waitlist = c.waitlist;
    if (chance(10)) p.waitlist_max = c.waitlist_max;
    if (chance(10)) p.opens_at_ms = c.opens_at_ms;
    if (chance(10)) p.closes_at_ms = c.closes_at_ms;
    if (chance(10)) p.rate_per_s = c.rate_per_s;
    if (chance(10)) p.state = c.state;
    return p;
  }

  void step() {
    now_ms_ += chance(5) ? pick(2000) : pick(30);
    const std::uint32_t roll = pick(100);
    if (roll < 45) return do_book();
    if (roll < 55) return do_ref_command(chance(50) ? model::Kind::confirm : model::Kind::cancel);
    if (roll < 61) return do_leave();
    if (roll < 67) return do_position();
    if (roll < 77) return do_expire();
    if (roll < 83) return do_update();
    if (roll < 85) return create_random_event();
    if (roll < 90) return do_get_booking();
    return do_list_bookings();
  }

  void do_book() {
    const std::string event = event_id(), who = user(), rid = request_id();
    BookCommand c{.event = event,
                  .user = who,
                  .seats = 1 + pick(4),
                  .hold = chance(40),
                  .waitlist = static_cast<WaitlistChoice>(pick(3)),
                  .request_id = rid};
    if (chance(2)) c.seats = chance(50) ? 0 : seats_max + 1;
    if (chance(1)) c.user = "";
    const BookResult got = sm_->book(c, now_ms_);
    ++histogram.book[static_cast<int>(got.outcome)];
    const model::Answer want = model_.book(c, now_ms_);
    const std::string what = "book " + event + " " + who + " seats " + std::to_string(c.seats);
    ASSERT_EQ(got.outcome, want.outcome) << what;
    EXPECT_EQ(got.ref.empty() ? 0 : got.ref.serial(), want.ref) << what;
    EXPECT_EQ(got.seats, want.seats) << what;
    EXPECT_EQ(got.position, want.position) << what;
    EXPECT_EQ(got.retry_after_ms, want.retry_after_ms) << what;
    EXPECT_EQ(got.opens_in_ms, want.opens_in_ms) << what;
    EXPECT_EQ(got.expires_at_ms, want.expires_at_ms) << what;
    EXPECT_EQ(got.reason == Reason::none, outcome_is_success(got.outcome)) << what;
    compare_event(event);
  }

  // A ref to a booking of this shard, of another shard, unknown, or malformed.
  std::pair<std::string, std::uint64_t> random_ref() {
    const std::uint32_t roll = pick(100);
    const std::uint64_t made = model_.bookings.size();
    if (roll < 50) {
      std::vector<std::uint64_t> live;
      for (std::uint64_t s = 1; s <= made; ++s) {
        const BookingState state = model_.bookings[s - 1].state;
        if (state == BookingState::held || state == BookingState::confirmed) live.push_back(s);
      }
      if (!live.empty()) {
        const std::uint64_t serial = live[pick(static_cast<std::uint32_t>(live.size()))];
        return {std::string(BookingRef::make(serial, options_.shard).view()), serial};
      }
    }
    if (roll < 85 && made > 0) {
      const std::uint64_t serial = 1 + pick(static_cast<std::uint32_t>(made));
      return {std::string(BookingRef::make(serial, options_.shard).view()), serial};
    }
    if (roll < 90) {
      const std::uint32_t other = (options_.shard + 1) % shards_max;
      return {std::string(BookingRef::make(1 + made, other).view()), 0};
    }
    if (roll < 95) return {std::string(BookingRef::make(made + 1, options_.shard).view()), 0};
    return {"BK-NOTAREF", 0};
  }

  void do_ref_command(model::Kind kind) {
    const auto [ref, serial] = random_ref();
    const std::string rid = request_id();
    const RefCommand command{ref, rid};
    const BookingResult got = kind == model::Kind::confirm ? sm_->confirm(command, now_ms_)
                                                           : sm_->cancel(command, now_ms_);
    ++histogram.confirm_cancel[static_cast<int>(got.outcome)];
    const std::string what =
        std::string(kind == model::Kind::confirm ? "confirm " : "cancel ") + ref + " rid " + rid;
    if (!BookingRef::parse(ref)) {
      ASSERT_EQ(got.outcome, Outcome::invalid) << what;
      return;
    }
    const model::Answer want = model_.confirm_or_cancel(kind, serial, rid, now_ms_);
    ASSERT_EQ(got.outcome, want.outcome) << what;
    if (want.ref != 0) {
      EXPECT_EQ(got.booking.ref.serial(), want.ref) << what;
      EXPECT_EQ(got.booking.state, want.booking_state) << what;
      const model::Booking& b = model_.bookings[want.ref - 1];
      EXPECT_EQ(got.booking.seats, b.seats) << what;
      EXPECT_EQ(got.booking.user, b.user) << what;
      EXPECT_EQ(got.booking.event, b.event) << what;
      EXPECT_EQ(got.booking.created_at_ms, b.created_at_ms) << what;
      EXPECT_EQ(got.booking.expires_at_ms, b.expires_at_ms) << what;
      compare_event(b.event);
    }
  }

  void do_leave() {
    const std::string event = event_id(), who = user(), rid = request_id();
    const WaitlistResult got = sm_->leave_waitlist({event, who, rid}, now_ms_);
    const model::Answer want = model_.leave(event, who, rid, now_ms_);
    ++histogram.leave[static_cast<int>(got.outcome)];
    const std::string what = "leave " + event + " " + who + " rid " + rid;
    ASSERT_EQ(got.outcome, want.outcome) << what;
    EXPECT_EQ(got.position, want.position) << what;
    EXPECT_EQ(got.seats, want.seats) << what;
    EXPECT_EQ(got.length, want.length) << what;
    compare_event(event);
  }

  void do_position() {
    const std::string event = event_id(), who = user();
    const std::uint64_t changes = sm_->change_count();
    const WaitlistResult got = sm_->waitlist_position(event, who);
    const model::Answer want = model_.position(event, who);
    const std::string what = "position " + event + " " + who;
    ASSERT_EQ(got.outcome, want.outcome) << what;
    EXPECT_EQ(got.position, want.position) << what;
    EXPECT_EQ(got.seats, want.seats) << what;
    EXPECT_EQ(got.ref.empty() ? 0 : got.ref.serial(), want.ref) << what;
    if (want.outcome != Outcome::not_found || model_.event(event) != nullptr) {
      EXPECT_EQ(got.length, want.length) << what;
    }
    EXPECT_EQ(sm_->change_count(), changes) << what;
  }

  void do_expire() {
    EXPECT_EQ(sm_->next_expiry_ms(), model_.next_expiry()) << "next_expiry_ms";
    const std::uint32_t expired = sm_->expire(now_ms_);
    histogram.expired_holds += expired;
    EXPECT_EQ(expired, model_.expire(now_ms_)) << "expire at " << now_ms_;
    for (const model::Event& e : model_.events) compare_event(e.id);
  }

  void do_update() {
    const std::string event = event_id();
    const EventPatch patch = random_patch();
    const EventResult got = sm_->update_event({event, patch}, now_ms_);
    const model::Answer want = model_.update(event, patch, now_ms_);
    ASSERT_EQ(got.outcome, want.outcome) << "update " << event;
    compare_event(event);
  }

  void do_get_booking() {
    const auto [ref, serial] = random_ref();
    const BookingResult got = sm_->get_booking(ref);
    if (!BookingRef::parse(ref)) {
      ASSERT_EQ(got.outcome, Outcome::invalid);
      return;
    }
    ASSERT_EQ(got.outcome, serial == 0 ? Outcome::not_found : Outcome::ok) << ref;
    if (serial != 0) {
      EXPECT_EQ(got.booking.state, model_.bookings[serial - 1].state) << ref;
    }
  }

  void do_list_bookings() {
    const std::string event = event_id();
    std::vector<std::uint64_t> want;
    for (std::uint64_t s = 1; s <= model_.bookings.size(); ++s) {
      if (model_.bookings[s - 1].event == event) want.push_back(s);
    }
    std::vector<std::uint64_t> got;
    std::string after;
    const std::uint32_t limit = 1 + pick(7);
    for (int pages = 0; pages < 10000; ++pages) {
      const BookingPage page = sm_->list_bookings(event, after, limit);
      if (model_.event(event) == nullptr) {
        ASSERT_EQ(page.outcome, Outcome::not_found);
        return;
      }
      ASSERT_EQ(page.outcome, Outcome::ok);
      for (const BookingView& b : page.bookings) got.push_back(b.ref.serial());
      if (!page.next_after) break;
      after = std::string(page.next_after->view());
    }
    EXPECT_EQ(got, want) << "list_bookings " << event;
  }

  void compare_event(const std::string& id) {
    const EventResult got = sm_->get_event(id);
    model::Event* want = model_.event(id);
    ASSERT_EQ(got.outcome, want == nullptr ? Outcome::not_found : Outcome::ok) << id;
    if (want == nullptr) return;
    EXPECT_EQ(got.event.version, want->version) << id;
    EXPECT_EQ(got.event.held, model_.seats_in(id, BookingState::held)) << id;
    EXPECT_EQ(got.event.confirmed, model_.seats_in(id, BookingState::confirmed)) << id;
    EXPECT_EQ(got.event.available, model_.available(*want)) << id;
    EXPECT_EQ(got.event.waitlisted, want->waitlist.size()) << id;
  }

  // Continues with a machine restored from a snapshot of this one, so the
  // rest of the epoch checks that restore keeps the future too.
  void swap_for_restored_copy() {
    auto copy = std::make_unique<StateMachine>(options_);
    std::string why;
    ASSERT_TRUE(copy->restore(sm_->snapshot(), &why)) << why;
    ASSERT_EQ(copy->dump(), sm_->dump());
    ASSERT_EQ(copy->change_count(), sm_->change_count());
    copy->check_invariants();
    sm_ = std::move(copy);
  }

  std::mt19937_64& rng_;
  Options options_;
  std::unique_ptr<StateMachine> sm_;
  model::Model model_;
  std::uint64_t command_;
  std::int64_t now_ms_ = 1'700'000'000'000;
  std::uint64_t fresh_request_ids_ = 0;
};

TEST(StateMachineRandom, AgreesWithTheReferenceModel) {
  const std::uint64_t seed = env_or("ADMIT_SEED", default_seed);
  const std::uint64_t commands = env_or("ADMIT_RANDOM_COMMANDS", default_commands);
  std::printf("ADMIT_SEED=%llu ADMIT_RANDOM_COMMANDS=%llu\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(commands));
  SCOPED_TRACE("replay with ADMIT_SEED=" + std::to_string(seed) +
               " ADMIT_RANDOM_COMMANDS=" + std::to_string(commands));
  std::snprintf(replay_note, sizeof replay_note, "replay with ADMIT_SEED=%llu",
                static_cast<unsigned long long>(seed));
  current_command_known = 1;
  std::signal(SIGABRT, print_replay_note);
  std::mt19937_64 rng(seed);
  std::uint64_t done = 0;
  while (done < commands) {
    const auto length =
        static_cast<int>(std::min<std::uint64_t>(500 + rng() % 20000, commands - done));
    Epoch(rng, done).run(length);
    if (::testing::Test::HasFailure()) {
      std::printf("failed: ADMIT_SEED=%llu, see the command index above\n",
                  static_cast<unsigned long long>(seed));
      return;
    }
    done += static_cast<std::uint64_t>(length);
  }
  const auto print = [](const char* family, const std::uint64_t* counts) {
    std::printf("%s:", family);
    for (int i = 0; i < outcome_count; ++i) {
      if (counts[i] != 0) {
        const std::string_view name = outcome_name(static_cast<Outcome>(i));
        std::printf(" %.*s=%llu", static_cast<int>(name.size()), name.data(),
                    static_cast<unsigned long long>(counts[i]));
      }
    }
    std::printf("\n");
  };
  print("book", histogram.book);
  print("confirm/cancel", histogram.confirm_cancel);
  print("leave", histogram.leave);
  std::printf("holds expired by expire(): %llu\n",
              static_cast<unsigned long long>(histogram.expired_holds));
  // Every book outcome the state machine can give must have come up.
  for (const Outcome outcome :
       {Outcome::booked, Outcome::held, Outcome::waitlisted, Outcome::already_booked,
        Outcome::sold_out, Outcome::over_user_limit, Outcome::not_open, Outcome::closed,
        Outcome::rate_limited, Outcome::not_found, Outcome::invalid}) {
    EXPECT_GT(histogram.book[static_cast<int>(outcome)], 0u) << outcome_name(outcome);
  }
}

}  // namespace
}  // namespace admit::storage
