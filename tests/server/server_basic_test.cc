// admitd over raw frames: the operations, pipelining, batches, routing to the
// owner shard from any port, hold expiry through the timer, clean shutdown.
#include <chrono>
#include <set>
#include <thread>

#include "protocol/reason.h"
#include "storage/state_machine.h"
#include "tests/server/server_test_support.h"

namespace admit::test {
namespace {

constexpr std::uint32_t shards = 2;

class AdmitdBasic : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new AdmitdProcess(admitd_options(shards)); }
  static void TearDownTestSuite() {
    expect_clean_stop(*server_);
    delete server_;
    server_ = nullptr;
  }
  static AdmitdProcess* server_;
};
AdmitdProcess* AdmitdBasic::server_ = nullptr;

TEST_F(AdmitdBasic, ReadyLineNamesAddressShardsAndDurability) {
  const std::string& line = server_->ready_line();
  EXPECT_EQ(line.rfind("admitd ready: " + server_->address(), 0), 0u) << line;
  EXPECT_NE(line.find("2 shards"), std::string::npos) << line;
  EXPECT_NE(line.find("durability off"), std::string::npos) << line;
}

TEST_F(AdmitdBasic, HelloAnswersShardCountAndTheShardBehindThePort) {
  WireClient base(server_->port());
  RequestFrame frame;
  frame.hello(7);
  const wire::Reply* reply = base.call(frame, 7);
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(outcome_of(reply), Outcome::ok) << describe(reply);
  ASSERT_NE(reply->result_as_HelloReply(), nullptr);
  EXPECT_EQ(reply->result_as_HelloReply()->version(), protocol_version);
  EXPECT_EQ(reply->result_as_HelloReply()->shards(), shards);
  EXPECT_EQ(reply->result_as_HelloReply()->shard(), -1);
  for (std::uint32_t shard = 0; shard < shards; ++shard) {
    WireClient own(server_->shard_port(shard));
    RequestFrame hello;
    hello.hello(8);
    const wire::Reply* answer = own.call(hello, 8);
    ASSERT_NE(answer, nullptr);
    EXPECT_EQ(answer->result_as_HelloReply()->shard(), static_cast<int>(shard));
  }
}

TEST_F(AdmitdBasic, CreateBookGetCancelOverRawFrames) {
  WireClient client(server_->port());
  RequestFrame create;
  create.create_event(1, "basic-concert", 10);
  const wire::Reply* created = client.call(create, 1);
  ASSERT_NE(created, nullptr);
  ASSERT_EQ(outcome_of(created), Outcome::ok) << describe(created);
  EXPECT_EQ(created->result_as_EventInfo()->capacity(), 10u);

  RequestFrame book;
  book.book(2, "basic-concert", "alice", 3);
  const wire::Reply* booked = client.call(book, 2);
  ASSERT_NE(booked, nullptr);
  ASSERT_EQ(outcome_of(booked), Outcome::booked) << describe(booked);
  const std::string ref(text_of(booked->result_as_BookReply()->ref()));
  ASSERT_EQ(ref.size(), booking_ref_size);

  RequestFrame get;
  get.get_booking(3, ref);
  const wire::Reply* got = client.call(get, 3);
  ASSERT_NE(got, nullptr);
  ASSERT_EQ(outcome_of(got), Outcome::ok) << describe(got);
  EXPECT_EQ(text_of(got->result_as_BookingInfo()->user()), "alice");
  EXPECT_EQ(got->result_as_BookingInfo()->seats(), 3u);
  EXPECT_EQ(got->result_as_BookingInfo()->state(), wire::BookingState::Confirmed);

  const wire::EventInfo* event = get_event(client, 4, "basic-concert");
  ASSERT_NE(event, nullptr);
  EXPECT_EQ(event->available(), 7u);
  EXPECT_EQ(event->confirmed(), 3u);

  RequestFrame cancel;
  cancel.cancel(5, ref);
  const wire::Reply* cancelled = client.call(cancel, 5);
  ASSERT_NE(cancelled, nullptr);
  EXPECT_EQ(outcome_of(cancelled), Outcome::ok) << describe(cancelled);
  const wire::EventInfo* after = get_event(client, 6, "basic-concert");
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(after->available(), 10u);
  EXPECT_EQ(after->confirmed(), 0u);
}

