#include "bench/admit-bench/verdict.h"

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <string_view>

namespace admit::bench {

namespace {

bool is_live(BookingState state) {
  return state == BookingState::held || state == BookingState::confirmed;
}

Invariant pass(std::string name) { return {std::move(name), true, {}}; }
Invariant fail(std::string name, std::string detail) {
  return {std::move(name), false, std::move(detail)};
}

std::uint64_t live_seats(const ServerView& server) {
  std::uint64_t seats = 0;
  for (const auto& booking : server.bookings) {
    if (is_live(booking.state)) seats += booking.seats;
  }
  return seats;
}

Invariant check_no_oversell(const ClientView& client, const ServerView& server) {
  const char* name = "no_oversell";
  const ServerEvent& event = server.event;
  const std::uint64_t sold = std::uint64_t{event.held} + event.confirmed;
  if (sold > event.capacity) {
    return fail(name, fmt::format("server: held {} + confirmed {} > capacity {}", event.held,
                                  event.confirmed, event.capacity));
  }
  if (event.available != event.capacity - sold) {
    return fail(name, fmt::format("server: available {} != capacity {} - sold {}", event.available,
                                  event.capacity, sold));
  }
  if (live_seats(server) != sold) {
    return fail(name, fmt::format("server: live bookings hold {} seats, counters say {}",
                                  live_seats(server), sold));
  }
  std::uint64_t client_seats = 0;
  for (const auto& booking : client.live) client_seats += booking.seats;
  if (client_seats > event.capacity) {
    return fail(name, fmt::format("client: {} seats acknowledged live > capacity {}", client_seats,
                                  event.capacity));
  }
  return pass(name);
}

// A user never holds two live bookings; an ALREADY_BOOKED answer names a
// booking of that same user.
Invariant check_no_user_twice(const ClientView& client, const ServerView& server) {
  const char* name = "no_user_twice";
  absl::flat_hash_set<std::string_view> users;
  absl::flat_hash_map<std::string_view, std::string_view> user_of_ref;
  for (const auto& booking : server.bookings) {
    user_of_ref.emplace(booking.ref, booking.user);
    if (is_live(booking.state) && !users.insert(booking.user).second) {
      return fail(name, fmt::format("server: user {} has two live bookings", booking.user));
    }
  }
  users.clear();
  for (const auto& booking : client.live) {
    if (!users.insert(booking.user).second) {
      return fail(name,
                  fmt::format("client: user {} was acknowledged two live bookings", booking.user));
    }
  }
  for (const auto& answer : client.already_booked) {
    const auto found = user_of_ref.find(answer.ref);
    if (found == user_of_ref.end() || found->second != answer.user) {
      return fail(name,
                  fmt::format("ALREADY_BOOKED for user {} named ref {} of {}", answer.user,
                              answer.ref, found == user_of_ref.end() ? "nobody" : found->second));
    }
  }
  return pass(name);
}

// Positions handed out are 1..W, each once; promoted users (waitlisted, then
// booked) are the lowest positions, booked in position order; the server's
// waitlist holds the rest.
Invariant check_waitlist_fifo(const ClientView& client, const ServerView& server) {
  const char* name = "waitlist_fifo";
  absl::flat_hash_map<std::string_view, std::uint32_t> position_of;
  std::vector<std::uint32_t> positions;
  for (const auto& answer : client.waitlisted) {
    if (!position_of.emplace(answer.user, answer.position).second) {
      return fail(name, fmt::format("user {} was waitlisted twice", answer.user));
    }
    positions.push_back(answer.position);
  }
  std::sort(positions.begin(), positions.end());
  for (std::size_t i = 0; i < positions.size(); ++i) {
    if (positions[i] != i + 1) {
      return fail(name, fmt::format("positions not contiguous: expected {}, found {}", i + 1,
                                    positions[i]));
    }
  }
  std::uint32_t promoted = 0;
  for (const auto& booking : server.bookings) {
    const auto found = position_of.find(booking.user);
    if (found == position_of.end()) continue;
    ++promoted;
    if (found->second != promoted) {
      return fail(name, fmt::format("promotion #{} went to position {} (user {})", promoted,
                                    found->second, booking.user));
    }
  }
  const std::uint64_t waiting = positions.size() - promoted;
  if (server.event.waitlisted != waiting) {
    return fail(name, fmt::format("server waitlist has {} entries, expected {} ({} waitlisted - "
                                  "{} promoted)",
                                  server.event.waitlisted, waiting, positions.size(), promoted));
  }
  return pass(name);
}

Invariant check_views_agree(const ClientView& client, const ServerView& server) {
  const char* name = "views_agree";
  absl::flat_hash_map<std::string_view, const ServerBooking*> server_live;
  for (const auto& booking : server.bookings) {
    if (is_live(booking.state)) server_live.emplace(booking.ref, &booking);
  }
  for (const auto& booking : client.live) {
    const auto found = server_live.find(booking.ref);
    if (found == server_live.end()) {
      return fail(name, fmt::format("client holds {} (user {}), the server has no live booking",
                                    booking.ref, booking.user));
    }
    const ServerBooking& theirs = *found->second;
    if (theirs.user != booking.user || theirs.seats != booking.seats) {
      return fail(name, fmt::format("{}: client says {} x{}, server says {} x{}", booking.ref,
                                    booking.user, booking.seats, theirs.user, theirs.seats));
    }
  }
  if (client.live.size() != server_live.size()) {
    return fail(name, fmt::format("server has {} live bookings, client knows {}",
                                  server_live.size(), client.live.size()));
  }
  if (client.still_waiting >= 0 && server.event.waitlisted != client.still_waiting) {
    return fail(name, fmt::format("server waitlist {} != client's {}", server.event.waitlisted,
                                  client.still_waiting));
  }
  return pass(name);
}

}  // namespace

Invariant check_no_unexpected_errors(const ClientView& client) {
  const char* name = "no_unexpected_errors";
  for (int i = 0; i < outcome_count; ++i) {
    if (client.outcomes[i] > 0 && !client.expected[i]) {
      return fail(
          name, fmt::format("{} x {}", outcome_name(static_cast<Outcome>(i)), client.outcomes[i]));
    }
  }
  if (client.transport_errors > 0) {
    return fail(name, fmt::format("{} transport errors", client.transport_errors));
  }
  return pass(name);
}

std::vector<Invariant> check_invariants(const ClientView& client, const ServerView& server) {
  std::vector<Invariant> invariants;
  invariants.push_back(check_no_oversell(client, server));
  invariants.push_back(check_no_user_twice(client, server));
  invariants.push_back(check_waitlist_fifo(client, server));
  invariants.push_back(check_views_agree(client, server));
  invariants.push_back(check_no_unexpected_errors(client));
  assert(invariants.size() == 5);
  return invariants;
}

bool all_pass(const std::vector<Invariant>& invariants) {
  return std::all_of(invariants.begin(), invariants.end(),
                     [](const Invariant& invariant) { return invariant.pass; });
}

}  // namespace admit::bench
