// CreateEvent and UpdateEvent.
#include <tuple>

#include "storage/internal.h"
#include "storage/validate.h"

namespace admit::storage {

using detail::Event;

namespace {

auto config_fields(const EventConfig& c) {
  return std::tie(c.capacity, c.per_user_max, c.hold_ttl_ms, c.waitlist, c.waitlist_max,
                  c.opens_at_ms, c.closes_at_ms, c.rate_per_s, c.rate_burst, c.state);
}

bool same_config(const EventConfig& a, const EventConfig& b) {
  return config_fields(a) == config_fields(b);
}

}  // namespace

EventResult StateMachine::create_event(const CreateEventCommand& command, std::int64_t) {
  if (const Reason why = check_new_event_id(command.id); why != Reason::none) {
    return {Outcome::invalid, why, {}};
  }
  if (const Reason why = check_event_config(command.config); why != Reason::none) {
    return {Outcome::invalid, why, {}};
  }
  if (const Event* existing = impl_->find_event(command.id); existing != nullptr) {
    if (command.same_is_ok && same_config(command.config, existing->config)) {
      return {Outcome::ok, Reason::event_exists, impl_->view(*existing)};
    }
    return {Outcome::invalid, Reason::event_exists, {}};
  }
  impl_->add_event(command.id, command.config, 1);
  ++impl_->change_count;
  const Event& event = *impl_->events.back();
  impl_->notify(event);
  return {Outcome::ok, Reason::none, impl_->view(event)};
}

EventResult StateMachine::update_event(const UpdateEventCommand& command, std::int64_t now_ms) {
  if (const Reason why = check_event_id(command.id); why != Reason::none) {
    return {Outcome::invalid, why, {}};
  }
  Event* event = impl_->find_event(command.id);
  if (event == nullptr) return {Outcome::not_found, Reason::no_such_event, {}};
  if (const Reason why = check_event_patch(command.patch, event->config); why != Reason::none) {
    return {Outcome::invalid, why, {}};
  }
  const EventConfig next = patched(event->config, command.patch);
  if (same_config(next, event->config)) return {Outcome::ok, Reason::none, impl_->view(*event)};

  const std::uint32_t capacity_before = event->config.capacity;
  event->config = next;
  ++event->version;
  ++impl_->change_count;
  const std::uint32_t sold = event->held + event->confirmed;
  if (next.capacity < capacity_before && sold > next.capacity) {
    // Nothing is revoked: the event stays over its new capacity until releases.
    event->sold_at_lowering = std::max(event->sold_at_lowering, sold);
  }
  if (next.capacity > capacity_before) {
    if (sold <= next.capacity) event->sold_at_lowering = 0;
    impl_->promote(*event, now_ms);
  }
  Impl::assert_seats(*event);
  impl_->notify(*event);
  return {Outcome::ok, Reason::none, impl_->view(*event)};
}

}  // namespace admit::storage
