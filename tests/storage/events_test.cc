// CreateEvent, UpdateEvent, GetEvent, ListEvents.
#include "machine_helpers.h"

namespace admit::storage::testing {
namespace {

using Events = Machine;

TEST_F(Events, CreateStartsAtVersionOneWithResolvedLimits) {
  const EventResult result = create("gig", {.capacity = 50, .waitlist = true});
  EXPECT_EQ(result.outcome, Outcome::ok);
  EXPECT_EQ(result.event.id, "gig");
  EXPECT_EQ(result.event.version, 1u);
  EXPECT_EQ(result.event.available, 50u);
  EXPECT_EQ(result.event.config.per_user_max, 50u);
  EXPECT_EQ(result.event.config.waitlist_max, waitlist_length_max);
  EXPECT_EQ(result.event.config.state, EventState::open);
}

TEST_F(Events, CreatingAnExistingIdIsInvalid) {
  create_with_capacity("gig", 5);
  const EventResult again = create_with_capacity("gig", 7);
  EXPECT_EQ(again.outcome, Outcome::invalid);
  EXPECT_EQ(reason_text(again.reason), "id: event exists");
  EXPECT_EQ(event("gig").config.capacity, 5u);
}

// HTTP PUT: setup scripts run twice.
TEST_F(Events, CreateOrSameAnswersTheSameEventAndRefusesOtherSettings) {
  create("gig", {.capacity = 5, .waitlist = true});
  const std::uint64_t changes = sm_.change_count();
  const EventResult same =
      sm_.create_event({"gig", {.capacity = 5, .waitlist = true}, true}, now_ms_);
  EXPECT_EQ(same.outcome, Outcome::ok);
  EXPECT_EQ(same.reason, Reason::event_exists);
  EXPECT_EQ(same.event.version, 1u);
  const EventResult other = sm_.create_event({"gig", {.capacity = 6}, true}, now_ms_);
  EXPECT_EQ(other.outcome, Outcome::invalid);
  EXPECT_EQ(other.reason, Reason::event_exists);
  EXPECT_EQ(sm_.change_count(), changes);
  EXPECT_EQ(event("gig").config.capacity, 5u);
  EXPECT_EQ(sm_.create_event({"new", {.capacity = 1}, true}, now_ms_).outcome, Outcome::ok);
}

TEST_F(Events, CreateValidatesEveryField) {
  const auto message_of = [&](std::string_view id, EventConfig config) {
    const EventResult result = create(id, config);
    EXPECT_EQ(result.outcome, Outcome::invalid);
    return std::string(reason_text(result.reason));
  };
  EXPECT_EQ(message_of("", {}), "id: must be 1..128 bytes of UTF-8");
  EXPECT_EQ(message_of(std::string(129, 'x'), {}), "id: must be 1..128 bytes of UTF-8");
  EXPECT_EQ(message_of("a", {.capacity = 1'000'000'001}), "capacity: must be 0..1000000000");
  EXPECT_EQ(message_of("a", {.per_user_max = 1'000'000'001}),
            "per_user_max: must be 0..1000000000");
  EXPECT_EQ(message_of("a", {.hold_ttl_ms = 86'400'001}), "hold_ttl_ms: must be 0..86400000");
  EXPECT_EQ(message_of("a", {.waitlist_max = 1'000'001}), "waitlist_max: must be 0..1000000");
  EXPECT_EQ(message_of("a", {.opens_at_ms = 100, .closes_at_ms = 100}),
            "closes_at_ms: must be after opens_at_ms");
  EXPECT_EQ(message_of("a", {.opens_at_ms = -1}), "opens_at_ms: must not be negative");
  EXPECT_EQ(message_of("a", {.rate_per_s = 1'000'001}), "rate_per_s: must be 0..1000000");
  EXPECT_EQ(message_of("a", {.rate_burst = 1'000'001}), "rate_burst: must be 0..1000000");
  EXPECT_EQ(message_of("a", {.state = static_cast<EventState>(9)}),
            "state: must be open, paused or closed");
  EXPECT_EQ(sm_.counters().events, 0u);
  EXPECT_EQ(sm_.change_count(), 0u);
}

TEST_F(Events, UpdateBumpsVersionOnlyWhenSomethingChanged) {
  create_with_capacity("gig", 5);
  EXPECT_EQ(update("gig", {.capacity = 6}).event.version, 2u);
  const std::uint64_t changes = sm_.change_count();
  EXPECT_EQ(update("gig", {.capacity = 6}).event.version, 2u);
  EXPECT_EQ(update("gig", {}).event.version, 2u);
  EXPECT_EQ(sm_.change_count(), changes);
  EXPECT_EQ(update("gig", {.per_user_max = 2, .waitlist = true}).event.version, 3u);
  EXPECT_EQ(event("gig").config.per_user_max, 2u);
  EXPECT_TRUE(event("gig").config.waitlist);
}

TEST_F(Events, UpdateOfUnknownEventIsNotFound) {
  EXPECT_EQ(update("nope", {.capacity = 3}).outcome, Outcome::not_found);
}

TEST_F(Events, UpdateChecksTheResultingWindow) {
  create("gig", {.capacity = 5, .opens_at_ms = 1000});
  const EventResult result = update("gig", {.closes_at_ms = 500});
  EXPECT_EQ(result.outcome, Outcome::invalid);
  EXPECT_EQ(reason_text(result.reason), "closes_at_ms: must be after opens_at_ms");
  EXPECT_EQ(event("gig").version, 1u);
  EXPECT_EQ(reason_text(update("gig", {.capacity = 2'000'000'000}).reason),
            "capacity: must be 0..1000000000");
}

TEST_F(Events, LoweringCapacityBelowSoldRevokesNothing) {
  create_with_capacity("gig", 10);
  const BookResult a = book("gig", "ann", 4);
  book("gig", "bob", 4);
  update("gig", {.capacity = 5});
  EXPECT_EQ(event("gig").available, 0u);
  EXPECT_EQ(event("gig").confirmed, 8u);
  EXPECT_EQ(book("gig", "cat", 1).outcome, Outcome::sold_out);
  sm_.check_invariants();
  cancel(a.ref);
  EXPECT_EQ(event("gig").available, 1u);
  EXPECT_EQ(book("gig", "cat", 1).outcome, Outcome::booked);
  sm_.check_invariants();
}

TEST_F(Events, RaisingCapacityOpensSeats) {
  create_with_capacity("gig", 1);
  book("gig", "ann");
  EXPECT_EQ(book("gig", "bob").outcome, Outcome::sold_out);
  update("gig", {.capacity = 2});
  EXPECT_EQ(book("gig", "bob").outcome, Outcome::booked);
}

TEST_F(Events, GetEventValidatesAndFinds) {
  EXPECT_EQ(sm_.get_event("").outcome, Outcome::invalid);
  EXPECT_EQ(sm_.get_event("gig").outcome, Outcome::not_found);
}

TEST_F(Events, ListEventsPagesInIdOrder) {
  for (const char* id : {"d", "b", "a", "c", "e"}) create_with_capacity(id, 1);
  EventPage page = sm_.list_events("", 2);
  ASSERT_EQ(page.events.size(), 2u);
  EXPECT_EQ(page.events[0].id, "a");
  EXPECT_EQ(page.events[1].id, "b");
  EXPECT_TRUE(page.more);
  page = sm_.list_events("b", 2);
  EXPECT_EQ(page.events[0].id, "c");
  EXPECT_EQ(page.events[1].id, "d");
  EXPECT_TRUE(page.more);
  page = sm_.list_events("d", 2);
  ASSERT_EQ(page.events.size(), 1u);
  EXPECT_EQ(page.events[0].id, "e");
  EXPECT_FALSE(page.more);
  EXPECT_EQ(sm_.list_events("", 0).events.size(), 5u);  // 0 = the default limit
  EXPECT_EQ(sm_.list_events("bb", 0).events.front().id, "c");
}

TEST_F(Events, ListEventsCapsTheLimit) {
  for (int i = 0; i < 1001; ++i) create_with_capacity("e" + std::to_string(10000 + i), 1);
  const EventPage page = sm_.list_events("", 5000);
  EXPECT_EQ(page.events.size(), list_limit_max);
  EXPECT_TRUE(page.more);
}

TEST_F(Events, CountersSumOverEvents) {
  create("a", {.capacity = 10, .hold_ttl_ms = 100, .waitlist = true});
  create_with_capacity("b", 10);
  hold("a", "ann", 3);
  book("a", "bob", 7);
  book("a", "cat", 1);  // waitlisted
  book("b", "ann", 2);
  const ShardCounters c = sm_.counters();
  EXPECT_EQ(c.events, 2u);
  EXPECT_EQ(c.live_bookings, 3u);
  EXPECT_EQ(c.held_seats, 3u);
  EXPECT_EQ(c.confirmed_seats, 9u);
  EXPECT_EQ(c.waitlisted, 1u);
}

}  // namespace
}  // namespace admit::storage::testing
