// The state machine against the reference model (reference_model.h), one
// command at a time. The commands and their timestamps come from a Choices:
// a seeded generator (random_test.cc) or the fuzzer's bytes
// (tests/fuzz/state_machine_fuzz.cc). Every answer is compared with the
// model's; the first difference stops the run and is named in failure().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "reference_model.h"
#include "storage/state_machine.h"

namespace admit::storage {

// Where a run's choices come from.
class Choices {
 public:
  virtual ~Choices() = default;
  // A number in 0..n-1 (n >= 1).
  virtual std::uint32_t pick(std::uint32_t n) = 0;
  // True once there is nothing left to choose from: the run ends.
  virtual bool exhausted() const { return false; }
};

// How often each outcome came up, per command family, to show that a mix of
// commands reaches every rule.
struct OutcomeCounts {
  std::uint64_t book[outcome_count] = {};
  std::uint64_t confirm_cancel[outcome_count] = {};
  std::uint64_t leave[outcome_count] = {};
  std::uint64_t expired_holds = 0;
};

struct RunCadence {
  std::uint64_t invariants_every = 1000;  // commands between check_invariants() calls
  std::uint64_t restore_every = 5000;  // ... between swaps for a machine restored from a snapshot
};

// One run: a fresh machine and model with options chosen from `choices`, a
// few events, then commands. Small id spaces (5 events, 12 users) make
// conflicts frequent; time jumps make holds expire.
class ModelRun {
 public:
  ModelRun(Choices& choices, RunCadence cadence, OutcomeCounts* counts = nullptr);
  ~ModelRun();

  // Runs `commands` commands, fewer if a check fails or the choices run out;
  // then checks the invariants and a snapshot round trip. False on failure.
  bool run(std::uint64_t commands);

  const std::string& failure() const { return failure_; }
  std::uint64_t commands_run() const { return commands_run_; }
  // Every answer of the machine, in order: two runs of the same choices
  // must give the same transcript.
  const std::string& transcript() const { return transcript_; }
  const StateMachine& machine() const { return *sm_; }

 private:
  std::uint32_t pick(std::uint32_t n) { return choices_.pick(n); }
  bool chance(int percent) { return pick(100) < static_cast<std::uint32_t>(percent); }
  bool failed() const { return !failure_.empty(); }
  // Records the first difference; true when `got` equals `want`.
  template <typename T>
  bool same(const T& got, const T& want, const std::string& what);
  void note(std::int64_t value);

  Options random_options();
  std::string event_id();
  std::string user();
  std::string request_id();
  EventConfig random_config();
  EventPatch random_patch();
  std::pair<std::string, std::uint64_t> random_ref();

  void step();
  void create_random_event();
  void do_book();
  void do_ref_command(model::Kind kind);
  void do_leave();
  void do_position();
  void do_expire();
  void do_update();
  void do_get_booking();
  void do_list_bookings();
  void compare_event(const std::string& id);
  void swap_for_restored_copy();

  Choices& choices_;
  RunCadence cadence_;
  OutcomeCounts* counts_;
  Options options_;
  std::unique_ptr<StateMachine> sm_;
  model::Model model_;
  std::int64_t now_ms_ = 1'700'000'000'000;
  std::uint64_t fresh_request_ids_ = 0;
  std::uint64_t commands_run_ = 0;
  std::string failure_;
  std::string transcript_;
};

}  // namespace admit::storage
