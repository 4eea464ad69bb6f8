// Every libadmit call against a real admitd (2 shards): sync and pipelined,
// shard-aware routing, idempotent retries, reconnects.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <thread>

#include "admit/async_client.h"
#include "admit/client.h"
#include "protocol/booking_ref.h"
#include "protocol/shard.h"
#include "tests/client/shared_server.h"
#include "tests/support/admitd_process.h"

namespace admit {
namespace {

class ClientServer : public SharedServerTest {
 protected:
  // A fresh event per test so tests never see each other's bookings.
  static std::string create(Client& client, std::string id, std::uint32_t capacity,
                            bool waitlist = false, std::uint32_t hold_ttl_ms = 0) {
    const Result<EventInfo> r = client.create_event(
        {.id = id, .capacity = capacity, .hold_ttl_ms = hold_ttl_ms, .waitlist = waitlist});
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return id;
  }
};

TEST_F(ClientServer, HelloLearnsTheShardCount) {
  Client client(options());
  const Result<HelloInfo> hello = client.connect();
  ASSERT_TRUE(hello.ok()) << hello.status().to_string();
  EXPECT_EQ(hello->shards, 2u);
  EXPECT_EQ(hello->shard, -1);
  EXPECT_EQ(hello->version, 1u);
}

TEST_F(ClientServer, EventLifecycle) {
  Client client(options());
  const Result<EventInfo> created = client.create_event(
      {.id = "life", .capacity = 10, .per_user_max = 4, .waitlist = true, .waitlist_max = 50});
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  EXPECT_EQ(created->id, "life");
  EXPECT_EQ(created->capacity, 10u);
  EXPECT_EQ(created->available, 10u);
  EXPECT_EQ(created->per_user_max, 4u);
  EXPECT_TRUE(created->waitlist);
  EXPECT_EQ(created->version, 1u);

  const Result<EventInfo> again = client.create_event({.id = "life", .capacity = 10});
  EXPECT_TRUE(again.answered());
  EXPECT_EQ(again.outcome(), Outcome::invalid);
  EXPECT_FALSE(again.message().empty());

  const Result<EventInfo> updated =
      client.update_event({.id = "life", .capacity = 12, .state = EventState::paused});
  ASSERT_TRUE(updated.ok()) << updated.status().to_string();
  EXPECT_EQ(updated->capacity, 12u);
  EXPECT_EQ(updated->state, EventState::paused);
  EXPECT_EQ(updated->version, 2u);

  const Result<EventInfo> got = client.get_event("life");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->capacity, 12u);
  EXPECT_EQ(got->state, EventState::paused);
  EXPECT_EQ(client.get_event("no-such-event").outcome(), Outcome::not_found);
  EXPECT_EQ(client.update_event({.id = "no-such-event", .capacity = 1}).outcome(),
            Outcome::not_found);
}

TEST_F(ClientServer, ListEventsPagesInIdOrder) {
  Client client(options());
  for (const char* id : {"list-a", "list-b", "list-c"}) create(client, id, 1);
  std::vector<std::string> seen;
  std::string after = "list-";
  for (int page = 0; page < 10; ++page) {
    const Result<EventPage> r = client.list_events(after, 2);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    for (const EventInfo& e : r->events) {
      if (e.id.rfind("list-", 0) == 0) seen.push_back(e.id);
    }
    if (r->next_after.empty()) break;
    after = r->next_after;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"list-a", "list-b", "list-c"}));
}

