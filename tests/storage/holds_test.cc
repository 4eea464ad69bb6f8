// Confirm, Cancel, hold expiry, GetBooking and ListBookings.
#include "machine_helpers.h"

namespace admit::storage::testing {
namespace {

class Holds : public Machine {
 protected:
  Holds() { create("gig", {.capacity = 10, .hold_ttl_ms = 1000, .waitlist = true}); }
};

TEST_F(Holds, ConfirmBeforeExpiryBooks) {
  const BookResult held = hold("gig", "ann", 2);
  advance(999);
  const BookingResult result = confirm(held.ref);
  EXPECT_EQ(result.outcome, Outcome::booked);
  EXPECT_EQ(result.booking.state, BookingState::confirmed);
  EXPECT_EQ(result.booking.ref, held.ref);
  EXPECT_EQ(result.booking.user, "ann");
  EXPECT_EQ(result.booking.event, "gig");
  EXPECT_EQ(result.booking.seats, 2u);
  EXPECT_EQ(event("gig").held, 0u);
  EXPECT_EQ(event("gig").confirmed, 2u);
  EXPECT_EQ(sm_.next_expiry_ms(), std::nullopt);
}

TEST_F(Holds, ConfirmTwiceBooksAgainWithoutChange) {
  const BookResult held = hold("gig", "ann", 2);
  confirm(held.ref);
  const std::uint64_t changes = sm_.change_count();
  EXPECT_EQ(confirm(held.ref).outcome, Outcome::booked);
  EXPECT_EQ(sm_.change_count(), changes);
  EXPECT_EQ(confirm(book("gig", "bob").ref).outcome, Outcome::booked);  // confirmed at once
}

TEST_F(Holds, ConfirmAtExpiryExpiresTheHoldThere) {
  const BookResult held = hold("gig", "ann", 10);
  book("gig", "bob", 4);  // waitlisted
  advance(1000);
  const BookingResult result = confirm(held.ref);
  EXPECT_EQ(result.outcome, Outcome::invalid);
  EXPECT_EQ(reason_text(result.reason), "ref: hold expired");
  EXPECT_EQ(result.booking.state, BookingState::expired);
  EXPECT_EQ(state_of(held.ref), BookingState::expired);
  EXPECT_EQ(position("gig", "bob").outcome, Outcome::already_booked);  // promoted
  EXPECT_EQ(event("gig").held, 4u);
  sm_.check_invariants();
}

// expire() releases at most steps_max holds a call and says when more are
// due; the holds confirmed since do not count against the bound.
TEST_F(Holds, ExpireIsBoundedAndSaysWhenMoreIsDue) {
  std::vector<BookingRef> refs;
  for (const char* user : {"ann", "bob", "cat", "dan", "eve"})
    refs.push_back(hold("gig", user).ref);
  confirm(refs[0]);
  advance(1000);
  ExpireReport report = sm_.expire(now_ms_, 2);
  EXPECT_EQ(report.holds_expired, 2u);
  EXPECT_TRUE(report.more_due);
  EXPECT_EQ(event("gig").held, 2u);
  sm_.check_invariants();
  report = sm_.expire(now_ms_, 2);
  EXPECT_EQ(report.holds_expired, 2u);
  EXPECT_FALSE(report.more_due);
  EXPECT_EQ(event("gig").held, 0u);
  EXPECT_EQ(event("gig").confirmed, 1u);
  EXPECT_EQ(sm_.counters().held_seats, 0u);
  EXPECT_EQ(sm_.next_expiry_ms(), std::nullopt);
}

TEST_F(Holds, ConfirmOfCancelledOrExpiredIsInvalid) {
  const BookResult a = hold("gig", "ann");
  cancel(a.ref);
  EXPECT_EQ(confirm(a.ref).outcome, Outcome::invalid);
  EXPECT_EQ(reason_text(confirm(a.ref).reason), "ref: booking cancelled");
  const BookResult b = hold("gig", "bob");
  advance(1000);
  EXPECT_EQ(sm_.expire(now_ms_).holds_expired, 1u);
  EXPECT_EQ(reason_text(confirm(b.ref).reason), "ref: hold expired");
}

TEST_F(Holds, UnknownAndMalformedRefs) {
  EXPECT_EQ(confirm(BookingRef::make(1, 0)).outcome, Outcome::not_found);
  EXPECT_EQ(cancel(BookingRef::make(7, 0)).outcome, Outcome::not_found);
  EXPECT_EQ(sm_.confirm({"BK-1", {}}, now_ms_).outcome, Outcome::invalid);
  EXPECT_EQ(reason_text(sm_.confirm({"BK-1", {}}, now_ms_).reason), "ref: not a booking ref");
  EXPECT_EQ(reason_text(sm_.cancel({"hello world", {}}, now_ms_).reason), "ref: not a booking ref");
  EXPECT_EQ(sm_.get_booking("nope").outcome, Outcome::invalid);
  const BookResult a = hold("gig", "ann");
  EXPECT_EQ(sm_.get_booking(BookingRef::make(a.ref.serial(), 3).view()).outcome,
            Outcome::not_found);  // another shard's ref
  std::string lower(a.ref.view());
  for (char& c : lower) c = static_cast<char>(std::tolower(c));
  EXPECT_EQ(sm_.get_booking(lower).outcome, Outcome::ok);
}

TEST_F(Holds, CancelReleasesSeats) {
  const BookResult held = hold("gig", "ann", 3);
  const BookResult booked = book("gig", "bob", 4);
  EXPECT_EQ(cancel(held.ref).outcome, Outcome::ok);
  EXPECT_EQ(cancel(booked.ref).outcome, Outcome::ok);
  EXPECT_EQ(event("gig").available, 10u);
  EXPECT_EQ(state_of(held.ref), BookingState::cancelled);
  EXPECT_EQ(state_of(booked.ref), BookingState::cancelled);
  EXPECT_EQ(sm_.counters().live_bookings, 0u);
}

TEST_F(Holds, CancelTwiceIsOkWithoutChange) {
  const BookResult booked = book("gig", "ann", 4);
  cancel(booked.ref);
  const std::uint64_t changes = sm_.change_count();
  const BookingResult again = cancel(booked.ref);
  EXPECT_EQ(again.outcome, Outcome::ok);
  EXPECT_EQ(again.booking.state, BookingState::cancelled);
  EXPECT_EQ(sm_.change_count(), changes);
}

TEST_F(Holds, CancelOfExpiredHoldIsInvalid) {
  const BookResult held = hold("gig", "ann");
  advance(1000);
  sm_.expire(now_ms_);
  EXPECT_EQ(cancel(held.ref).outcome, Outcome::invalid);
  EXPECT_EQ(reason_text(cancel(held.ref).reason), "ref: hold expired");
}

TEST_F(Holds, CancelPastExpiryBeforeTheTimerExpiresTheHold) {
  const BookResult held = hold("gig", "ann");
  advance(1000);
  EXPECT_EQ(reason_text(cancel(held.ref).reason), "ref: hold expired");
  EXPECT_EQ(state_of(held.ref), BookingState::expired);
  EXPECT_EQ(event("gig").held, 0u);
  EXPECT_EQ(sm_.expire(now_ms_).holds_expired, 0u);
}

TEST_F(Holds, ExpireReleasesDueHoldsOnly) {
  const BookResult a = hold("gig", "ann");
  advance(10);
  const BookResult b = hold("gig", "bob");
  EXPECT_EQ(sm_.next_expiry_ms(), t0_ms + 1000);
  EXPECT_EQ(sm_.expire(t0_ms + 999).holds_expired, 0u);
  EXPECT_EQ(sm_.expire(t0_ms + 1000).holds_expired, 1u);
  EXPECT_EQ(state_of(a.ref), BookingState::expired);
  EXPECT_EQ(state_of(b.ref), BookingState::held);
  EXPECT_EQ(sm_.next_expiry_ms(), t0_ms + 1010);
  confirm(b.ref);
  EXPECT_EQ(sm_.next_expiry_ms(), std::nullopt);
  EXPECT_EQ(sm_.expire(t0_ms + 5000).holds_expired, 0u);
  EXPECT_EQ(state_of(b.ref), BookingState::confirmed);
}

TEST_F(Holds, AUserMayBookAgainAfterTheirHoldExpired) {
  const BookResult a = hold("gig", "ann");
  advance(1000);
  sm_.expire(now_ms_);
  const BookResult again = hold("gig", "ann");
  EXPECT_EQ(again.outcome, Outcome::held);
  EXPECT_NE(again.ref, a.ref);
}

TEST_F(Holds, ListBookingsPagesInCreationOrderWithEveryState) {
  std::vector<BookingRef> refs;
  for (int i = 0; i < 5; ++i) refs.push_back(hold("gig", "u" + std::to_string(i)).ref);
  create_with_capacity("other", 5);
  book("other", "u0");
  cancel(refs[1]);
  BookingPage page = sm_.list_bookings("gig", "", 2);
  ASSERT_EQ(page.outcome, Outcome::ok);
  ASSERT_EQ(page.bookings.size(), 2u);
  EXPECT_EQ(page.bookings[0].ref, refs[0]);
  EXPECT_EQ(page.bookings[1].state, BookingState::cancelled);
  ASSERT_TRUE(page.next_after.has_value());
  page = sm_.list_bookings("gig", page.next_after->view(), 2);
  EXPECT_EQ(page.bookings[0].ref, refs[2]);
  page = sm_.list_bookings("gig", page.next_after->view(), 2);
  ASSERT_EQ(page.bookings.size(), 1u);
  EXPECT_EQ(page.bookings[0].ref, refs[4]);
  EXPECT_FALSE(page.next_after.has_value());
  EXPECT_EQ(sm_.list_bookings("gig", "", 0).bookings.size(), 5u);
}

TEST_F(Holds, ListBookingsRefusesBadArguments) {
  const BookResult a = hold("gig", "ann");
  create_with_capacity("other", 5);
  const BookResult b = book("other", "ann");
  EXPECT_EQ(reason_text(sm_.list_bookings("gig", "", 1001).reason), "limit: must be at most 1000");
  EXPECT_EQ(reason_text(sm_.list_bookings("gig", "junk", 10).reason), "after: unknown cursor");
  EXPECT_EQ(reason_text(sm_.list_bookings("gig", b.ref.view(), 10).reason),
            "after: unknown cursor");
  EXPECT_EQ(sm_.list_bookings("gig", BookingRef::make(99, 0).view(), 10).outcome, Outcome::invalid);
  EXPECT_EQ(sm_.list_bookings("nope", "", 10).outcome, Outcome::not_found);
  EXPECT_EQ(sm_.list_bookings("gig", a.ref.view(), 10).bookings.size(), 0u);
}

}  // namespace
}  // namespace admit::storage::testing