TEST_F(AdmitdBasic, PipelinedFramesInOneWriteAreAllAnsweredById) {
  WireClient client(server_->port());
  constexpr int events = 4;
  constexpr int users = 50;
  std::vector<std::uint8_t> burst;
  const auto append = [&burst](RequestFrame& frame) {
    const auto bytes = frame.bytes();
    burst.insert(burst.end(), bytes.begin(), bytes.end());
  };
  for (int e = 0; e < events; ++e) {
    RequestFrame create;
    create.create_event(1000 + e, "pipe-" + std::to_string(e), users);
    append(create);
  }
  for (int u = 0; u < users; ++u) {
    for (int e = 0; e < events; ++e) {
      RequestFrame book;
      book.book(2000 + u * events + e, "pipe-" + std::to_string(e), "user-" + std::to_string(u));
      append(book);
    }
  }
  ASSERT_TRUE(client.send(burst));
  std::set<std::string> refs;
  for (int i = 0; i < users * events; ++i) {
    const wire::Reply* reply = client.reply(2000 + i);
    ASSERT_NE(reply, nullptr) << "request " << 2000 + i;
    ASSERT_EQ(outcome_of(reply), Outcome::booked) << describe(reply);
    refs.insert(std::string(text_of(reply->result_as_BookReply()->ref())));
  }
  EXPECT_EQ(refs.size(), static_cast<std::size_t>(users * events));  // all distinct
  for (int e = 0; e < events; ++e) {
    const wire::EventInfo* event = get_event(client, 3000 + e, "pipe-" + std::to_string(e));
    ASSERT_NE(event, nullptr);
    EXPECT_EQ(event->available(), 0u);
  }
}

TEST_F(AdmitdBasic, BatchFrameOfManyRequestsGetsEveryAnswer) {
  WireClient client(server_->shard_port(0));
  RequestFrame create;
  create.create_event(1, "batch-hall", 1000);
  ASSERT_EQ(outcome_of(client.call(create, 1)), Outcome::ok);
  RequestFrame batch;
  constexpr int requests = 600;  // more than one ring turn, under frame_requests_max
  for (int i = 0; i < requests; ++i) batch.book(100 + i, "batch-hall", "u" + std::to_string(i));
  ASSERT_TRUE(client.send(batch));
  for (int i = 0; i < requests; ++i) {
    const wire::Reply* reply = client.reply(100 + i);
    ASSERT_NE(reply, nullptr);
    EXPECT_EQ(outcome_of(reply), Outcome::booked) << describe(reply);
  }
  const wire::EventInfo* event = get_event(client, 2, "batch-hall");
  ASSERT_NE(event, nullptr);
  EXPECT_EQ(event->confirmed(), static_cast<std::uint32_t>(requests));
}

// One frame sells out an event: the winner's reply carries its BookReply,
// every SOLD_OUT carries its reason and no result table (readers take a
// missing table as all defaults), and the counters are published once the
// turn ends.
TEST_F(AdmitdBasic, SoldOutRepliesCarryTheReasonAndNoResultTable) {
  WireClient client(server_->port());
  RequestFrame create;
  create.create_event(1, "sold-out-hall", 1);
  ASSERT_EQ(outcome_of(client.call(create, 1)), Outcome::ok);
  RequestFrame batch;
  constexpr int requests = 100;
  for (int i = 0; i < requests; ++i) batch.book(100 + i, "sold-out-hall", "s" + std::to_string(i));
  ASSERT_TRUE(client.send(batch));
  const wire::Reply* first = client.reply(100);
  ASSERT_NE(first, nullptr);
  ASSERT_EQ(outcome_of(first), Outcome::booked) << describe(first);
  ASSERT_NE(first->result_as_BookReply(), nullptr);
  EXPECT_EQ(text_of(first->result_as_BookReply()->ref()).size(), booking_ref_size);
  for (int i = 1; i < requests; ++i) {
    const wire::Reply* reply = client.reply(100 + i);
    ASSERT_NE(reply, nullptr) << "request " << 100 + i;
    ASSERT_EQ(outcome_of(reply), Outcome::sold_out) << describe(reply);
    EXPECT_EQ(reply->result_type(), wire::Result::NONE) << describe(reply);
    EXPECT_FALSE(text_of(reply->message()).empty());
  }
  const wire::EventInfo* event = get_event(client, 2, "sold-out-hall");
  ASSERT_NE(event, nullptr);
  EXPECT_EQ(event->available(), 0u);
  EXPECT_EQ(event->confirmed(), 1u);
}

