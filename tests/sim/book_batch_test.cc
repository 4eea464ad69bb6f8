// A BookBatch is its items applied as Books: each item's answer, the log and
// the final state equal those of the same Books sent one by one, and a
// forwarded batch comes back whole, its copy freed with its answer.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "protocol/framing.h"
#include "protocol/shard.h"
#include "server/shard_core_impl.h"
#include "tests/sim/sim_log.h"

namespace admit::sim {
namespace {

using server::BookBatchRecord;
using server::ShardCommand;
using server::ShardResult;
using Core = server::ShardCore<SimLog>;

constexpr std::int64_t now_ms = 1'700'000'000'000;

struct Item {
  Item(std::string user_in, std::uint32_t seats_in = 1, std::string request_id_in = {},
       bool hold_in = false, wire::WaitlistChoice waitlist_in = wire::WaitlistChoice::Default)
      : user(std::move(user_in)),
        seats(seats_in),
        request_id(std::move(request_id_in)),
        hold(hold_in),
        waitlist(waitlist_in) {}
  std::string user;
  std::uint32_t seats;
  std::string request_id;
  bool hold;
  wire::WaitlistChoice waitlist;
};

// The record a decoder would make of `items` (texts back to back).
std::unique_ptr<BookBatchRecord> record_of(const std::vector<Item>& items) {
  std::vector<wire::BookItem> structs;
  std::string texts;
  for (const Item& item : items) {
    structs.emplace_back(item.seats, static_cast<std::uint8_t>(item.user.size()),
                         static_cast<std::uint8_t>(item.request_id.size()), item.hold,
                         item.waitlist);
    texts += item.user + item.request_id;
  }
  return std::unique_ptr<BookBatchRecord>(BookBatchRecord::copy_of(
      structs, {reinterpret_cast<const std::uint8_t*>(texts.data()), texts.size()}));
}

ShardCommand event_command(Op op, const std::string& event) {
  ShardCommand command;
  command.op = op;
  command.event.assign(event);
  command.user.assign("");
  command.request_id.assign("");
  command.ref.assign("");
  return command;
}

ShardCommand create(const std::string& event) {
  ShardCommand command = event_command(Op::create_event, event);
  command.config = {.capacity = 6, .per_user_max = 3, .hold_ttl_ms = 60'000, .waitlist = true};
  return command;
}

ShardCommand single_book(const std::string& event, const Item& item) {
  ShardCommand command = event_command(Op::book, event);
  command.user.assign(item.user);
  command.request_id.assign(item.request_id);
  command.seats = item.seats;
  command.hold = item.hold;
  command.waitlist = from_wire(item.waitlist);
  return command;
}

// Every rule of a single Book, in one batch: new users, a repeat
// (ALREADY_BOOKED), a retry by request id, a request id reused for other
// seats, a bad seat count, a per-user limit, a hold, the waitlist and a
// refusal to wait. The last four items cannot even be a Book's command.
const std::vector<Item> mixed_items = {
    {"ada", 2},
    {"grace", 1, "r-grace"},
    {"ada", 1},
    {"grace", 1, "r-grace"},
    {"grace", 2, "r-grace"},
    {"linus", 0},
    {"linus", 4},
    {"linus", 1, "", true},
    {"barbara", 2},
    {"ken", 1},
    {"dennis", 1, "", false, wire::WaitlistChoice::Never},
    {"", 1},
    {std::string(65, 'u'), 1},
    {"bjarne", 1, std::string(65, 'r')},
    {"bjarne", 1, "", false, static_cast<wire::WaitlistChoice>(9)},
};
constexpr std::size_t mixed_items_as_books = 11;  // the first ones: valid Book commands

class BookBatch : public ::testing::Test {
 protected:
  BookBatch()
      : batch_shared_(options()),
        single_shared_(options()),
        batch_core_(batch_shared_, 0),
        single_core_(single_shared_, 0) {
    batch_core_.attach_log(&batch_log_);
    single_core_.attach_log(&single_log_);
    for (Core* core : {&batch_core_, &single_core_}) {
      ShardResult result;
      core->apply(create(event_), now_ms, &result);
      EXPECT_EQ(result.outcome, Outcome::ok);
    }
  }
  static server::ServerOptions options() {
    server::ServerOptions options;
    options.shards = 1;
    return options;
  }

  const std::string event_ = "gig";
  server::SharedState batch_shared_, single_shared_;
  SimLog batch_log_{8, storage::Options{.shard = 0}}, single_log_{8, storage::Options{.shard = 0}};
  Core batch_core_, single_core_;
};

TEST_F(BookBatch, EachItemIsAnsweredAsTheSameBookAlone) {
  const auto batch = record_of(mixed_items);
  ShardCommand command = event_command(Op::book_batch, event_);
  command.batch = batch.get();
  ShardResult result;
  batch_core_.apply(command, now_ms, &result);
  ASSERT_EQ(result.kind, server::ResultKind::book_batch);
  ASSERT_EQ(result.outcome, Outcome::ok);
  ASSERT_EQ(result.batch, batch.get());
  ASSERT_EQ(batch->results.size(), mixed_items.size());

  std::size_t detail = 0;
  for (std::size_t i = 0; i < mixed_items_as_books; ++i) {
    SCOPED_TRACE("item " + std::to_string(i) + " " + mixed_items[i].user);
    ShardResult alone;
    single_core_.apply(single_book(event_, mixed_items[i]), now_ms, &alone);
    const wire::BookItemResult& answer = batch->results[i];
    EXPECT_EQ(from_wire(answer.outcome()), alone.outcome);
    EXPECT_EQ(static_cast<Reason>(answer.reason()), alone.reason);
    EXPECT_EQ(answer.ref(), alone.book.ref.bits());
    EXPECT_EQ(answer.seats(), alone.book.seats);
    const bool has_detail = alone.book.position != 0 || alone.book.expires_at_ms != 0 ||
                            alone.book.retry_after_ms != 0 || alone.book.opens_in_ms != 0;
    if (!has_detail) continue;
    ASSERT_LT(detail, batch->details.size());
    const wire::BookItemDetail& more = batch->details[detail++];
    EXPECT_EQ(more.item(), i);
    EXPECT_EQ(more.position(), alone.book.position);
    EXPECT_EQ(more.expires_at_ms(), alone.book.expires_at_ms);
  }
  EXPECT_EQ(detail, batch->details.size());
  // The rules above were all met, not skipped.
  EXPECT_EQ(from_wire(batch->results[2].outcome()), Outcome::already_booked);
  EXPECT_EQ(static_cast<Reason>(batch->results[4].reason()), Reason::request_id_reused);
  EXPECT_EQ(static_cast<Reason>(batch->results[5].reason()), Reason::seats_invalid);
  EXPECT_EQ(from_wire(batch->results[7].outcome()), Outcome::held);
  EXPECT_EQ(from_wire(batch->results[9].outcome()), Outcome::waitlisted);
  EXPECT_EQ(from_wire(batch->results[10].outcome()), Outcome::sold_out);
  const std::vector<Reason> edge_refusals = {Reason::user_invalid, Reason::user_invalid,
                                             Reason::request_id_too_long,
                                             Reason::waitlist_choice_invalid};
  for (std::size_t i = mixed_items_as_books; i < mixed_items.size(); ++i) {
    EXPECT_EQ(from_wire(batch->results[i].outcome()), Outcome::invalid);
    EXPECT_EQ(static_cast<Reason>(batch->results[i].reason()),
              edge_refusals[i - mixed_items_as_books]);
  }
  EXPECT_EQ(batch_core_.machine().dump(), single_core_.machine().dump());
}

TEST_F(BookBatch, TheLogHoldsTheSameRecordsAsSingleBooks) {
  const auto batch = record_of(mixed_items);
  ShardCommand command = event_command(Op::book_batch, event_);
  command.batch = batch.get();
  ShardResult result;
  batch_core_.apply(command, now_ms, &result);
  for (std::size_t i = 0; i < mixed_items_as_books; ++i) {
    single_core_.apply(single_book(event_, mixed_items[i]), now_ms, &result);
  }
  for (Core* core : {&batch_core_, &single_core_}) core->end_turn(now_ms);
  batch_log_.complete(0);
  single_log_.complete(0);
  storage::StateMachine from_batch(storage::Options{.shard = 0});
  storage::StateMachine from_singles(storage::Options{.shard = 0});
  batch_log_.replay_all(from_batch);
  single_log_.replay_all(from_singles);
  EXPECT_EQ(from_batch.dump(), from_singles.dump());
  EXPECT_EQ(from_batch.dump(), batch_core_.machine().dump());
}

TEST_F(BookBatch, ALogThatRefusesWritesRefusesTheWholeBatch) {
  batch_log_.fail("simulated disk error");
  const auto batch = record_of({{"ada", 1}, {"grace", 1}});
  ShardCommand command = event_command(Op::book_batch, event_);
  command.batch = batch.get();
  ShardResult result;
  batch_core_.apply(command, now_ms, &result);
  EXPECT_EQ(result.outcome, Outcome::unavailable);
  EXPECT_EQ(result.kind, server::ResultKind::none);
  EXPECT_NE(result.text().find("simulated disk error"), std::string_view::npos) << result.text();
  EXPECT_EQ(result.batch, batch.get());  // still named, for whoever frees a forwarded one
}

// Forwarded, the batch travels as a heap copy and comes back answered; the
// ring's taker frees it (ASan would name a leak or a double free).
TEST(BookBatchForwarded, ComesBackWholeFromItsOwner) {
  server::ServerOptions options;
  options.shards = 2;
  options.ring_slots = server::ring_slots_min;
  server::SharedState shared(options);
  Core origin(shared, 0), owner(shared, 1);
  std::string event;
  for (int i = 0; event.empty() || owner_shard(event, 2) != 1; ++i) event = "e" + std::to_string(i);
  ShardResult result;
  owner.apply(create(event), now_ms, &result);
  ASSERT_EQ(result.outcome, Outcome::ok);

  ShardCommand command = event_command(Op::book_batch, event);
  command.batch = record_of({{"ada", 1}, {"ada", 1}, {"grace", 9}}).release();
  ASSERT_TRUE(origin.forward(1, /*client=*/3, /*request_id=*/7, command));
  owner.serve_peers(now_ms, [](std::uint64_t, std::uint64_t, ShardResult&) {});
  owner.end_turn(now_ms);
  struct NoClients {
    bool release_client(std::uint32_t, std::uint32_t, std::size_t) { return true; }
    bool fail_client(std::uint32_t, std::uint32_t, std::size_t, std::string_view) { return true; }
  } no_clients;
  owner.release(no_clients);
  int delivered = 0;
  origin.serve_peers(now_ms, [&](std::uint64_t client, std::uint64_t id, ShardResult& answer) {
    EXPECT_EQ(client, 3u);
    EXPECT_EQ(id, 7u);
    ASSERT_EQ(answer.kind, server::ResultKind::book_batch);
    ASSERT_EQ(answer.batch->results.size(), 3u);
    EXPECT_EQ(from_wire(answer.batch->results[0].outcome()), Outcome::booked);
    EXPECT_EQ(from_wire(answer.batch->results[1].outcome()), Outcome::already_booked);
    EXPECT_EQ(answer.batch->results[1].ref(), answer.batch->results[0].ref());
    EXPECT_EQ(from_wire(answer.batch->results[2].outcome()), Outcome::over_user_limit);
    ++delivered;
  });
  EXPECT_EQ(delivered, 1);
}

}  // namespace
}  // namespace admit::sim
