// A simulated write-ahead log for ShardCore: the calls of
// storage::wal::ShardWal, in memory, with the disk under the simulator's
// control. Sealed batches complete (reach the disk) when the simulator says,
// in any order; durable_batch() is the longest prefix of completed batches,
// as a real log commits in order. The log can fail (writes refused, nothing
// completes) and recover, and crash: whatever is not durable is lost, as
// LevelDB's fault_injection_test drops data not protected by a sync.
// Checkpoints are made as ShardWal's checkpointer makes them: from what is
// durable (the last checkpoint plus the durable records), so one covers the
// records up to the durable LSN, and the records after it stay.
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
  // `machine`: the shard's machine options (checkpoints replay into one).
  SimLog(std::uint32_t sealed_batches_max, const storage::Options& machine)
      : sealed_batches_max_(sealed_batches_max), machine_(machine) {}

  // ---- what ShardCore calls ----
  wal::Admission admission() const {
    if (!failure_.empty()) return wal::Admission::unavailable;
    if (sealed_ - durable_ >= sealed_batches_max_) return wal::Admission::overloaded;
    return wal::Admission::accept;
  }
  std::string failure() const { return failure_; }
  void append(storage::CommandKind kind, const storage::Command& command, std::int64_t now_ms) {
    assert(admission() == wal::Admission::accept);
    open_.records.push_back({.kind = kind, .command = command, .now_ms = now_ms});
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
  // When wanted and the last one is durable: made at once (the simulator
  // plays the checkpointer's delay by the records appended but not yet
  // durable, which it leaves out) and put in the open batch.
  bool checkpoint(std::int64_t) {
    if (!checkpoint_wanted_ || !failure_.empty() || checkpoint_in_flight()) return false;
    checkpoint_wanted_ = false;
    if (durable_records_ == durable_checkpoint_lsn()) return false;  // nothing new is durable
    storage::StateMachine machine(machine_);
    std::string why;
    if (!replay(machine, &why)) return false;  // the simulator's recovery reports it
    open_.checkpoint = machine.snapshot();
    open_.checkpoint_lsn = durable_records_;
    return true;
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
    const Batch* checkpoint = last_durable_checkpoint();
    if (checkpoint != nullptr && !machine.restore(*checkpoint->checkpoint, why)) return false;
    const std::uint64_t from_lsn = checkpoint != nullptr ? checkpoint->checkpoint_lsn : 0;
    std::uint64_t lsn = 0;
    for (std::size_t i = 0; i < durable_; ++i) {
      for (const wal::Record& record : batches_[i].records) {
        if (++lsn > from_lsn) storage::apply(machine, record.kind, record.command, record.now_ms);
      }
    }
    return true;
  }
  // The same history without checkpoints: every durable record from the start.
  void replay_all(storage::StateMachine& machine) const {
    for (std::size_t i = 0; i < durable_; ++i) {
      for (const wal::Record& record : batches_[i].records)
        storage::apply(machine, record.kind, record.command, record.now_ms);
    }
  }

 private:
  struct Batch {
    std::uint64_t number = 0;
    std::vector<wal::Record> records;
    // A checkpoint covering the records <= checkpoint_lsn (made from
    // durable batches before this one).
    std::optional<std::vector<std::uint8_t>> checkpoint;
    std::uint64_t checkpoint_lsn = 0;
    bool on_disk = false;
  };

  std::size_t durable_count() const { return static_cast<std::size_t>(durable_); }
  const Batch* last_durable_checkpoint() const {
    const Batch* last = nullptr;
    for (std::size_t i = 0; i < durable_; ++i) {
      if (batches_[i].checkpoint) last = &batches_[i];
    }
    return last;
  }
  std::uint64_t durable_checkpoint_lsn() const {
    const Batch* last = last_durable_checkpoint();
    return last != nullptr ? last->checkpoint_lsn : 0;
  }
  // One at a time, as ShardWal: the next is made once the last is durable.
  bool checkpoint_in_flight() const {
    if (open_.checkpoint) return true;
    for (std::size_t i = durable_count(); i < batches_.size(); ++i) {
      if (batches_[i].checkpoint) return true;
    }
    return false;
  }

  const std::uint32_t sealed_batches_max_;
  const storage::Options machine_;
  std::vector<Batch> batches_;  // batches_[i].number == i + 1; all of them kept for replay
  Batch open_;
  std::uint64_t sealed_ = 0, durable_ = 0;
  std::uint64_t appended_ = 0, durable_records_ = 0;
  std::string failure_;
  bool checkpoint_wanted_ = false;
};

}  // namespace admit::sim
