// ShardCore's durability ledger, step by step, over the simulated log: which
// answers go when.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "protocol/shard.h"
#include "server/shard_core_impl.h"
#include "tests/sim/sim_log.h"

namespace admit::sim {
namespace {

using server::ShardCommand;
using server::ShardResult;
using Core = server::ShardCore<SimLog>;

constexpr std::int64_t now_ms = 1'700'000'000'000;

// What release() let go, per client slot, and what it answered UNAVAILABLE.
struct Released {
  std::map<std::uint32_t, std::size_t> answers;
  std::map<std::uint32_t, std::size_t> failed;
  std::string message;
  bool release_client(std::uint32_t slot, std::uint32_t, std::size_t count) {
    answers[slot] += count;
    return true;
  }
  bool fail_client(std::uint32_t slot, std::uint32_t, std::size_t count, std::string_view why) {
    failed[slot] += count;
    message = why;
    return true;
  }
};

std::string event_of_shard(std::uint32_t shard, std::uint32_t shards) {
  for (int i = 0;; ++i) {
    std::string id = "event-" + std::to_string(i);
    if (owner_shard(id, shards) == shard) return id;
  }
}

ShardCommand create(const std::string& event) {
  ShardCommand command;
  command.op = Op::create_event;
  command.event.assign(event);
  command.user.assign("");
  command.request_id.assign("");
  command.ref.assign("");
  command.config.capacity = 10;
  return command;
}

ShardCommand book(const std::string& event, const std::string& user) {
  ShardCommand command = create(event);
  command.op = Op::book;
  command.user.assign(user);
  return command;
}

class TwoShards : public ::testing::Test {
 protected:
  TwoShards() : shared_(options()), origin_(shared_, 0), owner_(shared_, 1) {
    origin_.attach_log(&origin_log_);
    owner_.attach_log(&owner_log_);
    ShardResult result;
    origin_.apply(create(origin_event_), now_ms, &result);
    EXPECT_EQ(result.outcome, Outcome::ok);
    owner_.apply(create(owner_event_), now_ms, &result);
    EXPECT_EQ(result.outcome, Outcome::ok);
    for (Core* core : {&origin_, &owner_}) core->end_turn(now_ms);
    origin_log_.complete(0);
    owner_log_.complete(0);
  }

  static server::ServerOptions options() {
    server::ServerOptions options;
    options.shards = 2;
    options.ring_slots = server::ring_slots_min;
    return options;
  }