TEST_F(ClientServer, BookConfirmCancelAndReadBack) {
  Client client(options());
  const std::string event = create(client, "flow", 3, true, 60'000);
  const Result<BookReply> held =
      client.book({.event = event, .user = "ann", .seats = 2, .hold = true});
  ASSERT_EQ(held.outcome(), Outcome::held) << held.status().to_string();
  ASSERT_TRUE(BookingRef::parse(held->ref));
  EXPECT_EQ(held->seats, 2u);
  EXPECT_GT(held->expires_at_ms, 0);

  const Result<BookingInfo> confirmed = client.confirm(held->ref);
  ASSERT_EQ(confirmed.outcome(), Outcome::booked) << confirmed.status().to_string();
  const Result<BookingInfo> booking = client.get_booking(held->ref);
  ASSERT_TRUE(booking.ok());
  EXPECT_EQ(booking->event, event);
  EXPECT_EQ(booking->user, "ann");
  EXPECT_EQ(booking->seats, 2u);
  EXPECT_EQ(booking->state, BookingState::confirmed);

  EXPECT_EQ(client.book({.event = event, .user = "bob", .seats = 2}).outcome(),
            Outcome::waitlisted);
  const Result<WaitlistInfo> position = client.waitlist_position(event, "bob");
  EXPECT_EQ(position.outcome(), Outcome::waitlisted);
  EXPECT_EQ(position->position, 1u);
  EXPECT_EQ(client.waitlist_position(event, "nobody").outcome(), Outcome::not_found);

  const Result<BookingInfo> cancelled = client.cancel(held->ref);
  ASSERT_EQ(cancelled.outcome(), Outcome::ok) << cancelled.status().to_string();
  EXPECT_EQ(client.get_booking(held->ref)->state, BookingState::cancelled);
  // Bob was promoted: he holds a live booking now.
  const Result<WaitlistInfo> promoted = client.waitlist_position(event, "bob");
  EXPECT_EQ(promoted.outcome(), Outcome::already_booked);
  EXPECT_TRUE(BookingRef::parse(promoted->ref));

  const Result<BookingPage> page = client.list_bookings(event);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->bookings.size(), 2u);
  EXPECT_EQ(page->bookings[0].ref, held->ref);
  EXPECT_EQ(page->bookings[1].user, "bob");
  const BookingRef unknown = BookingRef::make(booking_serial_max, 0);
  EXPECT_EQ(client.confirm(unknown.view()).outcome(), Outcome::not_found);
}

TEST_F(ClientServer, LeaveWaitlistAndStats) {
  Client client(options());
  const std::string event = create(client, "leave", 1, true);
  EXPECT_EQ(client.book({.event = event, .user = "a"}).outcome(), Outcome::booked);
  EXPECT_EQ(client.book({.event = event, .user = "b"}).outcome(), Outcome::waitlisted);
  EXPECT_EQ(client.leave_waitlist(event, "b").outcome(), Outcome::ok);
  EXPECT_EQ(client.leave_waitlist(event, "b").outcome(), Outcome::not_found);
  EXPECT_EQ(client.get_event(event)->waitlisted, 0u);

  const Result<StatsInfo> stats = client.stats();
  ASSERT_TRUE(stats.ok()) << stats.status().to_string();
  EXPECT_EQ(stats->shards.size(), 2u);
  EXPECT_FALSE(stats->durability.empty());
  EXPECT_GT(stats->resident_bytes, 0u);
  EXPECT_GT(stats->cpu_user_us + stats->cpu_system_us, 0u);
  // The requests above arrived in receives and left in sends of earlier turns.
  std::uint64_t receives = 0, bytes_received = 0, sends = 0, bytes_sent = 0;
  for (const ShardStatsInfo& shard : stats->shards) {
    receives += shard.receives;
    bytes_received += shard.bytes_received;
    sends += shard.sends;
    bytes_sent += shard.bytes_sent;
  }
  EXPECT_GT(receives, 0u);
  EXPECT_GE(bytes_received, receives);
  EXPECT_GT(sends, 0u);
  EXPECT_GE(bytes_sent, sends);
}

TEST_F(ClientServer, RefusalsCarryTheirData) {
  Client client(options());
  const std::string event = create(client, "refusals", 1);
  EXPECT_EQ(client.book({.event = event, .user = "a"}).outcome(), Outcome::booked);
  const Result<BookReply> sold = client.book({.event = event, .user = "b"});
  EXPECT_TRUE(sold.answered());
  EXPECT_EQ(sold.outcome(), Outcome::sold_out);
  EXPECT_FALSE(sold.ok());
  EXPECT_EQ(client.book({.event = "nowhere", .user = "a"}).outcome(), Outcome::not_found);

  ASSERT_TRUE(
      client.create_event({.id = "later", .capacity = 5, .opens_at_ms = 4'000'000'000'000}).ok());
  const Result<BookReply> early = client.book({.event = "later", .user = "a"});
  EXPECT_EQ(early.outcome(), Outcome::not_open);
  EXPECT_GT(early->opens_in_ms, 0);
}