// Whatever port a request arrives on, the owner answers: its own port (no
// hop), the base port and the other shard's port (forwarded over the rings).
TEST_F(AdmitdBasic, RequestsOnAnyPortGetTheOwnersAnswer) {
  for (std::uint32_t owner = 0; owner < shards; ++owner) {
    const std::string event = event_on_shard("route", owner, shards);
    const std::uint32_t other = (owner + 1) % shards;
    WireClient wrong(server_->shard_port(other));
    WireClient base(server_->port());
    WireClient right(server_->shard_port(owner));
    RequestFrame create;
    create.create_event(1, event, 3);
    ASSERT_EQ(outcome_of(wrong.call(create, 1)), Outcome::ok);

    RequestFrame first;
    first.book(2, event, "ann");
    const wire::Reply* booked = wrong.call(first, 2);
    ASSERT_EQ(outcome_of(booked), Outcome::booked) << describe(booked);
    const std::string ref(text_of(booked->result_as_BookReply()->ref()));
    EXPECT_EQ(BookingRef::parse(ref)->shard(), owner);

    RequestFrame again;
    again.book(3, event, "ann");
    const wire::Reply* already = base.call(again, 3);
    ASSERT_EQ(outcome_of(already), Outcome::already_booked) << describe(already);
    EXPECT_EQ(text_of(already->result_as_BookReply()->ref()), ref);

    RequestFrame confirm;  // routed by the shard inside the ref
    confirm.get_booking(4, ref);
    const wire::Reply* got = wrong.call(confirm, 4);
    ASSERT_EQ(outcome_of(got), Outcome::ok) << describe(got);
    EXPECT_EQ(text_of(got->result_as_BookingInfo()->user()), "ann");

    RequestFrame rest;
    rest.book(5, event, "bob", 2);
    ASSERT_EQ(outcome_of(right.call(rest, 5)), Outcome::booked);
    RequestFrame sold;
    sold.book(6, event, "cid");
    const wire::Reply* sold_out = base.call(sold, 6);
    EXPECT_EQ(outcome_of(sold_out), Outcome::sold_out) << describe(sold_out);
  }
  WireClient client(server_->port());
  RequestFrame stats;
  stats.stats(9);
  const wire::Reply* reply = client.call(stats, 9);
  ASSERT_EQ(outcome_of(reply), Outcome::ok);
  const auto* shard_stats = reply->result_as_StatsReply()->shards();
  ASSERT_EQ(shard_stats->size(), shards);
  std::uint64_t forwarded = 0;
  for (const auto* one : *shard_stats) forwarded += one->forwarded();
  EXPECT_GT(forwarded, 0u);
  EXPECT_EQ(text_of(reply->result_as_StatsReply()->durability()), "off");
}

