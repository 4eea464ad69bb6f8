// One shard's side of the cross-shard channels (Seastar's smp_message_queue,
// in small): requests it forwards to owners and their answers back, requests
// forwarded to it and the answers it owes. Over the SPSC rings of SharedState:
// requests(origin -> owner) and responses(owner -> origin). An owner fills
// answers in its response ring at once and makes them visible later, in
// order, once durable (make_visible). Wakes are only noted here: the reactor
// sends them at the end of its turn (an io_uring msg_ring); a simulator polls.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/assertions.h"
#include "server/server.h"
#include "server/shard_command.h"

namespace admit::server {

class PeerChannel {
 public:
  PeerChannel(SharedState& shared, std::uint32_t shard)
      : shared_(shared),
        shard_(shard),
        outstanding_(shared.options.shards, 0),
        invisible_(shared.options.shards, 0),
        turn_answers_(shared.options.shards, 0) {}
  PeerChannel(const PeerChannel&) = delete;
  PeerChannel& operator=(const PeerChannel&) = delete;

  // Origin side: `command` for `owner`, answered later to `client` (a handle
  // the origin chooses) with `request_id`. False when the owner's ring is
  // full: the caller answers OVERLOADED. Never more outstanding than a ring
  // holds, so the owner always finds a slot for the answer.
  bool forward(std::uint32_t owner, std::uint64_t client, std::uint64_t request_id,
               const ShardCommand& command) {
    SpscRing<RequestSlot>& ring = shared_.requests(shard_, owner);
    if (outstanding_[owner] >= ring.capacity()) return false;
    RequestSlot* slot = ring.try_push();
    ADMIT_ASSERT(slot != nullptr);
    slot->connection = client;
    slot->request_id = request_id;
    slot->command = command;
    ring.commit_push();
    ++outstanding_[owner];
    ++forwarded_;
    wake(owner);
    return true;
  }

  // Origin side: every visible answer of `owner`, to
  // deliver(client, request_id, ShardResult&). What the result carries (a
  // page, a forwarded BookBatch) is freed after.
  template <class Deliver>
  void receive_answers(std::uint32_t owner, Deliver&& deliver) {
    SpscRing<ResponseSlot>& ring = shared_.responses(owner, shard_);
    for (std::uint32_t taken = 0; taken < ring.capacity(); ++taken) {
      ResponseSlot* response = ring.front();
      if (response == nullptr) break;
      deliver(response->connection, response->request_id, response->result);
      response->result.free_attached();
      ring.commit_pop();
      ADMIT_ASSERT(outstanding_[owner] > 0);
      --outstanding_[owner];
    }
  }

  // Owner side: every request `origin` forwarded, to apply(command, result*);
  // each answer is filled in the response ring, invisible until make_visible().
  template <class Apply>
  void serve(std::uint32_t origin, Apply&& apply) {
    SpscRing<RequestSlot>& in = shared_.requests(origin, shard_);
    SpscRing<ResponseSlot>& out = shared_.responses(shard_, origin);
    for (std::uint32_t taken = 0; taken < in.capacity(); ++taken) {
      const RequestSlot* request = in.front();
      if (request == nullptr) break;
      ResponseSlot* response = out.try_push_ahead(invisible_[origin]);
      ADMIT_ASSERT(response != nullptr);
      response->connection = request->connection;
      response->request_id = request->request_id;
      apply(request->command, &response->result);
      ++invisible_[origin];
      ++turn_answers_[origin];
      in.commit_pop();
    }
  }
  // Owner side: how many answers to `origin` serve() filled since the last call.
  std::uint32_t take_turn_answers(std::uint32_t origin) {
    const std::uint32_t count = turn_answers_[origin];
    turn_answers_[origin] = 0;
    return count;
  }
  // Owner side: the oldest `count` invisible answers to `origin` become visible.
  void make_visible(std::uint32_t origin, std::uint32_t count) {
    ADMIT_ASSERT(count <= invisible_[origin]);
    shared_.responses(shard_, origin).commit_push(count);
    invisible_[origin] -= count;
    wake(origin);
  }
  // Owner side: the same, the answers first replaced by a refusal (they
  // reflect changes that may never be durable).
  void make_visible_refused(std::uint32_t origin, std::uint32_t count, Outcome outcome,
                            std::string_view message) {
    ADMIT_ASSERT(count <= invisible_[origin]);
    for (std::uint32_t i = 0; i < count; ++i) {
      ShardResult& result = shared_.responses(shard_, origin).try_push_ahead(i)->result;
      result.free_attached();
      refuse(outcome, message, &result);
    }
    make_visible(origin, count);
  }
  // Owner side, stopping: answers never made visible are dropped, what they
  // carry freed.
  void drop_invisible() {
    for (std::uint32_t origin = 0; origin < invisible_.size(); ++origin) {
      for (std::uint32_t i = 0; i < invisible_[origin]; ++i) {
        shared_.responses(shard_, origin).try_push_ahead(i)->result.free_attached();
      }
      invisible_[origin] = 0;
      turn_answers_[origin] = 0;
    }
  }

  // The shards with news from this one since the last call, one bit each.
  std::uint64_t take_wakes() { return std::exchange(wakes_, 0); }
  std::uint64_t forwarded() const { return forwarded_; }

 private:
  void wake(std::uint32_t shard) {
    ADMIT_ASSERT(shard != shard_);
    wakes_ |= std::uint64_t{1} << shard;
  }

  SharedState& shared_;
  const std::uint32_t shard_;
  std::vector<std::uint32_t> outstanding_;   // per owner: forwarded, not yet answered
  std::vector<std::uint32_t> invisible_;     // per origin: answers filled, not visible
  std::vector<std::uint32_t> turn_answers_;  // per origin: of them, filled since the last take
  std::uint64_t wakes_ = 0;
  std::uint64_t forwarded_ = 0;
};

}  // namespace admit::server
