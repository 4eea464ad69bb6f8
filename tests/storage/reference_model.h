// A deliberately naive model of the booking rules, written from the task's
// rules and DESIGN.md without looking at storage/: plain vectors, linear
// scans, no indexes, no cleverness. The randomized test compares the state
// machine with it answer by answer.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "admit/limits.h"
#include "protocol/enums.h"
#include "storage/state_machine.h"

namespace admit::storage::model {

struct Answer {
  Outcome outcome = Outcome::invalid;
  std::uint64_t ref = 0;  // serial; 0 = none
  std::uint32_t seats = 0, position = 0, length = 0;
  std::int64_t retry_after_ms = 0, opens_in_ms = 0, expires_at_ms = 0;
  BookingState booking_state = BookingState::held;  // confirm/cancel
};

struct Waiter {
  std::string user;
  std::uint32_t seats;
};

struct Bucket {
  std::int64_t milli_tokens;
  std::int64_t at_ms;
};

struct Event {
  std::string id;
  EventConfig config;
  std::uint64_t version = 1;
  std::vector<Waiter> waitlist;
  std::map<std::string, Bucket> buckets;
};

struct Booking {
  std::string event;
  std::string user;
  std::uint32_t seats;
  BookingState state;
  std::int64_t created_at_ms, expires_at_ms;
};

enum class Kind { book, confirm, cancel, leave };

struct Request {
  std::string id;
  Kind kind;
  std::string event, user;
  std::uint32_t seats;
  std::uint64_t ref;
  std::int64_t at_ms;
  Answer answer;
};

class Model {
 public:
  explicit Model(Options options) : options_(options) {}

  std::vector<Event> events;
  std::vector<Booking> bookings;  // serial = index + 1
  std::vector<Request> requests;  // oldest first

  Event* event(const std::string& id) {
    for (Event& e : events) {
      if (e.id == id) return &e;
    }
    return nullptr;
  }

  std::uint32_t seats_in(const std::string& event_id, BookingState state) const {
    std::uint32_t sum = 0;
    for (const Booking& b : bookings) {
      if (b.event == event_id && b.state == state) sum += b.seats;
    }
    return sum;
  }

  std::uint32_t available(const Event& e) const {
    const std::int64_t left = std::int64_t{e.config.capacity} - seats_in(e.id, BookingState::held) -
                              seats_in(e.id, BookingState::confirmed);
    return left > 0 ? static_cast<std::uint32_t>(left) : 0;
  }

  // 0 = the capacity; with no capacity yet, no limit.
  std::uint32_t per_user_max(const Event& e) const {
    if (e.config.per_user_max != 0) return e.config.per_user_max;
    return e.config.capacity != 0 ? e.config.capacity : seats_max;
  }

  std::uint64_t live_booking(const std::string& event_id, const std::string& user) const {
    for (std::size_t i = 0; i < bookings.size(); ++i) {
      const Booking& b = bookings[i];
      if (b.event == event_id && b.user == user &&
          (b.state == BookingState::held || b.state == BookingState::confirmed)) {
        return i + 1;
      }
    }
    return 0;
  }

  std::uint32_t waiting_position(const Event& e, const std::string& user) const {
    for (std::size_t i = 0; i < e.waitlist.size(); ++i) {
      if (e.waitlist[i].user == user) return static_cast<std::uint32_t>(i + 1);
    }
    return 0;
  }

  Answer create(const std::string& id, const EventConfig& config) {
    if (id.empty() || id.size() > event_id_size_max || !config_ok(config)) return {};
    if (event(id) != nullptr) return {};
    events.push_back({id, config, 1, {}, {}});
    return {.outcome = Outcome::ok};
  }