// A BookBatch where its event's owner listens and where it must be
// forwarded: each item is answered as the Book it is, in order.
TEST_F(AdmitdBasic, BookBatchItemsAreAnsweredAsBooksOnAnyPort) {
  for (std::uint32_t owner = 0; owner < shards; ++owner) {
    for (const std::uint16_t port :
         {server_->shard_port(owner), server_->shard_port((owner + 1) % shards)}) {
      const std::string event = event_on_shard("batch-" + std::to_string(port), owner, shards);
      WireClient client(port);
      RequestFrame create;
      create.create_event(1, event, 3);
      ASSERT_EQ(outcome_of(client.call(create, 1)), Outcome::ok);
      RequestFrame batch;
      batch.book_batch(2, event,
                       {{"ann", 2, "r-" + event}, {"ann", 1}, {"bob", 0}, {"bob", 2}, {"cid", 1}});
      const wire::Reply* reply = client.call(batch, 2);
      ASSERT_EQ(outcome_of(reply), Outcome::ok) << describe(reply);
      const auto* answers = reply->result_as_BookBatchReply();
      ASSERT_NE(answers, nullptr);
      ASSERT_EQ(answers->items()->size(), 5u);
      const auto outcome = [&](unsigned i) {
        return from_wire(answers->items()->Get(i)->outcome());
      };
      EXPECT_EQ(outcome(0), Outcome::booked);
      EXPECT_EQ(answers->items()->Get(0)->seats(), 2u);
      const auto ref = BookingRef::of_bits(answers->items()->Get(0)->ref());
      ASSERT_TRUE(ref.has_value());
      EXPECT_EQ(ref->shard(), owner);
      EXPECT_EQ(outcome(1), Outcome::already_booked);
      EXPECT_EQ(answers->items()->Get(1)->ref(), answers->items()->Get(0)->ref());
      EXPECT_EQ(outcome(2), Outcome::invalid);
      EXPECT_EQ(reason_text(static_cast<Reason>(answers->items()->Get(2)->reason())),
                "seats: must be 1..1000000000");
      EXPECT_EQ(outcome(3), Outcome::sold_out);
      EXPECT_EQ(outcome(4), Outcome::booked);

      RequestFrame get;  // the ref names a booking like any other
      get.get_booking(3, ref->view());
      const wire::Reply* got = client.call(get, 3);
      ASSERT_EQ(outcome_of(got), Outcome::ok) << describe(got);
      EXPECT_EQ(text_of(got->result_as_BookingInfo()->user()), "ann");
    }
  }
}

TEST_F(AdmitdBasic, ListEventsMergesShardsInIdOrderWithACursor) {
  WireClient client(server_->port());
  std::vector<std::string> ids;
  RequestFrame creates;
  for (int i = 0; i < 23; ++i) {
    ids.push_back("list-" + std::string(1, static_cast<char>('a' + i)));
    creates.create_event(100 + i, ids.back(), 5);
  }
  ASSERT_TRUE(client.send(creates));
  for (int i = 0; i < 23; ++i) ASSERT_EQ(outcome_of(client.reply(100 + i)), Outcome::ok);

  std::vector<std::string> seen;
  std::string after = "list-";
  for (int page = 0; page < 10; ++page) {
    RequestFrame list;
    list.list_events(200 + page, after, 7);
    const wire::Reply* reply = client.call(list, 200 + page);
    ASSERT_EQ(outcome_of(reply), Outcome::ok) << describe(reply);
    const wire::EventList* events = reply->result_as_EventList();
    for (const auto* event : *events->events()) {
      const std::string id(text_of(event->id()));
      if (id.rfind("list-", 0) == 0) seen.push_back(id);
    }
    if (events->next_after() == nullptr) break;
    after = std::string(text_of(events->next_after()));
    if (after.rfind("list-", 0) != 0) break;  // past our events
  }
  EXPECT_EQ(seen, ids);
}

TEST_F(AdmitdBasic, ListBookingsPagesComeFromTheOwner) {
  const std::string event = event_on_shard("pages", 1, shards);
  WireClient client(server_->shard_port(0));  // not the owner: answers travel by pointer
  RequestFrame create;
  create.create_event(1, event, 100);
  ASSERT_EQ(outcome_of(client.call(create, 1)), Outcome::ok);
  RequestFrame books;
  for (int i = 0; i < 25; ++i) books.book(10 + i, event, "guest-" + std::to_string(i));
  ASSERT_TRUE(client.send(books));
  for (int i = 0; i < 25; ++i) ASSERT_EQ(outcome_of(client.reply(10 + i)), Outcome::booked);

  std::size_t listed = 0;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    RequestFrame list;
    list.list_bookings(100 + page, event, after, 10);
    const wire::Reply* reply = client.call(list, 100 + page);
    ASSERT_EQ(outcome_of(reply), Outcome::ok) << describe(reply);
    const wire::BookingList* bookings = reply->result_as_BookingList();
    listed += bookings->bookings()->size();
    if (bookings->next_after() == nullptr) break;
    after = std::string(text_of(bookings->next_after()));
  }
  EXPECT_EQ(listed, 25u);
}

