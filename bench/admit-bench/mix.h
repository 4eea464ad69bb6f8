// The --mix flag of the throughput scenario: "book=80,get=15,cancel=5".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace admit::bench {

struct Mix {
  std::uint32_t book = 100, get = 0, cancel = 0;  // percent, adding up to 100
};

// Names may come in any order and be left out (0); each at most once; the
// percentages must add up to 100. False with `why` naming the problem.
bool parse_mix(std::string_view text, Mix* mix, std::string* why);

}  // namespace admit::bench
