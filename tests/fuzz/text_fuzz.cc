// The texts the server parses itself: booking refs (the binary port's
// Confirm/Cancel/GetBooking/ListBookings), the outcome and state names, and
// byte sizes (--map-size). admitd's whole command line: flags_fuzz.cc.
//
// Checks: no crash or UB; a ref that parses is the canonical upper-case text,
// names a serial in 1..booking_serial_max and a shard below shards_max, and
// comes back from make(); make() -> parse() round-trips any serial and shard;
// a parsed byte size parses back from its number.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "admit/limits.h"
#include "fuzz_check.h"
#include "protocol/booking_ref.h"
#include "protocol/enums.h"
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

}  // namespace

// Input: one byte choosing the parser, then its text.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0:
      check_ref_text(text);
      check_ref_numbers(text);
      return 0;
    case 1:
      check_names(text);
      return 0;
    default:
      check_byte_size(text);
      return 0;
  }
}