// A hold of 200 ms expires through the owner's io_uring timer and the head
// of the waitlist is promoted to a hold of its own.
TEST_F(AdmitdBasic, HoldExpiresOnTheTimerAndTheWaitlistHeadIsPromoted) {
  const std::string event = event_on_shard("expiry", 1, shards);
  WireClient client(server_->port());
  RequestFrame create;
  create.create_event(1, event, 1, /*hold_ttl_ms=*/200, /*waitlist=*/true);
  ASSERT_EQ(outcome_of(client.call(create, 1)), Outcome::ok);
  RequestFrame hold;
  hold.book(2, event, "first", 1, /*hold=*/true);
  const wire::Reply* held = client.call(hold, 2);
  ASSERT_EQ(outcome_of(held), Outcome::held) << describe(held);
  const std::string ref(text_of(held->result_as_BookReply()->ref()));
  RequestFrame wait;
  wait.book(3, event, "second", 1, /*hold=*/true);
  const wire::Reply* waiting = client.call(wait, 3);
  ASSERT_EQ(outcome_of(waiting), Outcome::waitlisted) << describe(waiting);

  // Nobody touches the event meanwhile: only the timer can expire the hold.
  wire::BookingState state = wire::BookingState::Held;
  for (int poll = 0; poll < 400 && state == wire::BookingState::Held; ++poll) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    RequestFrame get;
    get.get_booking(1000 + poll, ref);
    const wire::Reply* got = client.call(get, 1000 + poll);
    ASSERT_EQ(outcome_of(got), Outcome::ok) << describe(got);
    state = got->result_as_BookingInfo()->state();
  }
  ASSERT_EQ(state, wire::BookingState::Expired);

  RequestFrame position;
  position.waitlist_position(4, event, "second");
  const wire::Reply* promoted = client.call(position, 4);
  ASSERT_EQ(outcome_of(promoted), Outcome::already_booked) << describe(promoted);
  const std::string new_ref(text_of(promoted->result_as_WaitlistInfo()->ref()));
  RequestFrame get;
  get.get_booking(5, new_ref);
  const wire::Reply* promoted_booking = client.call(get, 5);
  ASSERT_EQ(outcome_of(promoted_booking), Outcome::ok) << describe(promoted_booking);
  EXPECT_EQ(text_of(promoted_booking->result_as_BookingInfo()->user()), "second");
  const wire::EventInfo* info = get_event(client, 6, event);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->held() + info->confirmed(), 1u);
  EXPECT_EQ(info->waitlisted(), 0u);
}

// More holds fall due at once than one expiry step takes
// (storage::expire_steps_max): the timer takes the next step at once, and
// every hold is released without further traffic.
TEST_F(AdmitdBasic, ManyHoldsDueAtOnceAllExpireInBoundedSteps) {
  const std::string event = event_on_shard("mass-expiry", 0, shards);
  WireClient client(server_->port());
  RequestFrame create;
  create.create_event(1, event, 5000, /*hold_ttl_ms=*/300);
  ASSERT_EQ(outcome_of(client.call(create, 1)), Outcome::ok);
  constexpr int frames = 6, per_frame = 500;  // 3000 holds, ~3 steps
  static_assert(frames * per_frame > 2 * storage::expire_steps_max);
  for (int f = 0; f < frames; ++f) {
    RequestFrame batch;
    for (int i = 0; i < per_frame; ++i) {
      batch.book(100 + f * per_frame + i, event, "u" + std::to_string(f * per_frame + i), 1,
                 /*hold=*/true);
    }
    ASSERT_TRUE(client.send(batch));
    for (int i = 0; i < per_frame; ++i) {
      const wire::Reply* reply = client.reply(100 + f * per_frame + i);
      ASSERT_NE(reply, nullptr);
      ASSERT_EQ(outcome_of(reply), Outcome::held) << describe(reply);
    }
  }
  std::uint32_t held = frames * per_frame;
  for (int poll = 0; poll < 200 && held > 0; ++poll) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const wire::EventInfo* info = get_event(client, 10'000 + poll, event);
    ASSERT_NE(info, nullptr);
    held = info->held();
  }
  EXPECT_EQ(held, 0u);
}