  Answer update(const std::string& id, const EventPatch& patch, std::int64_t now_ms) {
    Event* e = event(id);
    if (e == nullptr) return {.outcome = Outcome::not_found};
    EventConfig c = e->config;
    if (patch.capacity) c.capacity = *patch.capacity;
    if (patch.per_user_max) c.per_user_max = *patch.per_user_max;
    if (patch.hold_ttl_ms) c.hold_ttl_ms = *patch.hold_ttl_ms;
    if (patch.waitlist_max) c.waitlist_max = *patch.waitlist_max;
    if (patch.waitlist) c.waitlist = *patch.waitlist;
    if (patch.opens_at_ms) c.opens_at_ms = *patch.opens_at_ms;
    if (patch.closes_at_ms) c.closes_at_ms = *patch.closes_at_ms;
    if (patch.rate_per_s) c.rate_per_s = *patch.rate_per_s;
    if (patch.rate_burst) c.rate_burst = *patch.rate_burst;
    if (patch.state) c.state = *patch.state;
    if (!config_ok(c)) return {};
    const EventConfig& o = e->config;
    const bool same = o.capacity == c.capacity && o.per_user_max == c.per_user_max &&
                      o.hold_ttl_ms == c.hold_ttl_ms && o.waitlist_max == c.waitlist_max &&
                      o.waitlist == c.waitlist && o.opens_at_ms == c.opens_at_ms &&
                      o.closes_at_ms == c.closes_at_ms && o.rate_per_s == c.rate_per_s &&
                      o.rate_burst == c.rate_burst && o.state == c.state;
    if (!same) {
      e->config = c;
      ++e->version;
      promote(*e, now_ms);
    }
    return {.outcome = Outcome::ok};
  }

  Answer book(const BookCommand& c, std::int64_t now_ms) {
    if (c.event.empty() || c.event.size() > event_id_size_max || c.user.empty() ||
        c.user.size() > user_size_max || c.seats == 0 || c.seats > seats_max ||
        c.request_id.size() > request_id_size_max) {
      return {};
    }
    const std::string event_id(c.event), user(c.user);
    if (const Request* r = find_request(c.request_id)) {
      if (r->kind != Kind::book || r->event != event_id || r->user != user || r->seats != c.seats) {
        return {};
      }
      return r->answer;
    }
    Event* e = event(event_id);
    if (e == nullptr) return {.outcome = Outcome::not_found};
    if (const std::int64_t wait_ms = take_token(*e, user, now_ms)) {
      return {.outcome = Outcome::rate_limited, .retry_after_ms = wait_ms};
    }
    const Answer answer = decide_book(*e, c, now_ms);
    switch (answer.outcome) {
      case Outcome::booked:
      case Outcome::held:
      case Outcome::waitlisted:
      case Outcome::already_booked:
      case Outcome::sold_out:
      case Outcome::over_user_limit:
      case Outcome::not_open:
      case Outcome::closed:
        remember(c.request_id, {std::string(c.request_id), Kind::book, event_id, user, c.seats, 0,
                                now_ms, answer});
        break;
      default:
        break;
    }
    return answer;
  }

  Answer confirm_or_cancel(Kind kind, std::uint64_t serial, const std::string& request_id,
                           std::int64_t now_ms) {
    if (const Request* r = find_request(request_id)) {
      if (r->kind != kind || r->ref != serial) return {};
      return r->answer;
    }
    if (serial == 0 || serial > bookings.size()) return {.outcome = Outcome::not_found};
    // promote() appends bookings: index, never hold a reference across it.
    const auto state = [&]() -> BookingState& { return bookings[serial - 1].state; };
    Event& e = *event(bookings[serial - 1].event);
    Answer answer{.ref = serial};
    if (state() == BookingState::held && now_ms >= bookings[serial - 1].expires_at_ms) {
      state() = BookingState::expired;
      promote(e, now_ms);
      answer.outcome = Outcome::invalid;
    } else if (kind == Kind::confirm) {
      if (state() == BookingState::held) state() = BookingState::confirmed;
      answer.outcome = state() == BookingState::confirmed ? Outcome::booked : Outcome::invalid;
    } else {
      const bool was_live = state() == BookingState::held || state() == BookingState::confirmed;
      if (was_live) state() = BookingState::cancelled;
      if (was_live) promote(e, now_ms);
      answer.outcome = state() == BookingState::cancelled ? Outcome::ok : Outcome::invalid;
    }
    answer.booking_state = bookings[serial - 1].state;
    remember(request_id, {request_id, kind, "", "", 0, serial, now_ms, answer});
    return answer;
  }