TEST_F(ClientServer, ShardAwareRoutingHitsTheOwnerPort) {
  Client client(options());
  ASSERT_TRUE(client.connect().ok());
  for (int i = 0; i < 8; ++i) {
    const std::string event = create(client, "route-" + std::to_string(i), 5);
    const std::uint32_t owner = owner_shard(event, 2);
    EXPECT_EQ(client.last_port(), server_->shard_port(owner));
    EXPECT_EQ(client.last_shard(), static_cast<std::int32_t>(owner));  // the server says so
    const Result<BookReply> booked = client.book({.event = event, .user = "u"});
    ASSERT_EQ(booked.outcome(), Outcome::booked);
    EXPECT_EQ(client.last_port(), server_->shard_port(owner));
    EXPECT_EQ(BookingRef::parse(booked->ref)->shard(), owner);
    ASSERT_TRUE(client.get_booking(booked->ref).ok());
    EXPECT_EQ(client.last_port(), server_->shard_port(owner));
  }
  ASSERT_TRUE(client.stats().ok());
  EXPECT_EQ(client.last_port(), server_->port());
}

TEST_F(ClientServer, WithoutShardAwarenessEverythingGoesToTheBasePort) {
  ClientOptions o = options();
  o.shard_aware = false;
  Client client(o);
  const std::string event = create(client, "base-only", 5);
  EXPECT_EQ(client.last_port(), server_->port());
  const Result<BookReply> booked = client.book({.event = event, .user = "u"});
  ASSERT_EQ(booked.outcome(), Outcome::booked) << booked.status().to_string();
  EXPECT_EQ(client.last_port(), server_->port());
  EXPECT_EQ(client.last_shard(), -1);
  EXPECT_TRUE(client.confirm(booked->ref).ok());
}

TEST_F(ClientServer, SameRequestIdReturnsTheSameAnswer) {
  Client client(options());
  const std::string event = create(client, "idempotent", 2);
  const std::string request_id = make_request_id();
  const Result<BookReply> first =
      client.book({.event = event, .user = "a", .seats = 2, .request_id = request_id});
  ASSERT_EQ(first.outcome(), Outcome::booked);
  // A retry (another connection, even) changes nothing and says the same.
  Client other(options());
  const Result<BookReply> retry =
      other.book({.event = event, .user = "a", .seats = 2, .request_id = request_id});
  EXPECT_EQ(retry.outcome(), Outcome::booked);
  EXPECT_EQ(retry->ref, first->ref);
  EXPECT_EQ(client.get_event(event)->confirmed, 2u);
  // Without the id, the same user is ALREADY_BOOKED with the same ref.
  const Result<BookReply> again = client.book({.event = event, .user = "a", .seats = 2});
  EXPECT_EQ(again.outcome(), Outcome::already_booked);
  EXPECT_EQ(again->ref, first->ref);
}