// Clients on every port at once, all booking on events of both shards: the
// shards forward to each other in both directions at the same time. Every
// request is answered, and the published counters match the answers exactly.
TEST_F(AdmitdBasic, ConcurrentClientsOnAllPortsKeepCountersExact) {
  constexpr int events = 4;
  constexpr std::uint32_t capacity = 500;
  constexpr int clients = 6;
  constexpr int books_per_client = 300;
  {
    WireClient setup(server_->port());
    RequestFrame create;
    for (int e = 0; e < events; ++e)
      create.create_event(1 + e, "crowd-" + std::to_string(e), capacity);
    ASSERT_TRUE(setup.send(create));
    for (int e = 0; e < events; ++e) ASSERT_EQ(outcome_of(setup.reply(1 + e)), Outcome::ok);
  }
  std::vector<int> booked(events * clients, 0);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([c, &booked] {
      const std::uint16_t port = c % 3 == 0 ? server_->port() : server_->shard_port(c % 3 - 1);
      WireClient client(port);
      RequestFrame frame;
      for (int i = 0; i < books_per_client; ++i) {
        frame.book(1 + i, "crowd-" + std::to_string(i % events),
                   "c" + std::to_string(c) + "-" + std::to_string(i), 2);
      }
      ASSERT_TRUE(client.send(frame));
      for (int i = 0; i < books_per_client; ++i) {
        const wire::Reply* reply = client.reply(1 + i);
        ASSERT_NE(reply, nullptr);
        const Outcome outcome = outcome_of(reply);
        ASSERT_TRUE(outcome == Outcome::booked || outcome == Outcome::sold_out) << describe(reply);
        if (outcome == Outcome::booked) ++booked[c * events + i % events];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  WireClient client(server_->port());
  for (int e = 0; e < events; ++e) {
    std::uint32_t seats = 0;
    for (int c = 0; c < clients; ++c) seats += 2 * booked[c * events + e];
    const wire::EventInfo* info = get_event(client, 100 + e, "crowd-" + std::to_string(e));
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->confirmed(), seats);
    EXPECT_EQ(info->confirmed(), capacity);  // 450 attempts of 2 seats each: sold out
    EXPECT_EQ(info->available(), 0u);
  }
}

TEST(AdmitdShutdown, SigtermStopsCleanlyWithExitZero) {
  AdmitdProcess server(admitd_options(2));
  WireClient client(server.port());  // an open connection does not hold shutdown up
  RequestFrame hello;
  hello.hello(1);
  ASSERT_NE(client.call(hello, 1), nullptr) << server.output();
  expect_clean_stop(server);
  EXPECT_NE(server.output().find("admitd: stopped on SIGTERM"), std::string::npos)
      << server.output();
}

TEST(AdmitdShutdown, OneShardServesEverything) {
  AdmitdProcess server(admitd_options(1));
  WireClient client(server.shard_port(0));
  RequestFrame frame;
  frame.create_event(1, "solo", 2).book(2, "solo", "ann", 2).book(3, "solo", "bob");
  ASSERT_TRUE(client.send(frame));
  EXPECT_EQ(outcome_of(client.reply(1)), Outcome::ok);
  EXPECT_EQ(outcome_of(client.reply(2)), Outcome::booked);
  EXPECT_EQ(outcome_of(client.reply(3)), Outcome::sold_out);
  expect_clean_stop(server);
}

}  // namespace
}  // namespace admit::test