  Answer leave(const std::string& event_id, const std::string& user, const std::string& request_id,
               std::int64_t now_ms) {
    if (const Request* r = find_request(request_id)) {
      if (r->kind != Kind::leave || r->event != event_id || r->user != user) return {};
      return r->answer;
    }
    Event* e = event(event_id);
    if (e == nullptr) return {.outcome = Outcome::not_found};
    const std::uint32_t position = waiting_position(*e, user);
    if (position == 0) return {.outcome = Outcome::not_found};
    Answer answer{
        .outcome = Outcome::ok, .seats = e->waitlist[position - 1].seats, .position = position};
    e->waitlist.erase(e->waitlist.begin() + (position - 1));
    promote(*e, now_ms);
    answer.length = static_cast<std::uint32_t>(e->waitlist.size());
    remember(request_id, {request_id, Kind::leave, event_id, user, 0, 0, now_ms, answer});
    return answer;
  }

  Answer position(const std::string& event_id, const std::string& user) {
    Event* e = event(event_id);
    if (e == nullptr) return {.outcome = Outcome::not_found};
    Answer answer{.length = static_cast<std::uint32_t>(e->waitlist.size())};
    if (const std::uint64_t live = live_booking(event_id, user)) {
      answer.outcome = Outcome::already_booked;
      answer.ref = live;
      answer.seats = bookings[live - 1].seats;
    } else if (const std::uint32_t p = waiting_position(*e, user)) {
      answer.outcome = Outcome::waitlisted;
      answer.position = p;
      answer.seats = e->waitlist[p - 1].seats;
    } else {
      answer.outcome = Outcome::not_found;
    }
    return answer;
  }

  std::uint32_t expire(std::int64_t now_ms) {
    std::uint32_t expired = 0;
    while (true) {
      std::uint64_t next = 0;  // the due hold with the earliest (expiry, serial)
      for (std::size_t i = 0; i < bookings.size(); ++i) {
        const Booking& b = bookings[i];
        if (b.state != BookingState::held || b.expires_at_ms > now_ms) continue;
        if (next == 0 || b.expires_at_ms < bookings[next - 1].expires_at_ms) next = i + 1;
      }
      if (next == 0) break;
      bookings[next - 1].state = BookingState::expired;
      promote(*event(bookings[next - 1].event), now_ms);
      ++expired;
    }
    std::erase_if(requests, [&](const Request& r) {
      return r.at_ms <= now_ms - options_.request_id_retention_ms;
    });
    return expired;
  }

  std::optional<std::int64_t> next_expiry() const {
    std::optional<std::int64_t> next;
    for (const Booking& b : bookings) {
      if (b.state == BookingState::held && (!next || b.expires_at_ms < *next)) {
        next = b.expires_at_ms;
      }
    }
    return next;
  }

 private:
  static bool config_ok(const EventConfig& c) {
    return c.capacity <= capacity_max && c.per_user_max <= capacity_max &&
           c.hold_ttl_ms <= hold_ttl_ms_max && c.waitlist_max <= waitlist_length_max &&
           c.opens_at_ms >= 0 && c.closes_at_ms >= 0 &&
           (c.closes_at_ms == 0 || c.closes_at_ms > c.opens_at_ms) &&
           c.rate_per_s <= rate_per_s_max && c.rate_burst <= rate_per_s_max;
  }

  const Request* find_request(std::string_view id) const {
    if (id.empty()) return nullptr;
    for (const Request& r : requests) {
      if (r.id == id) return &r;
    }
    return nullptr;
  }

  void remember(std::string_view id, Request request) {
    if (id.empty() || options_.request_ids_max == 0) return;
    if (requests.size() >= options_.request_ids_max) requests.erase(requests.begin());
    requests.push_back(std::move(request));
  }

