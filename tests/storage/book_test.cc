// Book: every outcome and the order of the checks.
#include "machine_helpers.h"

namespace admit::storage::testing {
namespace {

using Book = Machine;

TEST_F(Book, BooksWhenSeatsAreFree) {
  create_with_capacity("gig", 10);
  const BookResult result = book("gig", "ann", 3);
  EXPECT_EQ(result.outcome, Outcome::booked);
  EXPECT_EQ(result.reason, Reason::none);
  EXPECT_EQ(result.ref, BookingRef::make(1, 0));
  EXPECT_EQ(result.seats, 3u);
  EXPECT_EQ(result.expires_at_ms, 0);
  const EventView view = event("gig");
  EXPECT_EQ(view.available, 7u);
  EXPECT_EQ(view.confirmed, 3u);
  EXPECT_EQ(view.held, 0u);
  EXPECT_EQ(state_of(result.ref), BookingState::confirmed);
}

TEST_F(Book, PrefetchChangesNothing) {
  create_with_capacity("gig", 1);
  ASSERT_EQ(book("gig", "ann").outcome, Outcome::booked);
  const std::string before = sm_.dump();
  const std::uint64_t changes = sm_.change_count();
  for (std::string_view user : {"ann", "bob", "", "\xff"}) {
    sm_.prefetch_book({.event = "gig", .user = user});
    sm_.prefetch_book({.event = "nope", .user = user});
  }
  EXPECT_EQ(sm_.dump(), before);
  EXPECT_EQ(sm_.change_count(), changes);
  EXPECT_EQ(book("gig", "bob").outcome, Outcome::sold_out);
}

TEST_F(Book, RefsCountSerialsFromOneAndCarryTheShard) {
  StateMachine sm(Options{.shard = 5});
  sm.create_event({"gig", {.capacity = 5}}, t0_ms);
  EXPECT_EQ(sm.book({.event = "gig", .user = "a"}, t0_ms).ref, BookingRef::make(1, 5));
  EXPECT_EQ(sm.book({.event = "gig", .user = "b"}, t0_ms).ref, BookingRef::make(2, 5));
  EXPECT_EQ(sm.get_booking(BookingRef::make(2, 5).view()).booking.user, "b");
  EXPECT_EQ(sm.get_booking(BookingRef::make(2, 4).view()).outcome, Outcome::not_found);
}

TEST_F(Book, HoldsWhenAskedAndTheEventHasHolds) {
  create("gig", {.capacity = 10, .hold_ttl_ms = 60'000});
  const BookResult result = hold("gig", "ann", 2);
  EXPECT_EQ(result.outcome, Outcome::held);
  EXPECT_EQ(result.expires_at_ms, now_ms_ + 60'000);
  EXPECT_EQ(event("gig").held, 2u);
  EXPECT_EQ(event("gig").available, 8u);
  // Without `hold` the booking confirms at once even on an event with holds.
  EXPECT_EQ(book("gig", "bob", 1).outcome, Outcome::booked);
  EXPECT_EQ(event("gig").confirmed, 1u);
}

TEST_F(Book, HoldOnAnEventWithoutHoldsIsInvalid) {
  create_with_capacity("gig", 10);
  const BookResult result = hold("gig", "ann");
  EXPECT_EQ(result.outcome, Outcome::invalid);
  EXPECT_TRUE(reason_text(result.reason).starts_with("hold:"));
  EXPECT_EQ(event("gig").available, 10u);
}

TEST_F(Book, SoldOutWhenSeatsDoNotFitAndNoWaitlist) {
  create_with_capacity("gig", 3);
  EXPECT_EQ(book("gig", "ann", 2).outcome, Outcome::booked);
  const BookResult result = book("gig", "bob", 2);
  EXPECT_EQ(result.outcome, Outcome::sold_out);
  EXPECT_NE(result.reason, Reason::none);
  EXPECT_EQ(book("gig", "bob", 1).outcome, Outcome::booked);  // all-or-nothing, 1 fits
  EXPECT_EQ(book("gig", "cat", 1).outcome, Outcome::sold_out);
}

TEST_F(Book, CapacityZeroIsSoldOut) {
  create_with_capacity("gig", 0);
  // per_user_max 0 means "the capacity", and a capacity of 0 sets no limit yet.
  EXPECT_EQ(book("gig", "ann").outcome, Outcome::sold_out);
  EXPECT_EQ(book("gig", "ann", 5).outcome, Outcome::sold_out);
  create("gig2", {.capacity = 0, .per_user_max = 4});
  EXPECT_EQ(book("gig2", "ann").outcome, Outcome::sold_out);
  EXPECT_EQ(book("gig2", "ann", 5).outcome, Outcome::over_user_limit);
}

TEST_F(Book, CapacityZeroWaitlistsAndTheLimitFollowsCapacity) {
  create("gig", {.capacity = 0, .waitlist = true});
  EXPECT_EQ(book("gig", "ann", 3).outcome, Outcome::waitlisted);
  update("gig", {.capacity = 10});
  EXPECT_EQ(event("gig").config.per_user_max, 10u);
  EXPECT_EQ(event("gig").confirmed, 3u);  // ann promoted with her 3 seats
  EXPECT_EQ(book("gig", "bob", 11).outcome, Outcome::over_user_limit);
  update("gig", {.capacity = 20});
  EXPECT_EQ(book("gig", "bob", 11).outcome, Outcome::booked);
  sm_.check_invariants();
}

TEST_F(Book, AlreadyBookedReturnsTheExistingRefAndSeats) {
  create_with_capacity("gig", 10);
  const BookResult first = book("gig", "ann", 2);
  const std::uint64_t changes = sm_.change_count();
  const BookResult again = book("gig", "ann", 5);
  EXPECT_EQ(again.outcome, Outcome::already_booked);
  EXPECT_EQ(again.ref, first.ref);
  EXPECT_EQ(again.seats, 2u);
  EXPECT_EQ(sm_.change_count(), changes);
  EXPECT_EQ(event("gig").confirmed, 2u);
}

TEST_F(Book, AlreadyBookedHoldsForHeldBookingsToo) {
  create("gig", {.capacity = 10, .hold_ttl_ms = 1000});
  const BookResult first = hold("gig", "ann", 2);
  EXPECT_EQ(hold("gig", "ann", 1).ref, first.ref);
  EXPECT_EQ(hold("gig", "ann", 1).outcome, Outcome::already_booked);
}

TEST_F(Book, BookingAgainAfterCancelIsANewBooking) {
  create_with_capacity("gig", 10);
  const BookResult first = book("gig", "ann", 2);
  EXPECT_EQ(cancel(first.ref).outcome, Outcome::ok);
  const BookResult second = book("gig", "ann", 2);
  EXPECT_EQ(second.outcome, Outcome::booked);
  EXPECT_NE(second.ref, first.ref);
}

TEST_F(Book, OverUserLimit) {
  create("gig", {.capacity = 10, .per_user_max = 2});
  const BookResult result = book("gig", "ann", 3);
  EXPECT_EQ(result.outcome, Outcome::over_user_limit);
  EXPECT_NE(result.reason, Reason::none);
  EXPECT_EQ(book("gig", "ann", 2).outcome, Outcome::booked);
}

TEST_F(Book, PerUserMaxZeroMeansCapacity) {
  create_with_capacity("gig", 4);
  EXPECT_EQ(event("gig").config.per_user_max, 4u);
  EXPECT_EQ(book("gig", "ann", 5).outcome, Outcome::over_user_limit);
  EXPECT_EQ(book("gig", "ann", 4).outcome, Outcome::booked);
}

TEST_F(Book, NotOpenBeforeTheSaleWindowWithTimeLeft) {
  create("gig", {.capacity = 10, .opens_at_ms = t0_ms + 5000});
  const BookResult result = book("gig", "ann");
  EXPECT_EQ(result.outcome, Outcome::not_open);
  EXPECT_EQ(result.opens_in_ms, 5000);
  advance(4999);
  EXPECT_EQ(book("gig", "ann").opens_in_ms, 1);
  advance(1);
  EXPECT_EQ(book("gig", "ann").outcome, Outcome::booked);
}

TEST_F(Book, ClosedFromClosesAtOn) {
  create("gig", {.capacity = 10, .closes_at_ms = t0_ms + 100});
  advance(99);
  EXPECT_EQ(book("gig", "ann").outcome, Outcome::booked);
  advance(1);
  EXPECT_EQ(book("gig", "bob").outcome, Outcome::closed);
}

TEST_F(Book, PausedIsNotOpenWithoutATime) {
  create("gig", {.capacity = 10, .state = EventState::paused});
  const BookResult result = book("gig", "ann");
  EXPECT_EQ(result.outcome, Outcome::not_open);
  EXPECT_EQ(result.opens_in_ms, 0);
  EXPECT_EQ(reason_text(result.reason), "event is paused");
}

TEST_F(Book, ClosedStateIsClosed) {
  create("gig", {.capacity = 10});
  update("gig", {.state = EventState::closed});
  EXPECT_EQ(book("gig", "ann").outcome, Outcome::closed);
  update("gig", {.state = EventState::open});
  EXPECT_EQ(book("gig", "ann").outcome, Outcome::booked);
}

TEST_F(Book, UnknownEventIsNotFound) { EXPECT_EQ(book("nope", "ann").outcome, Outcome::not_found); }

TEST_F(Book, AlreadyBookedComesBeforeStateAndWindowChecks) {
  create_with_capacity("gig", 10);
  const BookResult first = book("gig", "ann");
  update("gig", {.state = EventState::paused});
  EXPECT_EQ(book("gig", "ann").outcome, Outcome::already_booked);
  EXPECT_EQ(book("gig", "ann").ref, first.ref);
}

TEST_F(Book, StateAndWindowComeBeforeUserLimitAndHolds) {
  create("gig", {.capacity = 10, .per_user_max = 1, .opens_at_ms = t0_ms + 10});
  EXPECT_EQ(book("gig", "ann", 5).outcome, Outcome::not_open);
  EXPECT_EQ(hold("gig", "ann", 1).outcome, Outcome::not_open);
  advance(10);
  EXPECT_EQ(hold("gig", "ann", 5).outcome, Outcome::over_user_limit);
  EXPECT_EQ(hold("gig", "ann", 1).outcome, Outcome::invalid);
}

TEST_F(Book, ValidationNamesTheField) {
  create_with_capacity("gig", 10);
  const auto message_of = [&](BookCommand command) {
    const BookResult result = book(command);
    EXPECT_EQ(result.outcome, Outcome::invalid);
    return std::string(reason_text(result.reason));
  };
  EXPECT_EQ(message_of({.event = "gig", .user = "ann", .seats = 0}),
            "seats: must be 1..1000000000");
  EXPECT_EQ(message_of({.event = "gig", .user = "ann", .seats = 1'000'000'001}),
            "seats: must be 1..1000000000");
  EXPECT_EQ(message_of({.event = "", .user = "ann"}), "event: must be 1..128 bytes of UTF-8");
  EXPECT_EQ(message_of({.event = std::string(129, 'e'), .user = "ann"}),
            "event: must be 1..128 bytes of UTF-8");
  EXPECT_EQ(message_of({.event = "g\xff", .user = "ann"}), "event: must be 1..128 bytes of UTF-8");
  EXPECT_EQ(message_of({.event = "gig", .user = ""}), "user: must be 1..64 bytes of UTF-8");
  EXPECT_EQ(message_of({.event = "gig", .user = std::string(65, 'u')}),
            "user: must be 1..64 bytes of UTF-8");
  EXPECT_EQ(message_of({.event = "gig", .user = "\xc0\x80"}), "user: must be 1..64 bytes of UTF-8");
  EXPECT_EQ(message_of({.event = "gig", .user = "ann", .request_id = std::string(65, 'r')}),
            "request_id: longer than 64 bytes");
  EXPECT_EQ(message_of({.event = "gig", .user = "ann", .waitlist = static_cast<WaitlistChoice>(7)})
                .substr(0, 9),
            "waitlist:");
  EXPECT_EQ(event("gig").available, 10u);
  // Largest accepted sizes, multibyte UTF-8 included.
  create_with_capacity(std::string(128, 'e'), 1);
  EXPECT_EQ(book(std::string(128, 'e'), std::string(64, 'u')).outcome, Outcome::booked);
  create_with_capacity("Konzert-\xc3\xa4", 1);
  EXPECT_EQ(book("Konzert-\xc3\xa4", "\xf0\x9f\x8e\xb5").outcome, Outcome::booked);
}

TEST_F(Book, AllOrNothingAcrossManyUsers) {
  create_with_capacity("gig", 10);
  std::uint32_t booked = 0;
  for (int i = 0; i < 20; ++i) {
    const BookResult r = book("gig", "user-" + std::to_string(i), 3);
    if (r.outcome == Outcome::booked) booked += 3;
  }
  EXPECT_EQ(booked, 9u);
  EXPECT_EQ(event("gig").available, 1u);
  sm_.check_invariants();
}

}  // namespace
}  // namespace admit::storage::testing
