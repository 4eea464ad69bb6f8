#include "bench/admit-bench/mix.h"

#include <charconv>

namespace admit::bench {

bool parse_mix(std::string_view text, Mix* mix, std::string* why) {
  Mix parsed{0, 0, 0};
  bool seen[3] = {false, false, false};
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const std::size_t equals = item.find('=');
    if (equals == std::string_view::npos) {
      *why = "--mix: '" + std::string(item) + "' is not NAME=PERCENT";
      return false;
    }
    const std::string_view name = item.substr(0, equals);
    const std::string_view number = item.substr(equals + 1);
    std::uint32_t percent = 0;
    const auto [end, error] =
        std::from_chars(number.data(), number.data() + number.size(), percent);
    if (error != std::errc{} || end != number.data() + number.size() || percent > 100) {
      *why = "--mix: '" + std::string(number) + "' is not a percentage 0..100";
      return false;
    }
    int slot = name == "book" ? 0 : name == "get" ? 1 : name == "cancel" ? 2 : -1;
    if (slot < 0) {
      *why = "--mix: unknown operation '" + std::string(name) + "' (book, get, cancel)";
      return false;
    }
    if (seen[slot]) {
      *why = "--mix: '" + std::string(name) + "' given twice";
      return false;
    }
    seen[slot] = true;
    (slot == 0 ? parsed.book : slot == 1 ? parsed.get : parsed.cancel) = percent;
  }
  if (parsed.book + parsed.get + parsed.cancel != 100) {
    *why = "--mix: percentages add up to " +
           std::to_string(parsed.book + parsed.get + parsed.cancel) + ", not 100";
    return false;
  }
  *mix = parsed;
  return true;
}

}  // namespace admit::bench
