// Waitlists: joining, strict FIFO promotion, positions and leaving.
#include "machine_helpers.h"

namespace admit::storage::testing {
namespace {

class Waitlist : public Machine {
 protected:
  // A sold-out event of 4 seats with a waitlist; `ann` holds all 4.
  void sold_out_event(std::uint32_t hold_ttl_ms = 0) {
    create("gig", {.capacity = 4, .hold_ttl_ms = hold_ttl_ms, .waitlist = true});
    ann_ = hold_ttl_ms > 0 ? hold("gig", "ann", 4).ref : book("gig", "ann", 4).ref;
  }
  BookResult book_with(std::string_view user, std::uint32_t seats, WaitlistChoice choice) {
    return book({.event = "gig", .user = user, .seats = seats, .waitlist = choice});
  }
  BookingRef ann_;
};

TEST_F(Waitlist, JoinsWithOneBasedPositions) {
  sold_out_event();
  const BookResult bob = book("gig", "bob", 2);
  EXPECT_EQ(bob.outcome, Outcome::waitlisted);
  EXPECT_EQ(bob.position, 1u);
  EXPECT_EQ(bob.seats, 2u);
  EXPECT_EQ(book("gig", "cat", 1).position, 2u);
  EXPECT_EQ(event("gig").waitlisted, 2u);
  const WaitlistResult where = position("gig", "cat");
  EXPECT_EQ(where.outcome, Outcome::waitlisted);
  EXPECT_EQ(where.position, 2u);
  EXPECT_EQ(where.seats, 1u);
  EXPECT_EQ(where.length, 2u);
}

TEST_F(Waitlist, BookingAgainWhileWaitingReportsThePositionUnchanged) {
  sold_out_event();
  book("gig", "bob", 2);
  const std::uint64_t changes = sm_.change_count();
  const BookResult again = book("gig", "bob", 3);
  EXPECT_EQ(again.outcome, Outcome::waitlisted);
  EXPECT_EQ(again.position, 1u);
  EXPECT_EQ(again.seats, 2u);
  EXPECT_EQ(sm_.change_count(), changes);
}

TEST_F(Waitlist, NeverAndDefaultWithoutWaitlistAreSoldOut) {
  sold_out_event();
  EXPECT_EQ(book_with("bob", 1, WaitlistChoice::never).outcome, Outcome::sold_out);
  create_with_capacity("plain", 0);
  update("plain", {.per_user_max = 1});
  EXPECT_EQ(book("plain", "bob").outcome, Outcome::sold_out);
  EXPECT_EQ(book({.event = "plain", .user = "bob", .waitlist = WaitlistChoice::join}).outcome,
            Outcome::invalid);
  EXPECT_TRUE(
      reason_text(book({.event = "plain", .user = "bob", .waitlist = WaitlistChoice::join}).reason)
          .starts_with("waitlist:"));
  EXPECT_EQ(book_with("bob", 1, WaitlistChoice::join).outcome, Outcome::waitlisted);
}

TEST_F(Waitlist, FullWaitlistIsSoldOut) {
  sold_out_event();
  update("gig", {.waitlist_max = 2});
  book("gig", "bob");
  book("gig", "cat");
  EXPECT_EQ(book("gig", "dan").outcome, Outcome::sold_out);
  update("gig", {.waitlist_max = 1});  // lowering keeps who is there
  EXPECT_EQ(event("gig").waitlisted, 2u);
  EXPECT_EQ(event("gig").config.waitlist_max, 1u);
}

TEST_F(Waitlist, NobodyJumpsANonEmptyQueue) {
  sold_out_event();
  book("gig", "bob", 3);
  cancel(ann_);  // bob promoted: 1 seat left
  EXPECT_EQ(position("gig", "bob").outcome, Outcome::already_booked);
  book("gig", "cat", 1);  // fits: booked
  const BookResult dan = book("gig", "dan", 2);
  EXPECT_EQ(dan.outcome, Outcome::waitlisted);
  update("gig", {.capacity = 5});  // 1 seat free, dan needs 2: stays head
  EXPECT_EQ(event("gig").available, 1u);
  const BookResult eve = book("gig", "eve", 1);
  EXPECT_EQ(eve.outcome, Outcome::waitlisted);  // would fit, but dan is first
  EXPECT_EQ(eve.position, 2u);
  sm_.check_invariants();
}

TEST_F(Waitlist, PromotesHeadOnCancel) {
  sold_out_event();
  book("gig", "bob", 2);
  book("gig", "cat", 2);
  book("gig", "dan", 1);
  EXPECT_EQ(cancel(ann_).outcome, Outcome::ok);
  EXPECT_EQ(position("gig", "bob").outcome, Outcome::already_booked);
  EXPECT_EQ(position("gig", "cat").outcome, Outcome::already_booked);
  EXPECT_EQ(position("gig", "dan").position, 1u);
  EXPECT_EQ(event("gig").confirmed, 4u);  // no holds on this event: confirmed
  EXPECT_EQ(event("gig").waitlisted, 1u);
  sm_.check_invariants();
}

TEST_F(Waitlist, PromotionStopsAtTheFirstHeadThatDoesNotFit) {
  create("gig", {.capacity = 4, .waitlist = true});
  const BookingRef a = book("gig", "ann", 2).ref;
  book("gig", "amy", 2);
  book("gig", "bob", 3);
  book("gig", "cat", 1);
  cancel(a);  // 2 free: bob (3) does not fit, cat (1) would but waits behind bob
  EXPECT_EQ(event("gig").available, 2u);
  EXPECT_EQ(position("gig", "bob").position, 1u);
  EXPECT_EQ(position("gig", "cat").position, 2u);
  sm_.check_invariants();
}

TEST_F(Waitlist, PromotesHeadWhenHoldExpires) {
  sold_out_event(1000);
  book("gig", "bob", 4);
  advance(1000);
  EXPECT_EQ(sm_.expire(now_ms_).holds_expired, 1u);
  const WaitlistResult bob = position("gig", "bob");
  EXPECT_EQ(bob.outcome, Outcome::already_booked);
  const BookingView booking = sm_.get_booking(bob.ref.view()).booking;
  EXPECT_EQ(booking.state, BookingState::held);  // the event uses holds
  EXPECT_EQ(booking.expires_at_ms, now_ms_ + 1000);
  EXPECT_EQ(booking.created_at_ms, now_ms_);
  EXPECT_EQ(sm_.next_expiry_ms(), now_ms_ + 1000);
  EXPECT_EQ(confirm(bob.ref).outcome, Outcome::booked);
}

TEST_F(Waitlist, PromotesWhenCapacityIsRaised) {
  sold_out_event();
  book("gig", "bob", 2);
  book("gig", "cat", 2);
  update("gig", {.capacity = 7});
  EXPECT_EQ(position("gig", "bob").outcome, Outcome::already_booked);
  EXPECT_EQ(position("gig", "cat").position, 1u);
  EXPECT_EQ(event("gig").available, 1u);
}

TEST_F(Waitlist, PromotesWhenTheHeadLeaves) {
  create("gig", {.capacity = 4, .waitlist = true});
  const BookingRef a = book("gig", "ann", 3).ref;
  book("gig", "bob", 3);
  book("gig", "cat", 1);
  book("gig", "dan", 2);
  cancel(a);  // 4 free: bob (3) and cat (1) promoted, dan (2) does not fit
  EXPECT_EQ(event("gig").available, 0u);
  EXPECT_EQ(position("gig", "cat").outcome, Outcome::already_booked);
  book("gig", "eve", 2);
  EXPECT_EQ(position("gig", "dan").position, 1u);
  update("gig", {.capacity = 5});  // 1 free, dan needs 2
  const WaitlistResult left = leave("gig", "dan");
  EXPECT_EQ(left.outcome, Outcome::ok);
  EXPECT_EQ(left.position, 1u);
  EXPECT_EQ(left.seats, 2u);
  EXPECT_EQ(position("gig", "eve").position, 1u);  // eve needs 2, 1 free: waits
  update("gig", {.capacity = 6});
  EXPECT_EQ(position("gig", "eve").outcome, Outcome::already_booked);
  sm_.check_invariants();
}

TEST_F(Waitlist, LeavingFromTheMiddleKeepsTheOrder) {
  sold_out_event();
  for (const char* user : {"b", "c", "d", "e"}) book("gig", user, 1);
  EXPECT_EQ(leave("gig", "c").outcome, Outcome::ok);
  EXPECT_EQ(position("gig", "b").position, 1u);
  EXPECT_EQ(position("gig", "d").position, 2u);
  EXPECT_EQ(position("gig", "e").position, 3u);
  EXPECT_EQ(position("gig", "e").length, 3u);
  EXPECT_EQ(position("gig", "c").outcome, Outcome::not_found);
  EXPECT_EQ(leave("gig", "c").outcome, Outcome::not_found);
  EXPECT_EQ(leave("gig", "ann").outcome, Outcome::not_found);  // booked, not waiting
  EXPECT_EQ(leave("nope", "c").outcome, Outcome::not_found);
  EXPECT_EQ(leave("gig", "").outcome, Outcome::invalid);
}

TEST_F(Waitlist, TurningTheWaitlistOffKeepsEntriesButAdmitsNoOne) {
  sold_out_event();
  book("gig", "bob", 1);
  update("gig", {.waitlist = false});
  EXPECT_EQ(book("gig", "cat", 1).outcome, Outcome::sold_out);
  EXPECT_EQ(position("gig", "bob").position, 1u);
  cancel(ann_);
  EXPECT_EQ(position("gig", "bob").outcome, Outcome::already_booked);
}

TEST_F(Waitlist, PromotionHappensWhilePausedOrClosed) {
  sold_out_event();
  book("gig", "bob", 1);
  update("gig", {.state = EventState::closed});
  cancel(ann_);
  EXPECT_EQ(position("gig", "bob").outcome, Outcome::already_booked);
}

TEST_F(Waitlist, OverUserLimitIsCheckedBeforeJoining) {
  create("gig", {.capacity = 0, .per_user_max = 2, .waitlist = true});
  EXPECT_EQ(book("gig", "bob", 3).outcome, Outcome::over_user_limit);
  EXPECT_EQ(event("gig").waitlisted, 0u);
}

TEST_F(Waitlist, PositionOfStrangersIsNotFound) {
  sold_out_event();
  EXPECT_EQ(position("gig", "zed").outcome, Outcome::not_found);
  EXPECT_EQ(position("nope", "zed").outcome, Outcome::not_found);
  EXPECT_EQ(position("gig", "").outcome, Outcome::invalid);
  EXPECT_EQ(position("gig", "ann").outcome, Outcome::already_booked);
  EXPECT_EQ(position("gig", "ann").ref, ann_);
}

}  // namespace
}  // namespace admit::storage::testing
