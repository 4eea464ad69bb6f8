#include "model_run.h"

#include <sstream>

namespace admit::storage {
namespace {

std::string text_of(Outcome outcome) { return std::string(outcome_name(outcome)); }
std::string text_of(BookingState state) { return std::string(booking_state_name(state)); }
std::string text_of(std::string_view text) { return "'" + std::string(text) + "'"; }
std::string text_of(const std::string& text) { return text_of(std::string_view(text)); }
std::string text_of(std::optional<std::int64_t> value) {
  return value ? std::to_string(*value) : "none";
}
std::string text_of(const std::vector<std::uint64_t>& values) {
  std::ostringstream out;
  for (const std::uint64_t value : values) out << value << ' ';
  return out.str();
}
template <typename T>
std::string text_of(T value) requires std::is_integral_v<T> {
  return std::to_string(value);
}

}  // namespace

ModelRun::ModelRun(Choices& choices, RunCadence cadence, OutcomeCounts* counts)
    : choices_(choices),
      cadence_(cadence),
      counts_(counts),
      options_(random_options()),
      sm_(std::make_unique<StateMachine>(options_)),
      model_(options_) {}

ModelRun::~ModelRun() = default;

template <typename T>
bool ModelRun::same(const T& got, const T& want, const std::string& what) {
  if (got == want) return true;
  if (!failed()) {
    failure_ = what + ": state machine " + text_of(got) + ", model " + text_of(want) +
               " (command " + std::to_string(commands_run_) + ")";
  }
  return false;
}

void ModelRun::note(std::int64_t value) {
  transcript_.append(reinterpret_cast<const char*>(&value), sizeof value);
}

bool ModelRun::run(std::uint64_t commands) {
  for (std::uint32_t i = 0, n = 2 + pick(3); i < n && !failed(); ++i) create_random_event();
  for (; commands_run_ < commands && !failed() && !choices_.exhausted(); ++commands_run_) {
    step();
    if (failed()) break;
    if (commands_run_ % cadence_.invariants_every == 0) sm_->check_invariants();
    if (commands_run_ % cadence_.restore_every == cadence_.restore_every - 1) {
      swap_for_restored_copy();
    }
  }
  if (failed()) return false;
  sm_->check_invariants();
  swap_for_restored_copy();
  return !failed();
}

Options ModelRun::random_options() {
  Options o;
  o.shard = pick(shards_max);
  o.default_rate_per_s = chance(30) ? 1 + pick(20) : 0;
  o.default_rate_burst = pick(4);
  o.request_ids_max = 1 + pick(60);
  o.request_id_retention_ms = 100 + pick(5000);
  return o;
}

std::string ModelRun::event_id() { return "e" + std::to_string(pick(5)); }
std::string ModelRun::user() { return "u" + std::to_string(pick(12)); }

// Shared ids make replays and conflicts; fresh ones make remembered answers.
std::string ModelRun::request_id() {
  if (chance(15)) return "r" + std::to_string(pick(40));
  if (chance(25)) return "q" + std::to_string(++fresh_request_ids_);
  return "";
}

EventConfig ModelRun::random_config() {
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

EventPatch ModelRun::random_patch() {
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

void ModelRun::step() {
  now_ms_ += chance(5) ? pick(2000) : pick(30);
  note(now_ms_);
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

void ModelRun::create_random_event() {
  const std::string id = event_id();
  const EventConfig config = random_config();
  const EventResult got = sm_->create_event({id, config}, now_ms_);
  note(static_cast<int>(got.outcome));
  const model::Answer want = model_.create(id, config);
  same(got.outcome, want.outcome, "create " + id);
}

void ModelRun::do_book() {
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
  for (const std::int64_t value :
       {std::int64_t{static_cast<int>(got.outcome)},
        std::int64_t(got.ref.empty() ? 0 : got.ref.serial()), std::int64_t{got.seats},
        std::int64_t{got.position}, got.retry_after_ms, got.opens_in_ms, got.expires_at_ms}) {
    note(value);
  }
  if (counts_ != nullptr) ++counts_->book[static_cast<int>(got.outcome)];
  const model::Answer want = model_.book(c, now_ms_);
  const std::string what = "book " + event + " " + who + " seats " + std::to_string(c.seats);
  if (!same(got.outcome, want.outcome, what)) return;
  same(got.ref.empty() ? 0 : got.ref.serial(), want.ref, what + " ref");
  same(got.seats, want.seats, what + " seats");
  same(got.position, want.position, what + " position");
  same(got.retry_after_ms, want.retry_after_ms, what + " retry_after_ms");
  same(got.opens_in_ms, want.opens_in_ms, what + " opens_in_ms");
  same(got.expires_at_ms, want.expires_at_ms, what + " expires_at_ms");
  same(got.reason == Reason::none, outcome_is_success(got.outcome), what + " reason given");
  compare_event(event);
}

// A ref to a booking of this shard, of another shard, unknown, or malformed.
std::pair<std::string, std::uint64_t> ModelRun::random_ref() {
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

void ModelRun::do_ref_command(model::Kind kind) {
  const auto [ref, serial] = random_ref();
  const std::string rid = request_id();
  const RefCommand command{ref, rid};
  const BookingResult got =
      kind == model::Kind::confirm ? sm_->confirm(command, now_ms_) : sm_->cancel(command, now_ms_);
  note(static_cast<int>(got.outcome));
  note(static_cast<int>(got.booking.state));
  if (counts_ != nullptr) ++counts_->confirm_cancel[static_cast<int>(got.outcome)];
  const std::string what =
      std::string(kind == model::Kind::confirm ? "confirm " : "cancel ") + ref + " rid " + rid;
  if (!BookingRef::parse(ref)) {
    same(got.outcome, Outcome::invalid, what);
    return;
  }
  const model::Answer want = model_.confirm_or_cancel(kind, serial, rid, now_ms_);
  if (!same(got.outcome, want.outcome, what) || want.ref == 0) return;
  same(got.booking.ref.serial(), want.ref, what + " ref");
  same(got.booking.state, want.booking_state, what + " state");
  const model::Booking& b = model_.bookings[want.ref - 1];
  same(got.booking.seats, b.seats, what + " seats");
  same(got.booking.user, std::string_view(b.user), what + " user");
  same(got.booking.event, std::string_view(b.event), what + " event");
  same(got.booking.created_at_ms, b.created_at_ms, what + " created_at_ms");
  same(got.booking.expires_at_ms, b.expires_at_ms, what + " expires_at_ms");
  compare_event(b.event);
}

void ModelRun::do_leave() {
  const std::string event = event_id(), who = user(), rid = request_id();
  const WaitlistResult got = sm_->leave_waitlist({event, who, rid}, now_ms_);
  note(static_cast<int>(got.outcome));
  note(got.position);
  if (counts_ != nullptr) ++counts_->leave[static_cast<int>(got.outcome)];
  const model::Answer want = model_.leave(event, who, rid, now_ms_);
  const std::string what = "leave " + event + " " + who + " rid " + rid;
  if (!same(got.outcome, want.outcome, what)) return;
  same(got.position, want.position, what + " position");
  same(got.seats, want.seats, what + " seats");
  same(got.length, want.length, what + " length");
  compare_event(event);
}

void ModelRun::do_position() {
  const std::string event = event_id(), who = user();
  const std::uint64_t changes = sm_->change_count();
  const WaitlistResult got = sm_->waitlist_position(event, who);
  note(static_cast<int>(got.outcome));
  note(got.position);
  const model::Answer want = model_.position(event, who);
  const std::string what = "position " + event + " " + who;
  if (!same(got.outcome, want.outcome, what)) return;
  same(got.position, want.position, what + " position");
  same(got.seats, want.seats, what + " seats");
  same(got.ref.empty() ? 0 : got.ref.serial(), want.ref, what + " ref");
  if (want.outcome != Outcome::not_found || model_.event(event) != nullptr) {
    same(got.length, want.length, what + " length");
  }
  same(sm_->change_count(), changes, what + " changes nothing");
}

void ModelRun::do_expire() {
  same(sm_->next_expiry_ms(), model_.next_expiry(), "next_expiry_ms");
  // The machine's bounded steps, as the server takes them (sometimes a
  // bound of 1-3 so that the work spreads over calls), against the model's
  // one unbounded expiry.
  const std::uint32_t steps_max = chance(50) ? 1 + pick(3) : storage::expire_steps_max;
  std::uint32_t expired = 0;
  for (bool more_due = true; more_due;) {
    const storage::ExpireReport report = sm_->expire(now_ms_, steps_max);
    expired += report.holds_expired;
    more_due = report.more_due;
  }
  note(expired);
  if (counts_ != nullptr) counts_->expired_holds += expired;
  same(expired, model_.expire(now_ms_), "expire at " + std::to_string(now_ms_));
  for (const model::Event& e : model_.events) compare_event(e.id);
}

void ModelRun::do_update() {
  const std::string event = event_id();
  const EventPatch patch = random_patch();
  const EventResult got = sm_->update_event({event, patch}, now_ms_);
  note(static_cast<int>(got.outcome));
  const model::Answer want = model_.update(event, patch, now_ms_);
  if (same(got.outcome, want.outcome, "update " + event)) compare_event(event);
}

void ModelRun::do_get_booking() {
  const auto [ref, serial] = random_ref();
  const BookingResult got = sm_->get_booking(ref);
  note(static_cast<int>(got.outcome));
  if (!BookingRef::parse(ref)) {
    same(got.outcome, Outcome::invalid, "get_booking " + ref);
    return;
  }
  if (!same(got.outcome, serial == 0 ? Outcome::not_found : Outcome::ok, "get_booking " + ref)) {
    return;
  }
  if (serial != 0) {
    same(got.booking.state, model_.bookings[serial - 1].state, "get_booking " + ref + " state");
  }
}

void ModelRun::do_list_bookings() {
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
    note(static_cast<int>(page.outcome));
    if (model_.event(event) == nullptr) {
      same(page.outcome, Outcome::not_found, "list_bookings " + event);
      return;
    }
    if (!same(page.outcome, Outcome::ok, "list_bookings " + event)) return;
    for (const BookingView& b : page.bookings) got.push_back(b.ref.serial());
    if (!page.next_after) break;
    after = std::string(page.next_after->view());
  }
  for (const std::uint64_t serial : got) note(static_cast<std::int64_t>(serial));
  same(got, want, "list_bookings " + event);
}

void ModelRun::compare_event(const std::string& id) {
  const EventResult got = sm_->get_event(id);
  model::Event* want = model_.event(id);
  if (!same(got.outcome, want == nullptr ? Outcome::not_found : Outcome::ok, "event " + id) ||
      want == nullptr) {
    return;
  }
  same(got.event.version, want->version, id + " version");
  same(got.event.held, model_.seats_in(id, BookingState::held), id + " held");
  same(got.event.confirmed, model_.seats_in(id, BookingState::confirmed), id + " confirmed");
  same(got.event.available, model_.available(*want), id + " available");
  same(std::size_t{got.event.waitlisted}, want->waitlist.size(), id + " waitlisted");
}

// Continues with a machine restored from a snapshot of this one, so the rest
// of the run checks that restore keeps the future too.
void ModelRun::swap_for_restored_copy() {
  auto copy = std::make_unique<StateMachine>(options_);
  std::string why;
  const std::vector<std::uint8_t> bytes = sm_->snapshot();
  if (!copy->restore(bytes, &why)) {
    if (!failed()) failure_ = "restore of a snapshot: " + why;
    return;
  }
  if (!same(copy->dump(), sm_->dump(), "dump after restore")) return;
  if (!same(copy->change_count(), sm_->change_count(), "change_count after restore")) return;
  if (!same(copy->snapshot() == bytes, true, "snapshot bytes after restore")) return;
  copy->check_invariants();
  sm_ = std::move(copy);
}

}  // namespace admit::storage
