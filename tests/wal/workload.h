// A seeded random mix of every command kind against a few events, and a
// driver that plays the reactor: apply, log iff change_count() moved, seal
// per turn. Shared by the WAL tests and bench/wal.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <cassert>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "storage/state_machine.h"
#include "storage/wal/command.h"
#include "storage/wal/wal.h"

namespace admit::storage::wal::testing {

class Workload {
 public:
  explicit Workload(std::uint64_t seed, std::uint32_t events = 4, std::uint32_t users = 200)
      : rng_(seed), events_(events), users_(users) {}

  std::int64_t now_ms() const { return now_ms_; }

  // The next command, at now_ms(): time moves forward 0..40 ms per command.
  Record next() {
    now_ms_ += pick(0, 40);
    Record record{.kind = CommandKind::expire, .command = {}, .now_ms = now_ms_};
    if (created_ < events_) {
      record.kind = CommandKind::create_event;
      record.command = create_event(created_++);
      return record;
    }
    const int roll = pick(0, 99);
    if (roll < 45) {
      record.kind = CommandKind::book;
      record.command = book(/*with_request_id=*/roll < 10);
    } else if (roll < 65 && !refs_.empty()) {
      record.kind = roll < 55 ? CommandKind::confirm : CommandKind::cancel;
      record.command = command_of(RefCommand{.ref = any_ref(), .request_id = maybe_id()});
    } else if (roll < 72) {
      record.kind = CommandKind::leave_waitlist;
      record.command =
          command_of(LeaveWaitlistCommand{.event = event(), .user = user(), .request_id = {}});
    } else if (roll < 80) {
      record.kind = CommandKind::update_event;
      record.command = update_event();
    } else if (roll < 90) {  // the same user again: ALREADY_BOOKED often
      record.kind = CommandKind::book;
      record.command =
          command_of(BookCommand{.event = event(), .user = user(), .seats = 1, .request_id = {}});
    }
    return record;
  }

  // Remembers the refs the machine handed out, for later Confirm/Cancel.
  void observe(const CommandResult& result) {
    if (const auto* book = std::get_if<BookResult>(&result); book && !book->ref.empty()) {
      if (refs_.size() < refs_max) refs_.emplace_back(book->ref.view());
    }
  }

 private:
  static constexpr std::size_t refs_max = 4096;

  int pick(int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng_); }
  std::string event() { return "event-" + std::to_string(pick(0, static_cast<int>(events_) - 1)); }
  std::string user() { return "user-" + std::to_string(pick(0, static_cast<int>(users_) - 1)); }
  std::string any_ref() { return refs_[pick(0, static_cast<int>(refs_.size()) - 1)]; }
  // A few ids repeat on purpose: retries must be answered, not re-applied.
  std::string maybe_id() {
    if (pick(0, 2) != 0) return {};
    return "req-" + std::to_string(pick(0, 2) == 0 ? pick(0, 20) : ++request_serial_);
  }

  Command create_event(std::uint32_t index) {
    EventConfig config;
    config.capacity = static_cast<std::uint32_t>(pick(20, 200));
    config.per_user_max = static_cast<std::uint32_t>(pick(0, 3));
    config.hold_ttl_ms = index % 2 == 0 ? static_cast<std::uint32_t>(pick(100, 2000)) : 0;
    config.waitlist = index % 3 != 2;
    config.waitlist_max = static_cast<std::uint32_t>(pick(0, 20));
    return command_of(CreateEventCommand{.id = "event-" + std::to_string(index), .config = config});
  }

  Command book(bool with_request_id) {
    return command_of(BookCommand{.event = event(),
                                  .user = user(),
                                  .seats = static_cast<std::uint32_t>(pick(1, 3)),
                                  .hold = pick(0, 1) == 1,
                                  .waitlist = static_cast<WaitlistChoice>(pick(0, 2)),
                                  .request_id = with_request_id ? maybe_id() : std::string()});
  }

  Command update_event() {
    EventPatch patch;
    switch (pick(0, 3)) {
      case 0:
        patch.capacity = static_cast<std::uint32_t>(pick(3, 60));
        break;
      case 1:
        patch.state = static_cast<EventState>(pick(0, 1));
        break;
      case 2:
        patch.hold_ttl_ms = static_cast<std::uint32_t>(pick(0, 1500));
        break;
      default:
        patch.waitlist = pick(0, 1) == 1;
        break;
    }
    return command_of(UpdateEventCommand{.id = event(), .patch = patch});
  }

  std::mt19937_64 rng_;
  std::uint32_t events_, users_, created_ = 0;
  std::int64_t now_ms_ = 1'700'000'000'000;
  std::vector<std::string> refs_;
  std::uint64_t request_serial_ = 100;
};

