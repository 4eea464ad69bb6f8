// Shorthands for driving a StateMachine in scenario tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "storage/state_machine.h"

namespace admit::storage::testing {

inline constexpr std::int64_t t0_ms = 1'700'000'000'000;  // a plausible "now"

// Records every on_event_changed call.
class RecordingObserver : public EventObserver {
 public:
  void on_event_changed(const EventView& event) override {
    calls.push_back({std::string(event.id), event.version, event.available, event.held,
                     event.confirmed, event.waitlisted});
  }
  struct Call {
    std::string id;
    std::uint64_t version;
    std::uint32_t available, held, confirmed, waitlisted;
  };
  std::vector<Call> calls;
};

class Machine : public ::testing::Test {
 protected:
  explicit Machine(Options options = {}) : sm_(options) {}

  EventResult create(std::string_view id, EventConfig config) {
    return sm_.create_event({id, config}, now_ms_);
  }
  EventResult create_with_capacity(std::string_view id, std::uint32_t capacity) {
    EventConfig config;
    config.capacity = capacity;
    return create(id, config);
  }
  EventResult update(std::string_view id, EventPatch patch) {
    return sm_.update_event({id, patch}, now_ms_);
  }
  BookResult book(std::string_view event, std::string_view user, std::uint32_t seats = 1) {
    BookCommand command;
    command.event = event;
    command.user = user;
    command.seats = seats;
    return sm_.book(command, now_ms_);
  }
  BookResult book(const BookCommand& command) { return sm_.book(command, now_ms_); }
  BookResult hold(std::string_view event, std::string_view user, std::uint32_t seats = 1) {
    BookCommand command;
    command.event = event;
    command.user = user;
    command.seats = seats;
    command.hold = true;
    return sm_.book(command, now_ms_);
  }
  BookingResult confirm(const BookingRef& ref, std::string_view request_id = {}) {
    return sm_.confirm({ref.view(), request_id}, now_ms_);
  }
  BookingResult cancel(const BookingRef& ref, std::string_view request_id = {}) {
    return sm_.cancel({ref.view(), request_id}, now_ms_);
  }
  WaitlistResult position(std::string_view event, std::string_view user) {
    return sm_.waitlist_position(event, user);
  }
  WaitlistResult leave(std::string_view event, std::string_view user,
                       std::string_view request_id = {}) {
    return sm_.leave_waitlist({event, user, request_id}, now_ms_);
  }
  EventView event(std::string_view id) {
    const EventResult result = sm_.get_event(id);
    EXPECT_EQ(result.outcome, Outcome::ok) << id;
    return result.event;
  }
  BookingState state_of(const BookingRef& ref) { return sm_.get_booking(ref.view()).booking.state; }
  void advance(std::int64_t ms) { now_ms_ += ms; }

  StateMachine sm_;
  std::int64_t now_ms_ = t0_ms;
};

}  // namespace admit::storage::testing
