#include "watch_table.h"

#include "protocol/framing.h"

namespace admit {

WatchTable::Watch& WatchTable::add(std::string_view event) {
  auto found = watches_.find(event);
  if (found != watches_.end()) return found->second;
  return watches_.emplace(std::string(event), Watch{}).first->second;
}

WatchTable::Watch* WatchTable::find(std::string_view event) {
  auto found = watches_.find(event);
  return found == watches_.end() ? nullptr : &found->second;
}

void WatchTable::remove(std::string_view event) {
  auto found = watches_.find(event);
  if (found != watches_.end()) watches_.erase(found);
}

bool WatchTable::needs_send(const Watch& watch) {
  return watch.connection == nullptr || !watch.connection->is_open() ||
         watch.connection->link() != watch.link;
}

bool WatchTable::any_needs_send() const {
  for (const auto& [event, watch] : watches_) {
    if (needs_send(watch)) return true;
  }
  return false;
}

ReplyCallback WatchTable::sent(std::string_view event, Connection& connection, ReplyCallback user) {
  Watch& watch = add(event);
  // Sent again on the socket it lives on (an idempotent repeat): the server
  // goes on with the same sequence, so what was seen stays.
  if (needs_send(watch) || watch.connection != &connection) {
    watch.connection = &connection;
    watch.link = connection.link();
    watch.seen = false;
    watch.last_seq = 0;
  }
  const std::uint64_t ticket = ++next_ticket_;
  pending_.emplace(ticket, Pending{std::string(event), connection.link(), std::move(user)});
  return [this, ticket](const ReplyView& reply) { answered(ticket, reply); };
}

void WatchTable::answered(std::uint64_t ticket, const ReplyView& reply) {
  auto node = pending_.extract(ticket);
  if (node.empty()) return;
  Pending& pending = node.mapped();
  const Watch* watch = find(pending.event);
  // A refusal of the Watch the table still waits on drops it (NOT_FOUND: no
  // such event, INVALID: too many watches): sending it again would not help.
  // A transport failure leaves it to be sent again on the next connection.
  const bool refused = reply.error() == ClientError::none && !outcome_is_success(reply.outcome());
  if (refused && watch != nullptr && watch->link == pending.link) {
    remove(pending.event);
    if (!pending.user) report(pending.event, reply.status());
  }
  if (pending.user) pending.user(reply);
}

void WatchTable::report(std::string_view event, const Status& failure) {
  if (error_handler_) error_handler_(event, failure);
}

void WatchTable::deliver(const wire::Update& update, std::uint64_t link,
                         Clock::time_point received_at) {
  if (update.event() == nullptr) return;
  const std::string_view event(update.event()->data(), update.event()->size());
  Watch* watch = find(event);
  // Not watched (any more), or pushed on a socket the watch no longer lives on.
  if (watch == nullptr || watch->link != link) return;
  // Never an older state after a newer one, whatever the server sends.
  if (watch->seen && update.seq() <= watch->last_seq) return;
  WatchUpdateView view;
  view.event = event;
  view.seq = update.seq();
  view.version = update.version();
  view.state = from_wire(update.state());
  view.capacity = update.capacity();
  view.available = update.available();
  view.held = update.held();
  view.confirmed = update.confirmed();
  view.waitlisted = update.waitlisted();
  view.watchers = update.watchers();
  view.first = !watch->seen;
  view.received_at = received_at;
  watch->seen = true;
  watch->last_seq = update.seq();
  // Last: the handler may unwatch (erasing `watch`) or watch more.
  if (handler_) handler_(view);
}

WatchUpdate WatchUpdateView::copy() const {
  WatchUpdate out;
  out.event = std::string(event);
  out.seq = seq;
  out.version = version;
  out.state = state;
  out.capacity = capacity;
  out.available = available;
  out.held = held;
  out.confirmed = confirmed;
  out.waitlisted = waitlisted;
  out.watchers = watchers;
  out.first = first;
  return out;
}

}  // namespace admit
