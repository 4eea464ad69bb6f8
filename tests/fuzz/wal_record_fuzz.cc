// WAL records as recovery reads them: decode() each, apply() the decoded
// command to the shard's state machine with the record's time, as replay does.
//
// Checks: no crash or UB; a refused record names its reason; a record that
// decodes is canonical (encodes back to the very same bytes, so nothing in it
// was ignored); applying any decoded record keeps the machine's invariants.
#include <xxhash.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "storage/state_machine.h"
#include "storage/wal/command.h"

namespace {

using namespace admit::storage;

// The checksum is the record's first 8 bytes: xxh3 of the rest, little-endian.
constexpr std::size_t checksum_size = 8;

void check_record(std::span<const std::uint8_t> bytes, StateMachine& machine) {
  wal::Record decoded;
  std::string why;
  if (!wal::decode(bytes, decoded, &why)) {
    fuzz_require(!why.empty(), "a refused record names its reason");
    return;
  }
  std::vector<std::uint8_t> again;
  wal::encode(decoded.kind, decoded.command, decoded.now_ms, again);
  // Records of an older format version re-encode in the current one, so
  // they must come back as the same command instead of the same bytes.
  if (bytes[checksum_size] == wal::record_format_version) {
    fuzz_require(std::vector<std::uint8_t>(bytes.begin(), bytes.end()) == again,
                 "a record that decodes encodes to the same bytes");
  } else {
    wal::Record redecoded;
    fuzz_require(wal::decode(again, redecoded, &why), "a re-encoded old record decodes");
    std::vector<std::uint8_t> twice;
    wal::encode(redecoded.kind, redecoded.command, redecoded.now_ms, twice);
    fuzz_require(twice == again, "an old record re-encodes to one stable record");
  }
  apply(machine, decoded.kind, decoded.command, decoded.now_ms);
}

}  // namespace

// Input: records, each a u16 little-endian length then that many bytes. A
// length with its top bit set asks for the record's checksum to be made right
// (so the fuzzer reaches the body); the other 15 bits are the length.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  StateMachine machine(Options{});
  std::vector<std::uint8_t> record;
  std::size_t at = 0;
  while (size - at >= 2) {
    const std::size_t header = data[at] | std::size_t{data[at + 1]} << 8;
    at += 2;
    const std::size_t length = std::min(header & 0x7fff, size - at);
    record.assign(data + at, data + at + length);
    at += length;
    if ((header & 0x8000) != 0 && record.size() >= checksum_size) {
      const std::uint64_t sum =
          XXH3_64bits(record.data() + checksum_size, record.size() - checksum_size);
      for (std::size_t i = 0; i < checksum_size; ++i) {
        record[i] = static_cast<std::uint8_t>(sum >> (8 * i));
      }
    }
    check_record(record, machine);
  }
  machine.check_invariants();
  return 0;
}