// Blocks (in tests: a reactor never does) until the WAL admits a write.
// False if the WAL failed.
inline bool wait_for_admission(ShardWal& wal) {
  for (;;) {
    switch (wal.admission()) {
      case Admission::accept:
        return true;
      case Admission::unavailable:
        return false;
      case Admission::overloaded: {
        pollfd done{.fd = wal.completion_fd(), .events = POLLIN, .revents = 0};
        ::poll(&done, 1, 10);
        std::uint64_t count;
        if ((done.revents & POLLIN) != 0) [[maybe_unused]]
          auto n = ::read(done.fd, &count, 8);
        break;
      }
    }
  }
}

// storage::apply() of a record at its time.
inline CommandResult apply(StateMachine& machine, const Record& record) {
  return storage::apply(machine, record.kind, record.command, record.now_ms);
}

struct Logged {
  Record record;
  std::uint64_t batch;  // the batch it was sealed in
};

// Plays `commands` reactor turns of `turn` commands each: apply to `machine`,
// append to `wal` (may be null: no WAL) iff change_count() moved, seal at the
// end of each turn, letting the WAL start or hand over a checkpoint when
// `checkpoints` (they are made off this thread). Appends what it logged to
// `logged` (if not null). Stops early, returning false, if the WAL fails.
inline bool drive(StateMachine& machine, ShardWal* wal, Workload& workload, int commands, int turn,
                  std::vector<Logged>* logged = nullptr, bool checkpoints = false) {
  std::size_t turn_start = logged ? logged->size() : 0;
  auto end_turn = [&] {
    if (wal != nullptr && checkpoints) wal->checkpoint(workload.now_ms());
    const std::uint64_t batch = wal != nullptr ? wal->seal() : 0;
    if (logged == nullptr) return;
    for (; turn_start < logged->size(); ++turn_start) (*logged)[turn_start].batch = batch;
  };
  for (int i = 0; i < commands; ++i) {
    if (wal != nullptr && !wait_for_admission(*wal)) {
      end_turn();
      return false;
    }
    const Record record = workload.next();
    const std::uint64_t before = machine.change_count();
    workload.observe(apply(machine, record));
    if (machine.change_count() != before) {
      if (wal != nullptr) wal->append(record.kind, record.command, record.now_ms);
      if (logged != nullptr) logged->push_back({record, 0});
    }
    if ((i + 1) % turn == 0 || i + 1 == commands) end_turn();
  }
  return true;
}

// Checkpoints are made off the calling thread: turns without commands
// (checkpoint(), seal()) until `count` have been written, at most `timeout`.
// Generous: the checkpointer runs at a lower CPU priority, and a loaded CI
// machine running sanitizer builds starves it for tens of seconds.
inline bool await_checkpoints(ShardWal& wal, std::int64_t now_ms, std::uint64_t count,
                              std::chrono::milliseconds timeout = std::chrono::seconds(90)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (wal.stats().checkpoints < count) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    wal.checkpoint(now_ms);
    wal.seal();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Seals the open batch and waits until it is durable, at most `timeout`:
// what was appended is then in the log a checkpoint reads.
inline bool await_durable(ShardWal& wal,
                          std::chrono::milliseconds timeout = std::chrono::seconds(90)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::uint64_t sealed = wal.seal();
  while (wal.durable_batch() < sealed) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// The crash tests' child: a forked process that runs `child` (which ends it
// with _exit) and writes each LSN it acknowledged, 8 bytes each, to the
// pipe's write end it gets. The parent keeps the read end.
struct ReportingChild {
  pid_t pid = -1;  // -1: fork or pipe failed
  int reports = -1;
};
inline ReportingChild fork_reporting_child(const std::function<void(int report_fd)>& child) {
  int report[2];
  if (::pipe(report) != 0) return {};
  const pid_t pid = ::fork();
  if (pid < 0) return {};
  if (pid == 0) {
    ::close(report[0]);
    child(report[1]);
    ::_exit(0);
  }
  ::close(report[1]);
  return {pid, report[0]};
}

// The last LSN the child reported before it died; closes the read end.
inline std::uint64_t last_reported_lsn(int reports) {
  std::uint64_t acknowledged = 0;
  for (std::uint64_t lsn; ::read(reports, &lsn, sizeof lsn) == sizeof lsn;) acknowledged = lsn;
  ::close(reports);
  return acknowledged;
}

// A fresh machine fed `logged` commands with batch <= `durable`.
inline void replay_acknowledged(StateMachine& machine, const std::vector<Logged>& logged,
                                std::uint64_t durable) {
  for (const Logged& entry : logged) {
    if (entry.batch <= durable) apply(machine, entry.record);
  }
}

}  // namespace admit::storage::wal::testing
