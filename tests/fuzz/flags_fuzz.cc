// admitd's command line as main() parses it: parse_options() over CLI11 with
// its own HOST:PORT and byte-size parsers and the ranges of server_limits.h.
//
// Checks: no crash or UB; options that parse are within their documented
// limits.
#include <cstdint>
#include <iostream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "admit/limits.h"
#include "fuzz_check.h"
#include "server/server_options.h"

namespace {

using namespace admit;

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

// Input: the arguments after "admitd", separated by NUL bytes.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_command_line(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