  server::SharedState shared_;
  SimLog origin_log_{8, storage::Options{.shard = 0}}, owner_log_{8, storage::Options{.shard = 1}};
  Core origin_, owner_;
  const std::string origin_event_ = event_of_shard(0, 2);
  const std::string owner_event_ = event_of_shard(1, 2);
};

TEST_F(TwoShards, AnAnswerOfTheMachineGoesOnlyOnceItsBatchIsDurable) {
  ShardResult result;
  origin_.apply(book(origin_event_, "ada"), now_ms, &result);
  ASSERT_EQ(result.outcome, Outcome::booked);
  origin_.end_turn(now_ms);
  origin_.flush_client(/*slot=*/0, /*generation=*/0, /*end=*/1, /*reflects_turn=*/true);
  Released released;
  origin_.release(released);
  EXPECT_TRUE(released.answers.empty());
  origin_log_.complete(0);
  origin_.release(released);
  EXPECT_EQ(released.answers[0], 1u);
}

// The origin has a batch of its own in flight when an owner's answer, durable
// there, comes back: the answer does not wait for the origin's disk.
TEST_F(TwoShards, AForwardedAnswerDoesNotWaitForTheOriginsOwnBatch) {
  ShardResult result;
  origin_.apply(book(origin_event_, "ada"), now_ms, &result);
  origin_.end_turn(now_ms);
  origin_.flush_client(/*slot=*/0, /*generation=*/0, /*end=*/1, /*reflects_turn=*/true);
  ASSERT_EQ(origin_log_.waiting(), 1u);

  ASSERT_TRUE(
      origin_.forward(/*owner=*/1, /*client=*/1, /*request_id=*/7, book(owner_event_, "grace")));
  owner_.serve_peers(now_ms, [](std::uint64_t, std::uint64_t, ShardResult&) {});
  owner_.end_turn(now_ms);
  owner_log_.complete(0);
  Released at_owner;
  owner_.release(at_owner);

  int delivered = 0;
  origin_.serve_peers(now_ms, [&](std::uint64_t client, std::uint64_t id, ShardResult& answer) {
    EXPECT_EQ(client, 1u);
    EXPECT_EQ(id, 7u);
    EXPECT_EQ(answer.outcome, Outcome::booked);
    ++delivered;
  });
  ASSERT_EQ(delivered, 1);
  origin_.end_turn(now_ms);
  origin_.flush_client(/*slot=*/1, /*generation=*/0, /*end=*/1, /*reflects_turn=*/false);
  Released released;
  origin_.release(released);
  EXPECT_EQ(released.answers[1], 1u);
  EXPECT_EQ(released.answers.count(0), 0u);  // its own booking still waits for the disk
}

// Answers of one client go in order: one that reflects nothing still waits
// behind an earlier one of the same client.
TEST_F(TwoShards, AClientsAnswersStayInOrder) {
  ShardResult result;
  origin_.apply(book(origin_event_, "ada"), now_ms, &result);
  origin_.end_turn(now_ms);
  origin_.flush_client(0, 0, 1, true);
  origin_.end_turn(now_ms);
  origin_.flush_client(0, 0, 2, false);
  Released released;
  origin_.release(released);
  EXPECT_TRUE(released.answers.empty());
  origin_log_.complete(0);
  origin_.release(released);
  EXPECT_EQ(released.answers[0], 2u);
}

// The log fails with a booking waiting for its batch: the booking is answered
// UNAVAILABLE (never as booked), a read of the machine, which holds the
// change, too; a refusal reflects nothing and goes at once.
TEST_F(TwoShards, AnswersWaitingForAFailedBatchAreUnavailable) {
  ShardResult result;
  origin_.apply(book(origin_event_, "ada"), now_ms, &result);
  ASSERT_EQ(result.outcome, Outcome::booked);
  origin_.end_turn(now_ms);
  origin_.flush_client(0, 0, 1, true);
  origin_log_.fail("simulated disk error");
  Released released;
  origin_.release(released);
  EXPECT_TRUE(released.answers.empty());
  EXPECT_EQ(released.failed[0], 1u);
  EXPECT_NE(released.message.find("simulated disk error"), std::string::npos) << released.message;

  ShardCommand read = book(origin_event_, "ada");
  read.op = Op::list_bookings;
  origin_.apply(read, now_ms, &result);
  delete result.take_page();  // a list's page is the caller's
  origin_.end_turn(now_ms);
  origin_.flush_client(1, 0, 1, true);
  origin_.apply(book(origin_event_, "grace"), now_ms, &result);
  EXPECT_EQ(result.outcome, Outcome::unavailable);
  origin_.end_turn(now_ms);
  origin_.flush_client(2, 0, 1, true);
  origin_.release(released);
  EXPECT_EQ(released.failed[1], 1u);
  EXPECT_EQ(released.answers[2], 1u);
  EXPECT_TRUE(released.answers.count(0) == 0 && released.answers.count(1) == 0);
}

// A forwarded booking whose batch fails at the owner comes back UNAVAILABLE.
TEST_F(TwoShards, AForwardedAnswerOfAFailedBatchComesBackUnavailable) {
  ASSERT_TRUE(origin_.forward(1, 1, 7, book(owner_event_, "grace")));
  owner_.serve_peers(now_ms, [](std::uint64_t, std::uint64_t, ShardResult&) {});
  owner_.end_turn(now_ms);
  owner_log_.fail("simulated disk error");
  Released at_owner;
  owner_.release(at_owner);
  int delivered = 0;
  origin_.serve_peers(now_ms, [&](std::uint64_t, std::uint64_t id, ShardResult& answer) {
    EXPECT_EQ(id, 7u);
    EXPECT_EQ(answer.outcome, Outcome::unavailable);
    ++delivered;
  });
  EXPECT_EQ(delivered, 1);
}

}  // namespace
}  // namespace admit::sim
