// The heart of one shard, with no io_uring, no socket and no clock of its
// own: the state machine, the hand-off of every change to the write-ahead
// log, the ledger that holds each answer until the batch it reflects is
// durable, the publication of events and counters once durable, and the
// shard's side of the cross-shard channels. The reactor drives it from
// io_uring completions; tests/sim drives several on one thread with a
// simulated log and simulated time.
//
// `Log` is storage::wal::ShardWal in admitd (or the simulator's log): a
// template parameter, so the per-request calls into it are direct. It offers
// admission(), failure(), failed(), append(kind, command, now_ms), seal(),
// durable_batch(), checkpoint(now_ms); storage/wal/wal.h says what each
// means. Null: durability off, every batch counts as durable.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "server/durability_ledger.h"
#include "server/peer_channel.h"
#include "server/server.h"
#include "server/shard_command.h"
#include "storage/command.h"
#include "storage/state_machine.h"
#include "storage/wal/wal.h"

namespace admit::server {

template <class Log>
class ShardCore final : public storage::EventObserver {
 public:
  ShardCore(SharedState& shared, std::uint32_t shard);
  ~ShardCore() override;
  ShardCore(const ShardCore&) = delete;
  ShardCore& operator=(const ShardCore&) = delete;

  // ---- start ----
  // Before anything is applied. Null: durability off.
  void attach_log(Log* log) { log_ = log; }
  // The machine to replay the log into; replay publishes nothing per change.
  storage::StateMachine& machine_for_replay();
  // After the replay: every event is published, and the counters with the
  // first turn.
  void replayed();

  // ---- a turn, in order (the reactor's end_turn() says why) ----
  // 1. Requests: a command this shard owns, applied now; its answer reflects
  //    this turn's batch. Mutations pass the log's admission first and are
  //    logged iff they changed the machine.
  void apply(const ShardCommand& command, std::int64_t now_ms, ShardResult* result);
  // Or forwarded to its owner: false when the owner's ring is full.
  bool forward(std::uint32_t owner, std::uint64_t client, std::uint64_t request_id,
               const ShardCommand& command);
  // Hold expiry and request-id retention, at most `steps_max` of each (see
  // StateMachine::expire), logged like any change.
  enum class ExpireStep : std::uint8_t {
    done,
    more_due,  // the bound was reached: call again soon
    refused,   // the log refuses writes now: retry later
  };
  ExpireStep expire(std::int64_t now_ms, std::uint32_t steps_max = storage::expire_steps_max);
  // 2. Peers: requests other shards forwarded are applied (answers wait in
  //    the rings), and answers owners made visible go to
  //    deliver(client, request_id, ShardResult&): they are durable already.
  template <class Deliver>
  void serve_peers(std::int64_t now_ms, Deliver&& deliver);
  // 3. Let the log start or hand over a checkpoint (made off the reactor),
  //    seal the turn's batch; the ring answers and the publication of this
  //    turn wait for it.
  void end_turn(std::int64_t now_ms);
  // 4. Client `slot`'s answers up to `end` (a position in its stream, bytes
  //    for the reactor) wait for this turn's batch if `reflects_turn` (some
  //    answer since its last flush came from apply()), else for nothing but
  //    the answers before them: a forwarded answer is durable at its owner
  //    already, and directory reads show durable state only.
  void flush_client(std::uint32_t slot, std::uint32_t generation, std::size_t end,
                    bool reflects_turn) {
    if (end <= ledger_.client_end(slot)) return;
    ledger_.await_client(slot, generation, reflects_turn ? turn_batch_ : 0, end);
  }
  // 5. Everything whose batch is durable now goes: client answers to
  //    sink.release_client(slot, generation, count) (false: gone), ring
  //    answers made visible, events and counters published. While the log
  //    is failed, the answers waiting for batches that are not durable go
  //    too, to sink.fail_client(slot, generation, count, message) (false:
  //    gone) and as ring answers made UNAVAILABLE: the sink answers them
  //    UNAVAILABLE with `message`. Their events and counters stay
  //    unpublished unless the batches commit after all (out of space, then
  //    freed): the directory never shows what a crash could undo.
  template <class Sink>
  void release(Sink& sink);

  // ---- stop ----
  // Answers never made visible are dropped (the shards are stopping).
  void close();

