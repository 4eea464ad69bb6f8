// Every text the server parses itself: booking refs (the binary port's
// Confirm/Cancel/GetBooking/ListBookings), the outcome and state names, and
// admitd's command line (its own HOST:PORT and byte-size parsers, and the
// ranges CLI11 checks).
//
// Checks: no crash or UB; a ref that parses is the canonical upper-case text,
// names a serial in 1..booking_serial_max and a shard below shards_max, and
// comes back from make(); make() -> parse() round-trips any serial and shard;
// a parsed byte size parses back from its number; options that parse are
// within their documented limits.
#include <cstdint>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fuzz_check.h"
#include "protocol/booking_ref.h"
#include "protocol/enums.h"
#include "protocol/protocol_limits.h"
#include "server/server_limits.h"
#include "server/server_options.h"

namespace {

using namespace admit;

void check_ref_text(std::string_view text) {
  const auto ref = BookingRef::parse(text);
  if (!ref) return;
  std::string upper(text);
  for (char& c : upper) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
  fuzz_require(ref->view() == upper, "a parsed ref is its text in upper case");
  fuzz_require(ref->serial() >= 1 && ref->serial() <= booking_serial_max, "serial in range");
  fuzz_require(ref->shard() < shards_max, "shard in range");
  fuzz_require(BookingRef::make(ref->serial(), ref->shard()) == *ref, "make() gives it back");
}

void check_ref_numbers(std::string_view bytes) {
  std::uint64_t raw = 0;
  std::memcpy(&raw, bytes.data(), std::min(bytes.size(), sizeof raw));
  const std::uint64_t serial = 1 + raw % booking_serial_max;
  const auto shard = static_cast<std::uint32_t>((raw >> 40) % shards_max);
  const BookingRef made = BookingRef::make(serial, shard);
  const auto parsed = BookingRef::parse(made.view());
  fuzz_require(parsed.has_value() && *parsed == made, "a made ref parses");
  fuzz_require(parsed->serial() == serial && parsed->shard() == shard, "serial and shard kept");
}

void check_names(std::string_view text) {
  if (const auto outcome = outcome_from_name(text)) {
    fuzz_require(outcome_name(*outcome) == text, "an outcome name round-trips");
  }
  if (const auto state = event_state_from_name(text)) {
    fuzz_require(event_state_name(*state) == text, "a state name round-trips");
  }
}

void check_byte_size(std::string_view text) {
  const auto bytes = server::parse_byte_size(text);
  if (!bytes) return;
  fuzz_require(server::parse_byte_size(std::to_string(*bytes)) == bytes,
               "a byte size parses back from its number");
}

// NUL-separated arguments after "admitd".
void check_command_line(std::string_view text) {
  constexpr std::size_t arguments_max = 24;
  std::vector<std::string> arguments{"admitd"};
  std::size_t start = 0;
  while (start <= text.size() && arguments.size() < arguments_max) {
    const std::size_t end = std::min(text.find('\0', start), text.size());
    arguments.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  const server::ParsedOptions parsed =
      server::parse_options(static_cast<int>(arguments.size()), argv.data());
  const auto* options = std::get_if<server::ServerOptions>(&parsed);
  if (options == nullptr) return;
  fuzz_require(options->shards >= 1 && options->shards <= shards_max, "--shards in range");
  fuzz_require(options->listen_port != 0 && options->listen_port + options->shards <= 65535,
               "shard ports fit");
  fuzz_require((options->ring_slots & (options->ring_slots - 1)) == 0 && options->ring_slots != 0,
               "--ring-size a power of two");
  fuzz_require(options->map_size_bytes <= options->map_size_max_bytes, "--map-size within max");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // parse_options() explains refusals on std::cerr and --help on std::cout:
  // silenced, or the fuzzer would spend its time printing.
  std::cout.rdbuf(nullptr);
  std::cerr.rdbuf(nullptr);
  return 0;
}

// Input: one byte choosing the parser, then its text.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0:
      check_ref_text(text);
      check_ref_numbers(text);
      return 0;
    case 1:
      check_names(text);
      return 0;
    case 2:
      check_byte_size(text);
      return 0;
    default:
      check_command_line(text);
      return 0;
  }
}
