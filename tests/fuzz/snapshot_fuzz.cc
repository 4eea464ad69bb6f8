// Checkpoints as recovery loads them: StateMachine::restore() of the bytes a
// checkpoint stored, into a fresh machine.
//
// Checks: no crash or UB; a refused snapshot names its reason and leaves the
// machine empty; a loaded one keeps every invariant (check_invariants()
// aborts otherwise), is canonical (snapshot() gives back the same bytes), and
// keeps working: commands on it keep the invariants.
#include <xxhash.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "storage/state_machine.h"

namespace {

using namespace admit;
using namespace admit::storage;

// A snapshot ends with 8 bytes: xxh3 of what precedes, little-endian.
constexpr std::size_t checksum_size = 8;
constexpr std::int64_t t0_ms = 1'700'000'000'000;

// A few commands touching every structure a snapshot holds.
void exercise(StateMachine& machine) {
  const storage::EventPage page = machine.list_events("", list_limit_max);
  std::vector<std::string> ids;
  for (const EventView& event : page.events) ids.emplace_back(event.id);
  for (const std::string& id : ids) {
    machine.book({.event = id, .user = "fuzz-a", .seats = 1, .request_id = "fuzz-r"}, t0_ms);
    machine.book({.event = id, .user = "fuzz-b", .seats = 2, .hold = true}, t0_ms);
    machine.leave_waitlist({.event = id, .user = "fuzz-c"}, t0_ms);
    machine.update_event({.id = id, .patch = {.capacity = 1000}}, t0_ms);
    const storage::BookingPage bookings = machine.list_bookings(id, "", list_limit_max);
    std::vector<std::string> refs;
    for (const BookingView& booking : bookings.bookings) refs.emplace_back(booking.ref.view());
    for (const std::string& ref : refs) machine.cancel({.ref = ref}, t0_ms);
  }
  machine.expire(INT64_MAX / 2);
  machine.check_invariants();
}

}  // namespace

// Input: one flag byte (bit 0: append the right checksum, so the fuzzer
// reaches the body), then the snapshot bytes.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::vector<std::uint8_t> bytes(data + 1, data + size);
  if ((data[0] & 1) != 0) {
    const std::uint64_t sum = XXH3_64bits(bytes.data(), bytes.size());
    for (std::size_t i = 0; i < checksum_size; ++i) {
      bytes.push_back(static_cast<std::uint8_t>(sum >> (8 * i)));
    }
  }
  StateMachine machine(Options{});
  std::string why;
  if (!machine.restore(bytes, &why)) {
    fuzz_require(!why.empty(), "a refused snapshot names its reason");
    fuzz_require(machine.dump() == StateMachine(Options{}).dump(),
                 "a refused snapshot leaves the machine empty");
    return 0;
  }
  machine.check_invariants();
  fuzz_require(machine.snapshot() == bytes, "a loaded snapshot is saved as the same bytes");
  exercise(machine);
  return 0;
}
