// The verdict of a scenario run: what the client saw against what the server
// says after the run. Pure logic over plain data (no network), so tests can
// feed it hand-made histories, good and bad.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/enums.h"

namespace admit::bench {

// One booking as the server lists it (ListBookings, creation order).
struct ServerBooking {
  std::string ref;
  std::string user;
  std::uint32_t seats = 0;
  BookingState state = BookingState::held;
};

// The server's counters of the event (GetEvent) after the run.
struct ServerEvent {
  std::uint32_t capacity = 0;
  std::uint32_t available = 0;
  std::uint32_t held = 0;
  std::uint32_t confirmed = 0;
  std::uint32_t waitlisted = 0;
};

// A booking the client believes is live at the end (acknowledged BOOKED or
// HELD, or found after a promotion, and not cancelled or expired since).
struct ClientBooking {
  std::string ref;
  std::string user;
  std::uint32_t seats = 0;
};

// A WAITLISTED answer: the user and the position the server gave.
struct WaitlistAnswer {
  std::string user;
  std::uint32_t position = 0;
};

// An ALREADY_BOOKED answer: the user and the ref it named.
struct AlreadyBookedAnswer {
  std::string user;
  std::string ref;
};

struct ClientView {
  std::vector<ClientBooking> live;  // one per ref
  // Every ref ever acknowledged BOOKED or HELD to a user (live or not since).
  std::vector<ClientBooking> acknowledged;
  std::vector<WaitlistAnswer> waitlisted;
  std::vector<AlreadyBookedAnswer> already_booked;
  // Users still waiting at the end, as far as the client knows (waitlisted
  // and not promoted); -1 when the scenario cannot tell.
  std::int64_t still_waiting = -1;
  std::array<std::uint64_t, outcome_count> outcomes{};
  std::array<bool, outcome_count> expected{};  // outcomes the scenario may get
  std::uint64_t transport_errors = 0;          // connection lost, timeouts
};

struct ServerView {
  ServerEvent event;
  std::vector<ServerBooking> bookings;  // all states, creation order
};

struct Invariant {
  std::string name;
  bool pass = false;
  std::string detail;  // why it failed (first offence), empty on PASS
};

// The five checks of every run, in this order: no_oversell, no_user_twice,
// waitlist_fifo, views_agree, no_unexpected_errors.
std::vector<Invariant> check_invariants(const ClientView& client, const ServerView& server);

// The last of the five alone: every outcome was one the scenario expects and
// no request failed on the client side.
Invariant check_no_unexpected_errors(const ClientView& client);

bool all_pass(const std::vector<Invariant>& invariants);

}  // namespace admit::bench