  DurabilityLedger& ledger() { return ledger_; }
  PeerChannel& peers() { return peers_; }
  const storage::StateMachine& machine() const { return machine_; }
  std::uint64_t durable_batch() const { return log_ ? log_->durable_batch() : ~std::uint64_t{0}; }
  std::uint64_t overloaded() const { return overloaded_; }

  void on_event_changed(const storage::EventView& event) override;

 private:
  // Counters and event snapshots of one turn, published in the directory once
  // the turn's batch is durable (readers never see what a crash could undo).
  struct Publication {
    std::uint64_t batch = 0;
    std::vector<EventSnapshot> events;  // the last snapshot of each event changed
    bool has_counters = false;
    storage::ShardCounters counters;
  };
  template <class Sink>
  struct ReleaseTo;

  bool admitted(ShardResult* result);
  void apply_batch(const ShardCommand& command, std::int64_t now_ms, ShardResult* result);
  void maybe_checkpoint(std::int64_t now_ms);
  void seal();
  void queue_publication();
  void publish(Publication& publication);

  SharedState& shared_;
  const std::uint32_t shard_;
  storage::StateMachine machine_;
  Log* log_ = nullptr;
  DurabilityLedger ledger_;
  PeerChannel peers_;

  ShardCommand batch_item_;  // reused: a BookBatch item as a Book
  ShardResult item_answer_;  // reused: its answer
  std::uint64_t turn_batch_ = 0;
  // Some answer of the turn came from the machine (not a refusal before it),
  // or the turn logged a change.
  bool turn_used_machine_ = false;
  std::uint32_t events_owned_ = 0;
  std::uint64_t overloaded_ = 0;

  Publication turn_publication_;
  absl::flat_hash_map<std::uint64_t, std::uint32_t> turn_event_index_;  // xxh3(id) -> index
  std::uint32_t turn_last_event_ = 0;     // index of the event changed last (a hint)
  std::deque<Publication> publications_;  // waiting for their batch
  std::vector<std::vector<EventSnapshot>> spare_event_vectors_;
  std::uint64_t last_change_count_ = ~std::uint64_t{0};
};

// The sink of DurabilityLedger::release(): ring answers become visible here,
// client answers go to the caller's sink.
template <class Log>
template <class Sink>
struct ShardCore<Log>::ReleaseTo {
  Sink& clients;
  PeerChannel& peers;
  std::string_view failed_message;
  bool release_client(std::uint32_t slot, std::uint32_t generation, std::size_t count) {
    return clients.release_client(slot, generation, count);
  }
  bool fail_client(std::uint32_t slot, std::uint32_t generation, std::size_t count) {
    return clients.fail_client(slot, generation, count, failed_message);
  }
  void release_peer(std::uint32_t origin, std::uint32_t count) {
    peers.make_visible(origin, count);
  }
  void fail_peer(std::uint32_t origin, std::uint32_t count) {
    peers.make_visible_refused(origin, count, Outcome::unavailable, failed_message);
  }
};

template <class Log>
template <class Deliver>
void ShardCore<Log>::serve_peers(std::int64_t now_ms, Deliver&& deliver) {
  for (std::uint32_t other = 0; other < shared_.options.shards; ++other) {
    if (other == shard_) continue;
    peers_.serve(other, [&](const ShardCommand& command, ShardResult* result) {
      apply(command, now_ms, result);
    });
    peers_.receive_answers(other, deliver);
  }
}

template <class Log>
template <class Sink>
void ShardCore<Log>::release(Sink& sink) {
  // Failed first: a log that failed after committing more shows it in a
  // durable batch read after, so nothing durable is answered UNAVAILABLE.
  const bool failed = log_ && log_->failed();
  const std::uint64_t durable = durable_batch();
  std::string failed_message;
  if (failed) {
    failed_message = "storage: " + log_->failure() +
                     "; this change is not known to be durable: retry with the same request id "
                     "once storage works again";
  }
  // Published before any answer leaves: a client that got its answer and
  // then reads the event (on any shard) sees its change.
  for (; !publications_.empty() && publications_.front().batch <= durable;
       publications_.pop_front()) {
    publish(publications_.front());
  }
  ReleaseTo<Sink> to{sink, peers_, failed_message};
  ledger_.release(durable, failed, to);
}

extern template class ShardCore<storage::wal::ShardWal>;

}  // namespace admit::server
