#include "tests/durability/durability_support.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <utility>

namespace admit::test {

AdmitdOptions admitd_options(std::uint32_t shards, const std::string& durability,
                             std::vector<std::string> extra_args) {
  AdmitdOptions options;
  options.shards = shards;
  options.durability = durability;
  options.extra_args = std::move(extra_args);
  return options;
}

ClientOptions crash_client_options(const AdmitdProcess& server, bool shard_aware) {
  ClientOptions options;
  options.host = server.host();
  options.port = server.port();
  options.shard_aware = shard_aware;
  options.connect_timeout = std::chrono::milliseconds(1000);
  options.request_timeout = std::chrono::milliseconds(3000);
  options.attempts_max = 1;
  options.auto_request_ids = false;
  return options;
}

std::vector<EventInfo> all_events(Client& client) {
  std::vector<EventInfo> events;
  std::string after;
  for (int page = 0; page < 10'000; ++page) {
    const Result<EventPage> listed = client.list_events(after, list_limit_max);
    if (!listed.ok()) {
      ADD_FAILURE() << "ListEvents: " << listed.status().to_string();
      break;
    }
    events.insert(events.end(), listed->events.begin(), listed->events.end());
    if (listed->next_after.empty()) break;
    after = listed->next_after;
  }
  return events;
}

std::vector<BookingInfo> all_bookings(Client& client, const std::vector<EventInfo>& events) {
  std::vector<BookingInfo> bookings;
  for (const EventInfo& event : events) {
    std::string after;
    for (int page = 0; page < 100'000; ++page) {
      const Result<BookingPage> listed = client.list_bookings(event.id, after, list_limit_max);
      if (!listed.ok()) {
        ADD_FAILURE() << "ListBookings " << event.id << ": " << listed.status().to_string();
        break;
      }
      bookings.insert(bookings.end(), listed->bookings.begin(), listed->bookings.end());
      if (listed->next_after.empty()) break;
      after = listed->next_after;
    }
  }
  return bookings;
}

namespace {

nlohmann::json event_json(const EventInfo& e) {
  return {{"id", e.id},
          {"capacity", e.capacity},
          {"per_user_max", e.per_user_max},
          {"hold_ttl_ms", e.hold_ttl_ms},
          {"waitlist", e.waitlist},
          {"waitlist_max", e.waitlist_max},
          {"opens_at_ms", e.opens_at_ms},
          {"closes_at_ms", e.closes_at_ms},
          {"rate_per_s", e.rate_per_s},
          {"rate_burst", e.rate_burst},
          {"state", event_state_name(e.state)},
          {"version", e.version},
          {"available", e.available},
          {"held", e.held},
          {"confirmed", e.confirmed},
          {"waitlisted", e.waitlisted}};
}

nlohmann::json booking_json(const BookingInfo& b) {
  return {{"ref", b.ref},
          {"event", b.event},
          {"user", b.user},
          {"seats", b.seats},
          {"state", booking_state_name(b.state)},
          {"created_at_ms", b.created_at_ms},
          {"expires_at_ms", b.expires_at_ms}};
}

}  // namespace

std::string dump_state(Client& client, const std::vector<std::string>& users) {
  const std::vector<EventInfo> events = all_events(client);
  std::vector<BookingInfo> bookings = all_bookings(client, events);
  std::sort(bookings.begin(), bookings.end(),
            [](const BookingInfo& a, const BookingInfo& b) { return a.ref < b.ref; });
  nlohmann::json dump = {{"events", nlohmann::json::array()},
                         {"bookings", nlohmann::json::array()},
                         {"waitlists", nlohmann::json::array()}};
  for (const EventInfo& event : events) dump["events"].push_back(event_json(event));
  for (const BookingInfo& booking : bookings) dump["bookings"].push_back(booking_json(booking));
  for (const EventInfo& event : events) {
    if (!event.waitlist) continue;
    for (const std::string& user : users) {
      const Result<WaitlistInfo> position = client.waitlist_position(event.id, user);
      if (!position.answered()) {
        ADD_FAILURE() << "WaitlistPosition: " << position.status().to_string();
        continue;
      }
      if (position.outcome() != Outcome::waitlisted) continue;
      dump["waitlists"].push_back({{"event", event.id},
                                   {"user", user},
                                   {"position", position->position},
                                   {"seats", position->seats},
                                   {"length", position->length}});
    }
  }
  return dump.dump(1);  // nlohmann::json objects keep their keys sorted
}

void expect_invariants(const std::vector<EventInfo>& events,
                       const std::vector<BookingInfo>& bookings) {
  struct Seats {
    std::uint64_t held = 0, confirmed = 0;
  };
  std::map<std::string, Seats> seats;
  std::set<std::pair<std::string, std::string>> live;  // (event, user)
  for (const BookingInfo& b : bookings) {
    const bool is_live = b.state == BookingState::held || b.state == BookingState::confirmed;
    if (!is_live) continue;
    EXPECT_TRUE(live.emplace(b.event, b.user).second)
        << "two live bookings of user " << b.user << " on " << b.event;
    (b.state == BookingState::held ? seats[b.event].held : seats[b.event].confirmed) += b.seats;
  }
  for (const EventInfo& e : events) {
    const Seats& listed = seats[e.id];
    EXPECT_EQ(e.held, listed.held) << e.id;
    EXPECT_EQ(e.confirmed, listed.confirmed) << e.id;
    EXPECT_LE(std::uint64_t{e.held} + e.confirmed, e.capacity) << e.id;
    const std::uint64_t sold = std::uint64_t{e.held} + e.confirmed;
    EXPECT_EQ(e.available, sold >= e.capacity ? 0 : e.capacity - sold) << e.id;
  }
}

AdmitdRun run_admitd_after_stop(const std::string& args) {
  // The kernel tears an exited process's io_uring down asynchronously, so the
  // listening sockets of an admitd just stopped may hold its port a moment
  // longer (after kill -9 sometimes for seconds): a start that finds the port
  // in use is tried again, for up to a minute.
  constexpr int port_in_use_attempts_max = 240;
  constexpr auto port_in_use_wait = std::chrono::milliseconds(250);
  constexpr int run_timeout_s = 60;
  AdmitdRun run = run_admitd(args, run_timeout_s);
  for (int attempt = 1; attempt < port_in_use_attempts_max &&
                        run.output.find("is already in use") != std::string::npos;
       ++attempt) {
    std::this_thread::sleep_for(port_in_use_wait);
    run = run_admitd(args, run_timeout_s);
  }
  return run;
}

}  // namespace admit::test