  std::int64_t take_token(Event& e, const std::string& user, std::int64_t now_ms) {
    std::int64_t rate = e.config.rate_per_s, burst = e.config.rate_burst;
    if (rate == 0) {
      rate = options_.default_rate_per_s;
      burst = options_.default_rate_burst;
    }
    if (rate == 0) return 0;
    if (burst == 0) burst = rate;
    const std::int64_t full = burst * 1000;
    auto it = e.buckets.find(user);
    std::int64_t tokens = full;
    if (it != e.buckets.end()) {
      const std::int64_t elapsed = std::max<std::int64_t>(0, now_ms - it->second.at_ms);
      tokens = std::min(full, it->second.milli_tokens + elapsed * rate);
    }
    if (tokens < 1000) return (1000 - tokens + rate - 1) / rate;
    e.buckets[user] = {tokens - 1000, now_ms};
    return 0;
  }

  Answer decide_book(Event& e, const BookCommand& c, std::int64_t now_ms) {
    const std::string user(c.user);
    if (const std::uint64_t live = live_booking(e.id, user)) {
      return {.outcome = Outcome::already_booked, .ref = live, .seats = bookings[live - 1].seats};
    }
    if (const std::uint32_t p = waiting_position(e, user)) {
      return {.outcome = Outcome::waitlisted, .seats = e.waitlist[p - 1].seats, .position = p};
    }
    const EventConfig& cfg = e.config;
    if (cfg.state == EventState::paused) return {.outcome = Outcome::not_open};
    if (cfg.state == EventState::closed) return {.outcome = Outcome::closed};
    if (cfg.closes_at_ms != 0 && now_ms >= cfg.closes_at_ms) return {.outcome = Outcome::closed};
    if (now_ms < cfg.opens_at_ms) {
      return {.outcome = Outcome::not_open, .opens_in_ms = cfg.opens_at_ms - now_ms};
    }
    if (c.seats > per_user_max(e)) return {.outcome = Outcome::over_user_limit};
    if (c.hold && cfg.hold_ttl_ms == 0) return {};
    if (e.waitlist.empty() && c.seats <= available(e)) {
      const std::uint64_t serial = add_booking(e, user, c.seats, c.hold, now_ms);
      return {.outcome = c.hold ? Outcome::held : Outcome::booked,
              .ref = serial,
              .seats = c.seats,
              .expires_at_ms = bookings[serial - 1].expires_at_ms};
    }
    if (c.waitlist == WaitlistChoice::never ||
        (c.waitlist == WaitlistChoice::by_default && !cfg.waitlist)) {
      return {.outcome = Outcome::sold_out};
    }
    if (!cfg.waitlist) return {};
    const std::uint32_t waitlist_max =
        cfg.waitlist_max != 0 ? cfg.waitlist_max : waitlist_length_max;
    if (e.waitlist.size() >= waitlist_max) return {.outcome = Outcome::sold_out};
    e.waitlist.push_back({user, c.seats});
    return {.outcome = Outcome::waitlisted,
            .seats = c.seats,
            .position = static_cast<std::uint32_t>(e.waitlist.size())};
  }

  std::uint64_t add_booking(const Event& e, const std::string& user, std::uint32_t seats, bool hold,
                            std::int64_t now_ms) {
    bookings.push_back({e.id, user, seats, hold ? BookingState::held : BookingState::confirmed,
                        now_ms, hold ? now_ms + e.config.hold_ttl_ms : 0});
    return bookings.size();
  }

  void promote(Event& e, std::int64_t now_ms) {
    while (!e.waitlist.empty() && e.waitlist.front().seats <= available(e)) {
      const Waiter head = e.waitlist.front();
      e.waitlist.erase(e.waitlist.begin());
      add_booking(e, head.user, head.seats, e.config.hold_ttl_ms > 0, now_ms);
    }
  }

  Options options_;
};

}  // namespace admit::storage::model
