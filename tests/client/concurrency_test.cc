// Stampedes over real sockets: separate clients on separate threads, each with
// its own connections, released together by a barrier. The server must admit
// exactly who fits, queue the rest in order, and its own counters must agree.
#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <set>
#include <thread>

#include "admit/client.h"
#include "tests/client/shared_server.h"
#include "tests/support/admitd_process.h"

namespace admit {
namespace {

constexpr int stampede_clients = 300;

class Stampede : public SharedServerTest {
 protected:
  static void create(std::string_view id, std::uint32_t capacity, bool waitlist) {
    Client client(options());
    const Result<EventInfo> r =
        client.create_event({.id = id, .capacity = capacity, .waitlist = waitlist});
    ASSERT_TRUE(r.ok()) << r.status().to_string();
  }

  // Runs `book(i, client)` on `count` threads at once. Each thread connects
  // (base and owner shard port) before the barrier, so the books race.
  template <typename Fn>
  static void run_together(int count, std::string_view event, Fn book) {
    std::barrier start(count);
    std::vector<std::thread> threads;
    threads.reserve(count);
    for (int i = 0; i < count; ++i) {
      threads.emplace_back([&, i] {
        Client client(options());
        const bool warmed = client.get_event(event).ok();
        start.arrive_and_wait();
        if (warmed) book(i, client);
      });
    }
    for (std::thread& t : threads) t.join();
  }
};

std::string user_name(int i) { return "user-" + std::to_string(i); }

TEST_F(Stampede, TenSeatEventAdmitsOneAndQueuesTheRestInOrder) {
  create("ten", 10, true);
  std::vector<Result<BookReply>> replies(stampede_clients);
  run_together(stampede_clients, "ten", [&](int i, Client& client) {
    replies[i] = client.book({.event = "ten", .user = user_name(i), .seats = 10});
  });
  int booked = -1, booked_count = 0;
  std::vector<std::uint32_t> positions;
  for (int i = 0; i < stampede_clients; ++i) {
    ASSERT_TRUE(replies[i].answered()) << replies[i].status().to_string();
    if (replies[i].outcome() == Outcome::booked) {
      booked = i;
      ++booked_count;
    } else {
      ASSERT_EQ(replies[i].outcome(), Outcome::waitlisted) << replies[i].status().to_string();
      positions.push_back(replies[i]->position);
    }
  }
  ASSERT_EQ(booked_count, 1);
  std::sort(positions.begin(), positions.end());
  for (std::size_t p = 0; p < positions.size(); ++p) ASSERT_EQ(positions[p], p + 1);

  Client client(options());
  const Result<EventInfo> event = client.get_event("ten");
  EXPECT_EQ(event->confirmed, 10u);
  EXPECT_EQ(event->available, 0u);
  EXPECT_EQ(event->waitlisted, static_cast<std::uint32_t>(stampede_clients - 1));
  const Result<BookingPage> bookings = client.list_bookings("ten", {}, 1000);
  ASSERT_EQ(bookings->bookings.size(), 1u);
  EXPECT_EQ(bookings->bookings[0].user, user_name(booked));
  EXPECT_EQ(bookings->bookings[0].ref, replies[booked]->ref);

  // Each waiting user's position, asked now, is the one they were told.
  int head = -1, second = -1;
  for (int i = 0; i < stampede_clients; ++i) {
    if (i == booked) continue;
    const Result<WaitlistInfo> w = client.waitlist_position("ten", user_name(i));
    ASSERT_EQ(w.outcome(), Outcome::waitlisted);
    EXPECT_EQ(w->position, replies[i]->position);
    if (w->position == 1) head = i;
    if (w->position == 2) second = i;
  }
  ASSERT_GE(head, 0);
  ASSERT_GE(second, 0);

  // Cancelling the booking promotes the head (its 10 seats fit), FIFO.
  ASSERT_EQ(client.cancel(replies[booked]->ref).outcome(), Outcome::ok);
  const Result<WaitlistInfo> promoted = client.waitlist_position("ten", user_name(head));
  ASSERT_EQ(promoted.outcome(), Outcome::already_booked) << promoted.status().to_string();
  const Result<BookingInfo> booking = client.get_booking(promoted->ref);
  EXPECT_EQ(booking->user, user_name(head));
  EXPECT_EQ(booking->seats, 10u);
  EXPECT_EQ(booking->state, BookingState::confirmed);
  EXPECT_EQ(client.waitlist_position("ten", user_name(second))->position, 1u);
  EXPECT_EQ(client.get_event("ten")->waitlisted, static_cast<std::uint32_t>(stampede_clients - 2));
}

TEST_F(Stampede, LastSeatGoesToExactlyOneOfTheOverflow) {
  constexpr std::uint32_t capacity = stampede_clients - 1;
  create("almost", capacity, true);
  std::vector<Result<BookReply>> replies(stampede_clients);
  run_together(stampede_clients, "almost", [&](int i, Client& client) {
    replies[i] = client.book({.event = "almost", .user = user_name(i)});
  });
  int booked = 0, waitlisted = 0;
  std::set<std::string> refs;
  for (const Result<BookReply>& r : replies) {
    ASSERT_TRUE(r.answered()) << r.status().to_string();
    if (r.outcome() == Outcome::booked) {
      ++booked;
      refs.insert(r->ref);
    } else {
      ASSERT_EQ(r.outcome(), Outcome::waitlisted);
      EXPECT_EQ(r->position, 1u);
      ++waitlisted;
    }
  }
  EXPECT_EQ(booked, static_cast<int>(capacity));
  EXPECT_EQ(waitlisted, 1);
  EXPECT_EQ(refs.size(), capacity);

  Client client(options());
  const Result<EventInfo> event = client.get_event("almost");
  EXPECT_EQ(event->confirmed, capacity);
  EXPECT_EQ(event->available, 0u);
  EXPECT_EQ(event->waitlisted, 1u);
  const Result<BookingPage> bookings = client.list_bookings("almost", {}, 1000);
  ASSERT_EQ(bookings->bookings.size(), capacity);
  std::set<std::string> users;
  for (const BookingInfo& b : bookings->bookings) users.insert(b.user);
  EXPECT_EQ(users.size(), capacity);
}

TEST_F(Stampede, RsvpWithRepeatsAdmitsTwoAndRepeatsGetTheSameRef) {
  constexpr int clients = 5, repeats = 4;
  create("rsvp", 2, false);
  std::vector<std::vector<Result<BookReply>>> replies(clients);
  run_together(clients, "rsvp", [&](int i, Client& client) {
    for (int k = 0; k < repeats; ++k) {
      replies[i].push_back(client.book({.event = "rsvp", .user = user_name(i)}));
    }
  });
  std::set<int> attendees;
  for (int i = 0; i < clients; ++i) {
    ASSERT_EQ(replies[i].size(), static_cast<std::size_t>(repeats));
    const Result<BookReply>& first = replies[i][0];
    if (first.outcome() == Outcome::booked) {
      attendees.insert(i);
      for (int k = 1; k < repeats; ++k) {
        EXPECT_EQ(replies[i][k].outcome(), Outcome::already_booked);
        EXPECT_EQ(replies[i][k]->ref, first->ref);
      }
    } else {
      for (const Result<BookReply>& r : replies[i]) {
        EXPECT_EQ(r.outcome(), Outcome::sold_out) << r.status().to_string();
      }
    }
  }
  EXPECT_EQ(attendees.size(), 2u);
  Client client(options());
  EXPECT_EQ(client.get_event("rsvp")->confirmed, 2u);
  const Result<BookingPage> bookings = client.list_bookings("rsvp");
  ASSERT_EQ(bookings->bookings.size(), 2u);
  for (const BookingInfo& b : bookings->bookings) {
    EXPECT_EQ(attendees.count(std::stoi(b.user.substr(5))), 1u) << b.user;
  }
}

TEST_F(Stampede, CancelPromotesTheWaitlistHead) {
  create("promote", 1, true);
  Client client(options());
  const Result<BookReply> first = client.book({.event = "promote", .user = "first"});
  ASSERT_EQ(first.outcome(), Outcome::booked);
  ASSERT_EQ(client.book({.event = "promote", .user = "second"})->position, 1u);
  ASSERT_EQ(client.book({.event = "promote", .user = "third"})->position, 2u);
  ASSERT_EQ(client.cancel(first->ref).outcome(), Outcome::ok);

  const Result<WaitlistInfo> second = client.waitlist_position("promote", "second");
  ASSERT_EQ(second.outcome(), Outcome::already_booked);
  const Result<BookingInfo> booking = client.get_booking(second->ref);
  EXPECT_EQ(booking->user, "second");
  EXPECT_EQ(booking->state, BookingState::confirmed);
  EXPECT_EQ(client.waitlist_position("promote", "third")->position, 1u);
  const Result<EventInfo> event = client.get_event("promote");
  EXPECT_EQ(event->confirmed, 1u);
  EXPECT_EQ(event->waitlisted, 1u);
}

}  // namespace
}  // namespace admit
