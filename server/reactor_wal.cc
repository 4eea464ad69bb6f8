// Reactor: the shard's write-ahead log (storage/wal/wal.h). Recovery at start;
// every mutation through wal::apply() and, when it changed the machine,
// append(); one batch sealed per turn; every answer of the turn (to this
// shard's connections or back over a response ring) and every publication
// of counters held until that batch is durable.
#include <xxhash.h>

#include <cassert>
#include <cstdio>

#include "server/completion_tag.h"
#include "server/reactor.h"

namespace admit::server {
namespace wal = storage::wal;
namespace {

constexpr std::string_view directory_full_message =
    "id: this shard owns events_per_shard_max (65536) events already";
constexpr std::string_view wal_behind_message =
    "storage: the shard's write-ahead log is behind the disk (too many batches waiting); retry";
// Spare vectors kept for the publications of later turns.
constexpr std::size_t spare_event_vectors_max = 64;

wal::Options wal_options(const ServerOptions& options, std::uint32_t shard) {
  wal::Options wal;
  wal.dir = options.data_dir;
  wal.shard = shard;
  wal.shards = options.shards;
  wal.mode = options.durability == Durability::batched ? wal::Mode::batched : wal::Mode::strict;
  wal.sync_interval_ms = options.sync_interval_ms;
  wal.map_size_bytes = options.map_size_bytes;
  wal.map_size_max_bytes = options.map_size_max_bytes;
  wal.sealed_batches_max = wal_sealed_batches_max;
  wal.sealed_bytes_max = wal_sealed_bytes_max;
  wal.checkpoint_every_records = options.checkpoint_records;
  wal.checkpoint_every_ms = std::int64_t{options.checkpoint_seconds} * 1000;
  wal.log = [](const std::string& line) { std::fprintf(stderr, "admitd: %s\n", line.c_str()); };
  return wal;
}

}  // namespace

bool Reactor::open_wal(std::string* why) {
  if (options_.durability == Durability::off) {
    // No log, no files. Changes are still published once per turn (the last
    // view of each event), not once per change: release_durable() publishes
    // at the end of the turn, as every batch counts as durable.
    publish_at_once_ = false;
    return true;
  }
  wal_ = wal::ShardWal::open(wal_options(options_, shard_), why);
  return wal_ != nullptr && recover_wal(why);
}

// Replays the log into the fresh machine; the directory is published as it
// goes (all of it is durable). `why` names the shard, LSN and file.
bool Reactor::recover_wal(std::string* why) {
  const auto progress = [this](std::uint64_t records) {
    std::fprintf(stderr, "admitd: shard %u: recovering, %llu records replayed so far\n", shard_,
                 static_cast<unsigned long long>(records));
  };
  wal::RecoveryReport report;
  // No directory publication per replayed change: every event is published
  // once below, after the replay (and restore() tells the observer nothing).
  machine_.set_observer(nullptr);
  const bool recovered = wal_->recover(machine_, progress, &report, why);
  machine_.set_observer(this);
  if (!recovered) return false;
  const std::int64_t elapsed_ms = std::max<std::int64_t>(report.elapsed_ms, 1);
  std::fprintf(stderr,
               "admitd: shard %u: recovered %llu records (checkpoint LSN %llu, last LSN %llu) "
               "in %lld ms, %.0f records/s\n",
               shard_, static_cast<unsigned long long>(report.records_replayed),
               static_cast<unsigned long long>(report.checkpoint_lsn),
               static_cast<unsigned long long>(report.last_lsn),
               static_cast<long long>(report.elapsed_ms),
               static_cast<double>(report.records_replayed) * 1000.0 /
                   static_cast<double>(elapsed_ms));
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
  publish_at_once_ = false;
  return true;
}

// Every request the owner applies, local or forwarded. Mutations pass the
// WAL's admission first and are logged iff they changed the machine.
void Reactor::apply_owned(const ShardCommand& command, ShardResult* result) {
  if (!is_mutation(command.op)) return execute_read(machine_, command, result);
  if (command.op == ShardOp::create_event && events_owned_ >= events_per_shard_max) {
    ++overloaded_;
    return refuse(Outcome::overloaded, directory_full_message, result);
  }
  if (wal_) {
    switch (wal_->admission()) {
      case wal::Admission::accept:
        break;
      case wal::Admission::overloaded:
        ++overloaded_;
        return refuse(Outcome::overloaded, wal_behind_message, result);
      case wal::Admission::unavailable:
        return refuse(Outcome::unavailable,
                      "storage: " + wal_->failure() + "; writes refused, reads go on", result);
    }
  }
  to_wal_command(command, &wal_command_);
  const std::uint64_t before = machine_.change_count();
  take_result(wal::apply(machine_, wal_command_, now_ms_), result);
  if (machine_.change_count() == before) return;
  if (wal_) {
    wal_->append(wal_command_, now_ms_);
    turn_appended_ = true;
  }
  if (command.op == ShardOp::create_event && result->outcome == Outcome::ok) ++events_owned_;
}

// Hold expiry and request-id retention, logged like any change. False when
// the WAL refuses writes now: the caller retries on the housekeeping tick.
bool Reactor::run_expire() {
  static const wal::Command expire_command{wal::Expire{}};
  if (wal_ && wal_->admission() != wal::Admission::accept) return false;
  const std::uint64_t before = machine_.change_count();
  wal::apply(machine_, expire_command, now_ms_);
  if (wal_ && machine_.change_count() != before) {
    wal_->append(expire_command, now_ms_);
    turn_appended_ = true;
  }
  return true;
}

void Reactor::arm_wal_completion() {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_read(sqe, wal_->completion_fd(), &wal_completion_value_,
                     sizeof wal_completion_value_, 0);
  io_uring_sqe_set_data64(sqe, CompletionTag{CompletionKind::wal_durable, 0, 0}.encode());
}

// At a turn boundary, never between an apply() and its append(). Not while
// the WAL refuses writes: checkpoint() would drop the snapshot, taken in vain.
void Reactor::maybe_checkpoint() {
  if (!wal_ || wal_->admission() != wal::Admission::accept) return;
  if (wal_->checkpoint_due(now_ms_)) wal_->checkpoint(machine_.snapshot(), now_ms_);
}

void Reactor::seal_turn() {
  if (!wal_) return;  // turn_batch_ stays 0: answers go at once
  const std::uint64_t sealed = wal_->seal();
  // While the storage is failed the sealed batches may never commit. A turn
  // that logged nothing (refusals, reads) answers at once instead of behind
  // them; a turn that logged something waits, so nothing unpersisted is
  // acknowledged.
  const bool failed = wal_->admission() == wal::Admission::unavailable;
  turn_batch_ = failed && !turn_appended_ ? 0 : sealed;
  turn_appended_ = false;
}

// The answers this turn filled in response rings wait for its batch too.
void Reactor::hold_turn_answers() {
  for (std::uint32_t origin = 0; origin < options_.shards; ++origin) {
    if (ring_turn_[origin] == 0) continue;
    std::deque<RingMark>& marks = ring_marks_[origin];
    if (!marks.empty() && marks.back().batch == turn_batch_) {
      marks.back().count += ring_turn_[origin];
    } else {
      marks.push_back({turn_batch_, ring_turn_[origin]});
    }
    ring_turn_[origin] = 0;
  }
}

void Reactor::on_event_changed(const storage::EventView& event) {
  if (publish_at_once_) return shared_.directory.publish(shard_, EventSnapshot::of(event));
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

void Reactor::queue_publication() {
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

void Reactor::publish(Publication& publication) {
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
  if (spare_event_vectors_.size() < spare_event_vectors_max) {
    spare_event_vectors_.push_back(std::move(publication.events));
  }
}

// Sends, commits to the rings and publishes whatever waited for batches that
// are durable now. Without a WAL everything is.
void Reactor::release_durable() {
  const std::uint64_t durable = wal_ ? wal_->durable_batch() : ~std::uint64_t{0};
  std::size_t kept = 0;
  for (const auto& [index, generation] : holding_) {
    Connection& connection = *connections_[index];
    // A closed connection's answers go nowhere; its slot may serve another now.
    if (!connection.in_use || connection.closing || connection.generation != generation) continue;
    release_connection(connection, durable);
    if (!connection.held_marks.empty()) holding_[kept++] = {index, generation};
  }
  holding_.resize(kept);
  for (std::uint32_t origin = 0; origin < options_.shards; ++origin) {
    std::deque<RingMark>& marks = ring_marks_[origin];
    std::uint32_t count = 0;
    for (; !marks.empty() && marks.front().batch <= durable; marks.pop_front()) {
      count += marks.front().count;
    }
    if (count == 0) continue;
    shared_.responses(shard_, origin).commit_push(count);
    ring_uncommitted_[origin] -= count;
    wake_mask_ |= std::uint64_t{1} << origin;
  }
  for (; !publications_.empty() && publications_.front().batch <= durable;
       publications_.pop_front()) {
    publish(publications_.front());
  }
  attend_queued();  // connections with nothing left to send may close now
}

void Reactor::release_connection(Connection& connection, std::uint64_t durable) {
  std::size_t released = 0, marks = 0;
  for (; marks < connection.held_marks.size() && connection.held_marks[marks].batch <= durable;
       ++marks) {
    released = connection.held_marks[marks].end;
  }
  if (marks == 0) return;
  connection.held_marks.erase(connection.held_marks.begin(),
                              connection.held_marks.begin() + static_cast<std::ptrdiff_t>(marks));
  if (released == connection.held.size() && connection.send_queued.empty()) {
    connection.send_queued.swap(connection.held);  // the common case: no copy
    connection.held.clear();
  } else {
    const auto end = connection.held.begin() + static_cast<std::ptrdiff_t>(released);
    connection.send_queued.insert(connection.send_queued.end(), connection.held.begin(), end);
    connection.held.erase(connection.held.begin(), end);
    for (HeldMark& mark : connection.held_marks) mark.end -= released;
  }
  submit_send(connection);
  attend(connection);
}

// Commits and syncs what was sealed, then says what the log did. Answers
// never made visible in the response rings are dropped (the shards are
// stopping), their ListBookings pages freed.
void Reactor::close_wal() {
  for (std::uint32_t origin = 0; origin < options_.shards; ++origin) {
    SpscRing<ResponseSlot>* ring = origin == shard_ ? nullptr : &shared_.responses(shard_, origin);
    for (std::uint32_t i = 0; ring != nullptr && i < ring_uncommitted_[origin]; ++i) {
      delete ring->try_push_ahead(i)->result.take_page();
    }
    ring_uncommitted_[origin] = 0;
    ring_marks_[origin].clear();
  }
  if (!wal_) return;
  wal_->close();
  const wal::WalStats stats = wal_->stats();
  std::fprintf(stderr,
               "admitd: shard %u: WAL closed: %llu records in %llu batches, %llu transactions, "
               "%llu syncs, %llu checkpoints, map %zu bytes%s\n",
               shard_, static_cast<unsigned long long>(stats.records_committed),
               static_cast<unsigned long long>(stats.batches_committed),
               static_cast<unsigned long long>(stats.transactions),
               static_cast<unsigned long long>(stats.syncs),
               static_cast<unsigned long long>(stats.checkpoints), stats.map_size_bytes,
               stats.failed ? " (failed)" : "");
}

}  // namespace admit::server
