// A simulated write-ahead log for ShardCore: the calls of
// storage::wal::ShardWal, in memory, with the disk under the simulator's
// control. Sealed batches complete (reach the disk) when the simulator says,
// in any order; durable_batch() is the longest prefix of completed batches,
// as a real log commits in order. The log can fail (writes refused, nothing
// completes) and recover, and crash: whatever is not durable is lost, as
// LevelDB's fault_injection_test drops data not protected by a sync.
#pragma once

#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/state_machine.h"
#include "storage/wal/command.h"
#include "storage/wal/wal.h"

namespace admit::sim {

namespace wal = storage::wal;

class SimLog {
 public:
  // Past this many sealed batches waiting, writes answer OVERLOADED.
  explicit SimLog(std::uint32_t sealed_batches_max) : sealed_batches_max_(sealed_batches_max) {}

  // ---- what ShardCore calls ----
  wal::Admission admission() const {
    if (!failure_.empty()) return wal::Admission::unavailable;
    if (sealed_ - durable_ >= sealed_batches_max_) return wal::Admission::overloaded;
    return wal::Admission::accept;
  }
  std::string failure() const { return failure_; }
  void append(const wal::Command& command, std::int64_t now_ms) {
    assert(admission() == wal::Admission::accept);
    open_.records.push_back({command, now_ms});
    ++appended_;
  }
  std::uint64_t seal() {
    if (open_.records.empty() && !open_.checkpoint) return sealed_;
    open_.number = ++sealed_;
    batches_.push_back(std::move(open_));
    open_ = Batch{};
    return sealed_;
  }
  std::uint64_t durable_batch() const { return durable_; }
  bool checkpoint_due(std::int64_t) const { return checkpoint_wanted_ && !open_.checkpoint; }
  // The snapshot covers every record appended so far, this batch's included.
  void checkpoint(std::vector<std::uint8_t> snapshot, std::int64_t) {
    open_.checkpoint = std::move(snapshot);
    checkpoint_wanted_ = false;
  }

  // ---- what the simulator does to it ----
  void want_checkpoint() { checkpoint_wanted_ = true; }
  // Sealed, not yet durable batches, oldest first, and whether each is on disk.
  std::size_t waiting() const { return batches_.size() - durable_count(); }
  // The `index`-th waiting batch reaches the disk (maybe before older ones).
  void complete(std::size_t index) {
    if (!failure_.empty()) return;  // a failed log commits nothing
    batches_[durable_count() + index].on_disk = true;
    while (durable_ < sealed_ && batches_[durable_].on_disk) {
      durable_records_ += batches_[durable_].records.size();
      ++durable_;
    }
  }
  void fail(std::string cause) { failure_ = std::move(cause); }
  void repair() { failure_.clear(); }
  bool failed() const { return !failure_.empty(); }
  // The process died: what is not durable is gone.
  void crash() {
    batches_.resize(durable_);
    sealed_ = durable_;
    open_ = Batch{};
    appended_ = durable_records_;
    failure_.clear();
    checkpoint_wanted_ = false;
  }

  // Records appended so far (the next one's LSN is this + 1), and of them
  // those in durable batches.
  std::uint64_t appended() const { return appended_; }
  std::uint64_t durable_lsn() const { return durable_records_; }

  // Recovery: the last durable checkpoint, then every durable record after it.
  // False with `why` when the checkpoint does not restore.
  bool replay(storage::StateMachine& machine, std::string* why) const {
    std::size_t first = 0;  // the first batch not covered by the checkpoint
    for (std::size_t i = 0; i < durable_; ++i) {
      if (batches_[i].checkpoint) first = i + 1;
    }
    if (first > 0 && !machine.restore(*batches_[first - 1].checkpoint, why)) return false;
    for (std::size_t i = first; i < durable_; ++i) {
      for (const Record& record : batches_[i].records)
        wal::apply(machine, record.command, record.now_ms);
    }
    return true;
  }
  // The same history without checkpoints: every durable record from the start.
  void replay_all(storage::StateMachine& machine) const {
    for (std::size_t i = 0; i < durable_; ++i) {
      for (const Record& record : batches_[i].records)
        wal::apply(machine, record.command, record.now_ms);
    }
  }

 private:
  struct Record {
    wal::Command command;
    std::int64_t now_ms = 0;
  };
  struct Batch {
    std::uint64_t number = 0;
    std::vector<Record> records;
    // A checkpoint covering every record before this batch's.
    std::optional<std::vector<std::uint8_t>> checkpoint;
    bool on_disk = false;
  };

  std::size_t durable_count() const { return static_cast<std::size_t>(durable_); }

  const std::uint32_t sealed_batches_max_;
  std::vector<Batch> batches_;  // batches_[i].number == i + 1; all of them kept for replay
  Batch open_;
  std::uint64_t sealed_ = 0, durable_ = 0;
  std::uint64_t appended_ = 0, durable_records_ = 0;
  std::string failure_;
  bool checkpoint_wanted_ = false;
};

}  // namespace admit::sim
