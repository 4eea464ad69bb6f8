// The state machine, structure-aware: the fuzzer's bytes choose a sequence of
// commands and timestamps (tests/storage/model_run.h reads one choice at a
// time), run against the reference model of tests/storage/reference_model.h.
//
// Checks: every answer equals the model's; the invariants hold after every
// command; a snapshot restores to the same state and bytes; and the same
// choices replayed on a fresh machine give the same answers and the same
// snapshot bytes (determinism). Any difference aborts, naming it.
#include <cstdint>
#include <cstdio>

#include "fuzz_check.h"
#include "model_run.h"

namespace {

using namespace admit::storage;

// Choices read from the input, a byte at a time (4 for n above 256); zeros
// once it is used up.
class ByteChoices : public Choices {
 public:
  ByteChoices(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::uint32_t pick(std::uint32_t n) override {
    const std::size_t width = n <= 256 ? 1 : 4;
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < width; ++i) value = value << 8 | next_byte();
    return value % n;
  }
  bool exhausted() const override { return at_ >= size_; }

 private:
  std::uint8_t next_byte() { return at_ < size_ ? data_[at_++] : 0; }

  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

// Inputs are short (a few hundred commands): checking the invariants after
// every command is affordable. The replay restores no snapshot on the way,
// so it also checks that a restored machine goes on exactly as the original.
constexpr RunCadence fuzz_cadence{.invariants_every = 1, .restore_every = 128};
constexpr RunCadence replay_cadence{.invariants_every = 64, .restore_every = UINT64_MAX};
constexpr std::uint64_t commands_max = 4096;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteChoices first_choices(data, size);
  ModelRun first(first_choices, fuzz_cadence);
  if (!first.run(commands_max)) {
    std::fprintf(stderr, "state machine and model differ: %s\n", first.failure().c_str());
    fuzz_require(false, "the state machine agrees with the reference model");
  }
  ByteChoices again_choices(data, size);
  ModelRun again(again_choices, replay_cadence);
  fuzz_require(again.run(commands_max), "a replay agrees with the model too");
  fuzz_require(again.transcript() == first.transcript(), "a replay gives the same answers");
  fuzz_require(again.machine().snapshot() == first.machine().snapshot(),
               "a replay gives the same snapshot bytes");
  return 0;
}
