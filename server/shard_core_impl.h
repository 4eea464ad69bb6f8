// ShardCore's member definitions, for the translation units that instantiate
// it: shard_core.cc (with storage::wal::ShardWal) and the simulator.
#pragma once

#include <xxhash.h>

#include <atomic>
#include <string_view>

#include "server/shard_core.h"

namespace admit::server {
namespace shard_core_detail {

inline constexpr std::string_view directory_full_message =
    "id: this shard owns events_per_shard_max (65536) events already";
// Spare vectors kept for the publications of later turns.
inline constexpr std::size_t spare_event_vectors_max = 64;

inline storage::Options machine_options(const ServerOptions& options, std::uint32_t shard) {
  storage::Options machine;
  machine.shard = shard;
  machine.default_rate_per_s = options.rate_per_s;
  machine.default_rate_burst = options.rate_burst;
  machine.users_reserved = options.users_reserved;
  return machine;
}

}  // namespace shard_core_detail

template <class Log>
ShardCore<Log>::ShardCore(SharedState& shared, std::uint32_t shard)
    : shared_(shared),
      shard_(shard),
      machine_(shard_core_detail::machine_options(shared.options, shard)),
      ledger_(shared.options.shards),
      peers_(shared, shard) {
  machine_.set_observer(this);
}

template <class Log>
ShardCore<Log>::~ShardCore() = default;

template <class Log>
storage::StateMachine& ShardCore<Log>::machine_for_replay() {
  // No directory publication per replayed change: every event is published
  // once by replayed() (and restore() tells the observer nothing).
  machine_.set_observer(nullptr);
  return machine_;
}

// Everything replayed is durable: published at once.
template <class Log>
void ShardCore<Log>::replayed() {
  machine_.set_observer(this);
  std::string after;
  for (std::uint32_t page = 0; page <= events_per_shard_max / list_limit_max; ++page) {
    const storage::EventPage events = machine_.list_events(after, list_limit_max);
    for (const storage::EventView& event : events.events) {
      shared_.directory.publish(shard_, EventSnapshot::of(event));
    }
    if (!events.more || events.events.empty()) break;
    after.assign(events.events.back().id);
  }
  events_owned_ = machine_.counters().events;
  queue_publication();  // the recovered counters, batch 0: published at the first turn
}

template <class Log>
bool ShardCore<Log>::admitted(ShardResult* result) {
  if (!log_) return true;
  switch (log_->admission()) {
    case storage::wal::Admission::accept:
      return true;
    case storage::wal::Admission::overloaded:
      ++overloaded_;
      refuse(Outcome::overloaded, {}, result);
      result->reason = Reason::log_behind;
      return false;
    case storage::wal::Admission::unavailable:
      // The message says what failed; a BookBatch item carries only the reason.
      refuse(Outcome::unavailable, "storage: " + log_->failure() + "; writes refused, reads go on",
             result);
      result->reason = Reason::storage_failed;
      return false;
  }
  return false;
}

template <class Log>
void ShardCore<Log>::apply(const ShardCommand& command, std::int64_t now_ms, ShardResult* result) {
  if (command.op == Op::book_batch) return apply_batch(command, now_ms, result);
  result->op = command.op;  // nothing below assigns the whole result
  // A refusal here or a read reflects the machine, as does any admitted mutation.
  if (!may_act_on_booking(machine_, command, result)) {
    turn_used_machine_ = true;
    return;
  }
  if (!is_mutation(command.op)) {
    turn_used_machine_ = true;
    execute_read(machine_, command, result);
    // The machine does not know the watchers; the directory counts them.
    if (command.op == Op::get_event && result->outcome == Outcome::ok) {
      if (const auto published = shared_.directory.find(command.event.view())) {
        result->event.watchers = published->watchers;
      }
    }
    return;
  }
  if (command.op == Op::create_event && events_owned_ >= events_per_shard_max) {
    ++overloaded_;
    return refuse(Outcome::overloaded, shard_core_detail::directory_full_message, result);
  }
  if (!admitted(result)) return;
  turn_used_machine_ = true;  // even a refusal (SOLD_OUT, ALREADY_BOOKED) reflects its state
  // The command is applied and logged as it came from the edge: one value.
  const storage::CommandKind kind = command_kind_of(command.op);
  const std::uint64_t before = machine_.change_count();
  take_result(storage::apply(machine_, kind, command, now_ms), result);
  if (machine_.change_count() == before) return;
  if (log_) log_->append(kind, command, now_ms);
  if (command.op == Op::create_event && result->outcome == Outcome::ok) ++events_owned_;
}

// Every item is a Book applied by apply(): the same checks, machine call,
// log record and result as one sent alone. A batch the log refuses is
// refused whole; otherwise each item has its own answer.
template <class Log>
void ShardCore<Log>::apply_batch(const ShardCommand& command, std::int64_t now_ms,
                                 ShardResult* result) {
  BookBatchRecord* batch = command.batch;
  ADMIT_ASSERT(batch != nullptr && !batch->items.empty());
  batch->results.clear();
  batch->details.clear();
  if (admitted(result)) {
    // New buyers' user-table lines are cache misses: start loading them all
    // before the first item runs, here on the owner, where forwarded batches
    // arrive too.
    storage::BookCommand hint;
    batch->for_each(
        [&](std::size_t, const wire::BookItem&, std::string_view user, std::string_view) {
          hint.user = user;
          machine_.prefetch_book(hint);
        });
    batch_item_.event = command.event;
    batch_item_.acting_user.size = 0;  // a sub was checked against every item at the edge
    batch->for_each([&](std::size_t index, const wire::BookItem& item, std::string_view user,
                        std::string_view request_id) {
      const auto at = static_cast<std::uint32_t>(index);
      const Reason invalid = check_book_item(item, user, request_id);
      if (invalid != Reason::none) return add_item_refusal(at, Outcome::invalid, invalid, batch);
      assign_book_item(item, user, request_id, &batch_item_);
      apply(batch_item_, now_ms, &item_answer_);
      add_item_answer(at, item_answer_, batch);
    });
    clear_result(result);
    result->outcome = Outcome::ok;
    result->kind = ResultKind::book_batch;
  }
  result->op = Op::book_batch;
  result->batch = batch;  // set last: refusals clear the result
}

template <class Log>
bool ShardCore<Log>::forward(std::uint32_t owner, std::uint64_t client, std::uint64_t request_id,
                             const ShardCommand& command) {
  if (peers_.forward(owner, client, request_id, command)) return true;
  ++overloaded_;
  return false;
}

template <class Log>
auto ShardCore<Log>::expire(std::int64_t now_ms, std::uint32_t steps_max) -> ExpireStep {
  if (log_ && log_->admission() != storage::wal::Admission::accept) return ExpireStep::refused;
  const storage::Command command = storage::expire_command(steps_max);
  const std::uint64_t before = machine_.change_count();
  const auto report = std::get<storage::ExpireResult>(
      storage::apply(machine_, storage::CommandKind::expire, command, now_ms));
  if (log_ && machine_.change_count() != before) {
    log_->append(storage::CommandKind::expire, command, now_ms);
    turn_used_machine_ = true;
  }
  return report.more_due ? ExpireStep::more_due : ExpireStep::done;
}

template <class Log>
void ShardCore<Log>::end_turn(std::int64_t now_ms) {
  maybe_checkpoint(now_ms);
  seal();
  for (std::uint32_t origin = 0; origin < shared_.options.shards; ++origin) {
    if (origin != shard_) ledger_.await_peer(origin, turn_batch_, peers_.take_turn_answers(origin));
  }
  queue_publication();
}

// The log makes checkpoints off the reactor, from what it committed: this
// only lets it start one, or hand a finished one to the turn's batch.
template <class Log>
void ShardCore<Log>::maybe_checkpoint(std::int64_t now_ms) {
  if (log_) log_->checkpoint(now_ms);
}

template <class Log>
void ShardCore<Log>::seal() {
  if (!log_) return;  // turn_batch_ stays 0: answers go at once
  const std::uint64_t sealed = log_->seal();
  // While the storage is failed the sealed batches may never commit. A turn
  // whose answers reflect nothing of the machine (refusals before it) answers
  // at once instead of behind them. One whose answers came from the machine,
  // which may hold changes of those batches, waits: release() answers them
  // UNAVAILABLE unless those batches are durable, so no client is told
  // what a crash could undo.
  turn_batch_ = log_->failed() && !turn_used_machine_ ? 0 : sealed;
  turn_used_machine_ = false;
}

template <class Log>
void ShardCore<Log>::on_event_changed(const storage::EventView& event) {
  // The last state of each event in this turn is enough: keep one snapshot each.
  std::vector<EventSnapshot>& events = turn_publication_.events;
  // Changes come in runs on one event (a burst of bookings): the event changed
  // last needs no hash and no lookup. A stale index is caught by the id check.
  if (turn_last_event_ < events.size() && events[turn_last_event_].id.view() == event.id) {
    events[turn_last_event_] = EventSnapshot::of(event);
    return;
  }
  const std::uint64_t key = XXH3_64bits(event.id.data(), event.id.size());
  const auto [found, inserted] =
      turn_event_index_.try_emplace(key, static_cast<std::uint32_t>(events.size()));
  if (!inserted && events[found->second].id.view() == event.id) {
    turn_last_event_ = found->second;
    events[found->second] = EventSnapshot::of(event);
    return;
  }
  found->second = static_cast<std::uint32_t>(events.size());  // new, or a hash collision
  turn_last_event_ = found->second;
  events.push_back(EventSnapshot::of(event));
}

template <class Log>
void ShardCore<Log>::queue_publication() {
  const std::uint64_t change_count = machine_.change_count();
  if (change_count != last_change_count_) {
    last_change_count_ = change_count;
    turn_publication_.has_counters = true;
    turn_publication_.counters = machine_.counters();
  }
  if (!turn_publication_.has_counters && turn_publication_.events.empty()) return;
  turn_publication_.batch = turn_batch_;
  publications_.push_back(std::move(turn_publication_));
  turn_publication_ = Publication{};
  if (!spare_event_vectors_.empty()) {
    turn_publication_.events = std::move(spare_event_vectors_.back());
    spare_event_vectors_.pop_back();
  }
  turn_event_index_.clear();
}

template <class Log>
void ShardCore<Log>::publish(Publication& publication) {
  for (const EventSnapshot& event : publication.events) shared_.directory.publish(shard_, event);
  if (publication.has_counters) {
    constexpr auto relaxed = std::memory_order_relaxed;
    ShardStatsCounters& stats = shared_.stats[shard_];
    const storage::ShardCounters& counters = publication.counters;
    stats.events.store(counters.events, relaxed);
    stats.live_bookings.store(counters.live_bookings, relaxed);
    stats.held_seats.store(counters.held_seats, relaxed);
    stats.confirmed_seats.store(counters.confirmed_seats, relaxed);
    stats.waitlisted.store(counters.waitlisted, relaxed);
  }
  publication.events.clear();
  if (spare_event_vectors_.size() < shard_core_detail::spare_event_vectors_max) {
    spare_event_vectors_.push_back(std::move(publication.events));
  }
}

template <class Log>
void ShardCore<Log>::close() {
  peers_.drop_invisible();
  ledger_.forget_peers();
}

}  // namespace admit::server