TEST_F(ClientServer, ReconnectsAfterTheServerRestarts) {
  ClientOptions o = options();
  o.retry_backoff = std::chrono::milliseconds(1);
  Client client(o);
  ASSERT_TRUE(create(client, "restart", 5) == "restart");
  server_->stop();
  // Down: a transport failure, not an answer. (The failed tries also close this
  // client's sockets, so the restarted server can bind the same ports again.)
  const Result<EventInfo> down = client.get_event("restart");
  EXPECT_FALSE(down.answered());
  EXPECT_TRUE(down.error() == ClientError::could_not_connect ||
              down.error() == ClientError::connection_lost)
      << down.status().to_string();
  server_->start();
  ASSERT_EQ(server_->port(), o.port) << "admitd came back on another port";
  // start() may return before the new process listens (it can see the old
  // process's ready line): wait for the port with a probe, not with `client`.
  for (int i = 0; i < 200 && !Client(options()).connect().ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // durability off: the event is gone, but the same client reconnects on its own.
  const Result<EventInfo> after = client.get_event("restart");
  ASSERT_TRUE(after.answered()) << after.status().to_string() << "\n" << server_->output();
  EXPECT_EQ(after.outcome(), Outcome::not_found);
  EXPECT_TRUE(create(client, "restart", 5) == "restart");
  EXPECT_EQ(client.book({.event = "restart", .user = "u"}).outcome(), Outcome::booked);
}

// ---- AsyncClient ----

TEST_F(ClientServer, AsyncPipelinesThousandsOfBooksAcrossManyFrames) {
  Client setup(options());
  const std::string event = create(setup, "async-flood", 1000);
  AsyncClient client(options());
  const Result<HelloInfo> hello = client.connect();
  ASSERT_TRUE(hello.ok()) << hello.status().to_string();
  constexpr int users = 3000;  // more than frame_requests_max: several frames
  std::map<Outcome, int> outcomes;
  std::set<std::string> refs;
  int answered = 0;
  int received_in_time = 0;
  std::vector<std::string> names;
  for (int i = 0; i < users; ++i) names.push_back("user-" + std::to_string(i));
  const auto submitted_at = std::chrono::steady_clock::now();
  for (const std::string& user : names) {
    const Status s =
        client.submit_book({.event = event, .user = user}, [&](const ReplyView& reply) {
          ++answered;
          ++outcomes[reply.outcome()];
          const BookReplyView book = reply.book_view();
          if (!book.ref.empty()) refs.emplace(book.ref);
          received_in_time += reply.received_at() >= submitted_at &&
                              reply.received_at() <= std::chrono::steady_clock::now();
        });
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  EXPECT_EQ(client.in_flight(), static_cast<std::size_t>(users));
  ASSERT_TRUE(client.flush().ok());
  for (int turn = 0; turn < 10'000 && client.in_flight() > 0; ++turn) {
    client.poll(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(answered, users);
  EXPECT_EQ(received_in_time, users);
  EXPECT_EQ(outcomes[Outcome::booked], 1000);
  EXPECT_EQ(outcomes[Outcome::sold_out], users - 1000);
  EXPECT_EQ(refs.size(), 1000u);
  EXPECT_EQ(setup.get_event(event)->available, 0u);
}

// Consecutive requests for one event share its id in the frame; a request for
// another event in between must still land on its own event.
TEST_F(ClientServer, AsyncBooksOfInterleavedEventsLandOnTheirOwnEvent) {
  Client setup(options());
  const std::string first = create(setup, "interleaved-first", 100);
  const std::string second = create(setup, "interleaved-second-with-a-longer-id", 100);
  ClientOptions single = options();
  single.shard_aware = false;  // one connection, so one frame holds them all
  AsyncClient client(single);
  ASSERT_TRUE(client.connect().ok());
  const std::vector<std::string> order = {first, first, second, first, second, second, first};
  std::vector<std::string> users;
  for (std::size_t i = 0; i < order.size(); ++i) users.push_back("u" + std::to_string(i));
  int booked = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    ASSERT_TRUE(client
                    .submit_book({.event = order[i], .user = users[i]},
                                 [&booked](const ReplyView& reply) {
                                   booked += reply.outcome() == Outcome::booked;
                                 })
                    .ok());
  }
  ASSERT_TRUE(client.flush().ok());
  for (int turn = 0; turn < 100 && client.in_flight() > 0; ++turn) {
    client.poll(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(booked, 7);
  EXPECT_EQ(setup.get_event(first)->confirmed, 4u);
  EXPECT_EQ(setup.get_event(second)->confirmed, 3u);
}

TEST_F(ClientServer, PollManyAnswersManyClientsAndTheirCallbacksMaySubmit) {
  Client setup(options());
  const std::string event = create(setup, "poll-many", 100);
  constexpr int clients_count = 8;
  constexpr int books_per_client = 50;
  std::vector<std::unique_ptr<AsyncClient>> clients;
  std::vector<AsyncClient*> polled;
  for (int c = 0; c < clients_count; ++c) {
    clients.push_back(std::make_unique<AsyncClient>(options()));
    const Result<HelloInfo> hello = clients.back()->connect();
    ASSERT_TRUE(hello.ok()) << hello.status().to_string();
    polled.push_back(clients.back().get());
  }
  EXPECT_EQ(AsyncClient::poll_many(polled, std::chrono::milliseconds(0)), 0u);  // none waiting
  EXPECT_EQ(AsyncClient::poll_many({}, std::chrono::milliseconds(100)), 0u);
  struct Tally {
    std::string event;
    std::map<Outcome, int> outcomes;
    std::vector<int> answered = std::vector<int>(clients_count, 0);
    int follow_ups = 0;
  } tally{event};
  std::vector<std::string> names;
  for (int i = 0; i < clients_count * books_per_client; ++i) {
    names.push_back("user-" + std::to_string(i));
  }
  for (int c = 0; c < clients_count; ++c) {
    for (int i = 0; i < books_per_client; ++i) {
      AsyncClient* next = polled[(c + 1) % clients_count];
      const Status s = clients[c]->submit_book(
          {.event = event, .user = names[c * books_per_client + i]},
          [t = &tally, c, i, next](const ReplyView& reply) {
            ++t->answered[c];
            ++t->outcomes[reply.outcome()];
            if (i != 0) return;
            // A callback may submit on another client; a later poll answers it.
            const Status again = next->submit_get_event(t->event, [t](const ReplyView& info) {
              EXPECT_EQ(info.outcome(), Outcome::ok);
              ++t->follow_ups;
            });
            EXPECT_TRUE(again.ok()) << again.to_string();
          });
      ASSERT_TRUE(s.ok()) << s.to_string();
    }
  }
  // No flush: poll_many flushes every client first.
  std::size_t ran = 0;
  const auto awaiting = [&] {
    std::size_t total = 0;
    for (const auto& client : clients) total += client->in_flight();
    return total;
  };
  for (int turn = 0; turn < 10'000 && awaiting() > 0; ++turn) {
    ran += AsyncClient::poll_many(polled, std::chrono::milliseconds(100));
  }
  EXPECT_EQ(awaiting(), 0u);
  EXPECT_EQ(ran, static_cast<std::size_t>(clients_count * (books_per_client + 1)));
  EXPECT_EQ(tally.answered, std::vector<int>(clients_count, books_per_client));
  EXPECT_EQ(tally.follow_ups, clients_count);
  EXPECT_EQ(tally.outcomes[Outcome::booked], 100);
  EXPECT_EQ(tally.outcomes[Outcome::sold_out], clients_count * books_per_client - 100);
  EXPECT_EQ(setup.get_event(event)->available, 0u);
}

TEST_F(ClientServer, AsyncCoversEveryOperation) {
  AsyncClient client(options());
  ASSERT_TRUE(client.connect().ok());
  std::vector<Status> statuses;
  std::string ref;
  auto record = [&statuses](const ReplyView& reply) { statuses.push_back(reply.status()); };
  auto drain = [&client] {
    for (int turn = 0; turn < 1000 && client.in_flight() > 0; ++turn) {
      client.poll(std::chrono::milliseconds(100));
    }
    return client.in_flight() == 0;
  };
  ASSERT_TRUE(client.submit_hello(record).ok());
  ASSERT_TRUE(
      client.submit_create_event({.id = "async-all", .capacity = 4, .waitlist = true}, record)
          .ok());
  ASSERT_TRUE(drain());
  ASSERT_TRUE(client
                  .submit_book({.event = "async-all", .user = "a", .seats = 4},
                               [&](const ReplyView& reply) {
                                 statuses.push_back(reply.status());
                                 ref = reply.book().ref;
                               })
                  .ok());
  ASSERT_TRUE(client.submit_book({.event = "async-all", .user = "b"}, record).ok());
  ASSERT_TRUE(drain());
  ASSERT_FALSE(ref.empty());
  ASSERT_TRUE(client.submit_update_event({.id = "async-all", .per_user_max = 4}, record).ok());
  ASSERT_TRUE(client.submit_get_event("async-all", record).ok());
  ASSERT_TRUE(client.submit_list_events("", 10, record).ok());
  ASSERT_TRUE(client.submit_confirm(ref, "", record).ok());
  ASSERT_TRUE(client.submit_get_booking(ref, record).ok());
  ASSERT_TRUE(client.submit_list_bookings("async-all", "", 10, record).ok());
  ASSERT_TRUE(client.submit_waitlist_position("async-all", "b", record).ok());
  ASSERT_TRUE(client.submit_leave_waitlist("async-all", "b", make_request_id(), record).ok());
  ASSERT_TRUE(client.submit_cancel(ref, make_request_id(), record).ok());
  ASSERT_TRUE(client.submit_stats(record).ok());
  ASSERT_TRUE(drain());
  ASSERT_EQ(statuses.size(), 14u);
  int waitlisted = 0;
  for (const Status& s : statuses) {
    EXPECT_TRUE(s.ok()) << s.to_string();
    waitlisted += s.outcome() == Outcome::waitlisted ? 1 : 0;
  }
  EXPECT_EQ(waitlisted, 2);  // b's booking, then b's position
}

}  // namespace
}  // namespace admit
