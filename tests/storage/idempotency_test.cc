// Request ids: replays, conflicts, what is remembered and for how long.
#include "machine_helpers.h"

namespace admit::storage::testing {
namespace {

class Idempotency : public Machine {
 protected:
  explicit Idempotency(Options options = {}) : Machine(options) {
    create("gig", {.capacity = 4, .hold_ttl_ms = 1000, .waitlist = true});
  }
  BookResult book_as(std::string_view request_id, std::string_view user, std::uint32_t seats = 1,
                     bool hold = false) {
    return book(
        {.event = "gig", .user = user, .seats = seats, .hold = hold, .request_id = request_id});
  }
};

TEST_F(Idempotency, RetryReturnsTheOriginalAnswerAndChangesNothing) {
  const BookResult first = book_as("r1", "ann", 2, true);
  ASSERT_EQ(first.outcome, Outcome::held);
  const std::string before = sm_.dump();
  advance(10);
  const BookResult retry = book_as("r1", "ann", 2, true);
  EXPECT_EQ(retry.outcome, Outcome::held);
  EXPECT_EQ(retry.ref, first.ref);
  EXPECT_EQ(retry.seats, 2u);
  EXPECT_EQ(retry.expires_at_ms, first.expires_at_ms);
  EXPECT_EQ(sm_.dump(), before);
}

TEST_F(Idempotency, RetryAfterCancelStillAnswersHeld) {
  const BookResult first = book_as("r1", "ann", 2, true);
  cancel(first.ref);
  const BookResult retry = book_as("r1", "ann", 2, true);
  EXPECT_EQ(retry.outcome, Outcome::held);
  EXPECT_EQ(retry.ref, first.ref);
  EXPECT_EQ(event("gig").held, 0u);
}

TEST_F(Idempotency, RefusalsThatAreDecisionsAreRemembered) {
  book("gig", "amy", 4);
  EXPECT_EQ(book({.event = "gig",
                  .user = "bob",
                  .waitlist = WaitlistChoice::never,
                  .request_id = "r-sold"})
                .outcome,
            Outcome::sold_out);
  update("gig", {.capacity = 10});
  // Seats are free now, but the request was answered.
  EXPECT_EQ(book({.event = "gig",
                  .user = "bob",
                  .waitlist = WaitlistChoice::never,
                  .request_id = "r-sold"})
                .outcome,
            Outcome::sold_out);
  update("gig", {.state = EventState::paused});
  EXPECT_EQ(book_as("r-paused", "cat").outcome, Outcome::not_open);
  update("gig", {.state = EventState::open});
  EXPECT_EQ(book_as("r-paused", "cat").outcome, Outcome::not_open);
  EXPECT_EQ(reason_text(book_as("r-paused", "cat").reason), "event is paused");
}

TEST_F(Idempotency, ValidationNotFoundAndRateLimitsAreNotRemembered) {
  EXPECT_EQ(book({.event = "nope", .user = "ann", .request_id = "r1"}).outcome, Outcome::not_found);
  create("nope", {.capacity = 1});
  EXPECT_EQ(book({.event = "nope", .user = "ann", .request_id = "r1"}).outcome, Outcome::booked);
  EXPECT_EQ(book_as("r2", "bob", 1, true).outcome, Outcome::held);
  create("no-holds", {.capacity = 1});
  EXPECT_EQ(book({.event = "no-holds", .user = "x", .hold = true, .request_id = "r3"}).outcome,
            Outcome::invalid);
  EXPECT_EQ(book({.event = "no-holds", .user = "x", .request_id = "r3"}).outcome, Outcome::booked);
}

TEST_F(Idempotency, SameIdWithOtherParametersIsInvalid) {
  const BookResult first = book_as("r1", "ann", 2);
  const auto conflict = [](auto result) {
    EXPECT_EQ(result.outcome, Outcome::invalid);
    EXPECT_EQ(reason_text(result.reason), "request_id: reused with different parameters");
  };
  conflict(book_as("r1", "ann", 3));
  conflict(book_as("r1", "bob", 2));
  create("other", {.capacity = 4});
  conflict(book({.event = "other", .user = "ann", .seats = 2, .request_id = "r1"}));
  conflict(cancel(first.ref, "r1"));
  conflict(leave("gig", "ann", "r1"));
  EXPECT_EQ(event("gig").confirmed, 2u);
}

TEST_F(Idempotency, ConfirmAndCancelReplayTheBookingAsItWas) {
  const BookResult held = hold("gig", "ann", 2);
  const BookingResult confirmed = confirm(held.ref, "c1");
  EXPECT_EQ(confirmed.booking.state, BookingState::confirmed);
  const BookingResult cancelled = cancel(held.ref, "x1");
  EXPECT_EQ(cancelled.booking.state, BookingState::cancelled);
  const BookingResult replay = confirm(held.ref, "c1");
  EXPECT_EQ(replay.outcome, Outcome::booked);
  EXPECT_EQ(replay.booking.state, BookingState::confirmed);  // as answered then
  EXPECT_EQ(replay.booking.ref, held.ref);
  EXPECT_EQ(replay.booking.user, "ann");
  EXPECT_EQ(replay.booking.seats, 2u);
  EXPECT_EQ(cancel(held.ref, "x1").outcome, Outcome::ok);
  // An answer refused because of state is final too.
  EXPECT_EQ(reason_text(confirm(held.ref, "c2").reason), "ref: booking cancelled");
  EXPECT_EQ(reason_text(confirm(held.ref, "c2").reason), "ref: booking cancelled");
  const BookResult other = hold("gig", "bob");
  EXPECT_EQ(reason_text(confirm(other.ref, "c1").reason),
            "request_id: reused with different parameters");
}

TEST_F(Idempotency, UnknownRefIsNotRemembered) {
  EXPECT_EQ(cancel(BookingRef::make(1, 0), "x").outcome, Outcome::not_found);
  const BookResult held = hold("gig", "ann");
  EXPECT_EQ(cancel(held.ref, "x").outcome, Outcome::ok);
}

TEST_F(Idempotency, LeaveWaitlistIsReplayed) {
  book("gig", "amy", 4);
  book("gig", "bob", 1);
  book("gig", "cat", 1);
  const WaitlistResult left = leave("gig", "bob", "l1");
  EXPECT_EQ(left.outcome, Outcome::ok);
  book("gig", "bob", 1);  // joins again, at the back
  const WaitlistResult replay = leave("gig", "bob", "l1");
  EXPECT_EQ(replay.outcome, Outcome::ok);
  EXPECT_EQ(replay.position, left.position);
  EXPECT_EQ(position("gig", "bob").position, 2u);  // still waiting: nothing changed
  EXPECT_EQ(leave("gig", "zed", "l2").outcome, Outcome::not_found);
  EXPECT_EQ(leave("gig", "bob", "l2").outcome, Outcome::ok);
}

TEST_F(Idempotency, RememberingBumpsTheChangeCount) {
  book("gig", "amy", 4);
  book({.event = "gig", .user = "bob", .waitlist = WaitlistChoice::never});
  const std::uint64_t changes = sm_.change_count();
  book({.event = "gig", .user = "bob", .waitlist = WaitlistChoice::never, .request_id = "r"});
  EXPECT_GT(sm_.change_count(), changes);
}

class IdempotencyRetention : public Idempotency {
 protected:
  IdempotencyRetention()
      : Idempotency(Options{.request_ids_max = 2, .request_id_retention_ms = 1000}) {}
};

TEST_F(IdempotencyRetention, OldestIsForgottenPastTheCount) {
  const BookResult a = book_as("r1", "ann");
  book_as("r2", "bob");
  book_as("r3", "cat");  // forgets r1
  cancel(a.ref);
  // r1 is a new request now: ann books again.
  const BookResult again = book_as("r1", "ann");
  EXPECT_EQ(again.outcome, Outcome::booked);
  EXPECT_NE(again.ref, a.ref);
  EXPECT_EQ(book_as("r3", "cat").ref, BookingRef::make(3, 0));
}

TEST_F(IdempotencyRetention, ExpireForgetsPastTheRetention) {
  const BookResult a = book_as("r1", "ann");
  advance(500);
  book_as("r2", "bob");
  cancel(a.ref);
  sm_.expire(t0_ms + 999);
  EXPECT_EQ(book_as("r1", "ann").ref, a.ref);  // still remembered
  const std::uint64_t changes = sm_.change_count();
  sm_.expire(t0_ms + 1000);
  EXPECT_GT(sm_.change_count(), changes);
  EXPECT_NE(book_as("r1", "ann").ref, a.ref);                // forgotten: a new booking
  EXPECT_EQ(book_as("r2", "bob").outcome, Outcome::booked);  // r2 kept until t0 + 1500
}

}  // namespace
}  // namespace admit::storage::testing
