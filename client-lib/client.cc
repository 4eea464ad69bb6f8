#include "admit/client.h"

#include <array>
#include <charconv>
#include <thread>

#include "admit/async_client.h"
#include "codec.h"
#include "session.h"

namespace admit {

// ---- Status and helpers ----

std::string_view client_error_name(ClientError error) {
  static constexpr std::array<std::string_view, 7> names = {
      "none",      "invalid_argument", "could_not_connect", "connection_lost",
      "timed_out", "protocol_error",   "in_flight_full",
  };
  const auto index = static_cast<std::size_t>(error);
  return index < names.size() ? names[index] : std::string_view("unknown");
}

Status Status::answer(Outcome outcome, std::string message) {
  Status s;
  s.outcome_ = outcome;
  s.message_ = std::move(message);
  return s;
}

Status Status::failure(ClientError error, std::string message) {
  Status s;
  s.error_ = error;
  s.outcome_ = Outcome::invalid;
  s.message_ = std::move(message);
  return s;
}

std::string Status::to_string() const {
  std::string head(answered() ? outcome_name(outcome_) : client_error_name(error_));
  return message_.empty() ? head : head + ": " + message_;
}

namespace {

// "'text' what". Appends in place: GCC 12 at -O3 warns (-Wrestrict, a false
// positive) on "'" + std::string(...) + "...".
std::string quoted(std::string_view text, std::string_view what) {
  std::string out;
  out.reserve(text.size() + what.size() + 3);
  out.push_back('\'');
  out.append(text);
  out.append("' ");
  out.append(what);
  return out;
}

}  // namespace

bool parse_address(std::string_view address, ClientOptions* options, std::string* why) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == address.size()) {
    *why = quoted(address, "is not HOST:PORT (like 127.0.0.1:7400)");
    return false;
  }
  const std::string_view port_text = address.substr(colon + 1);
  const char* port_end = port_text.data() + port_text.size();
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_end, port);
  if (ec != std::errc() || end != port_end || port == 0 || port > 65535) {
    *why = quoted(port_text, "is not a port (1..65535)");
    return false;
  }
  std::string_view host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);  // [::1]:7400
  }
  options->host = std::string(host);
  options->port = static_cast<std::uint16_t>(port);
  return true;
}

// ---- Client ----

Client::Client(ClientOptions options) : session_(std::make_unique<Session>(std::move(options))) {
  session_->watches().set_handler([this](const WatchUpdateView& update) { keep(update); });
  // Only refusals: a re-watch's transport failure is next_update()'s own answer.
  session_->watches().set_error_handler([this](std::string_view, const Status& status) {
    if (status.answered()) watch_failures_.push_back(status);
  });
}
Client::~Client() = default;

Result<HelloInfo> Client::connect() { return session_->connect_base(); }
const HelloInfo& Client::hello() const { return session_->hello(); }
std::uint16_t Client::last_port() const { return last_port_; }
std::int32_t Client::last_shard() const { return last_shard_; }

// One operation with retries, routed by (op, key); `encode(builder)` writes
// it. After a transport failure it is tried again (with backoff) if that is
// safe: the op's Retry given its request id (protocol/operations.h), or
// nothing sent yet.
template <typename T, typename Encode>
Result<T> Client::call(Op op, std::string_view key, bool has_request_id, Encode&& encode) {
  const ClientOptions& options = session_->options();
  auto backoff = options.retry_backoff;
  Result<T> result;
  for (int attempt = 1; attempt <= std::max(1, options.attempts_max); ++attempt) {
    Status failure;
    Connection* connection = session_->connection_for(client_routing(op), key, &failure);
    bool sent = false;
    if (connection != nullptr) {
      bool done = false;
      connection->add(encode, [&result, &done](const ReplyView& reply) {
        T value;
        if (reply.error() == ClientError::none) codec::decode(reply, &value);
        result = Result<T>(reply.status(), std::move(value));
        done = true;
      });
      sent = true;
      connection->await(done, Clock::now() + options.request_timeout);
      if (result.answered()) {
        last_port_ = connection->port();
        last_shard_ = connection->shard();
        return result;
      }
      failure = result.status();
    }
    const bool may_retry = is_transport_failure(failure.error()) &&
                           (retry_safe(op, has_request_id) ||
                            failure.error() == ClientError::could_not_connect || !sent);
    if (!may_retry || attempt == options.attempts_max) return failure;
    std::this_thread::sleep_for(backoff);
    backoff *= 2;
  }
  return result;
}

Result<EventInfo> Client::create_event(const EventSpec& spec) {
  if (Status s = codec::check_event_spec(spec); !s.answered()) return s;
  // CreateEvent carries no request id: a retry after a lost answer says INVALID
  // (the id exists), which is the truth.
  return call<EventInfo>(Op::create_event, spec.id, false,
                         [&](codec::Builder& b) { return codec::encode_create_event(b, spec); });
}

Result<EventInfo> Client::update_event(const EventUpdate& update) {
  if (Status s = codec::check_event_update(update); !s.answered()) return s;
  // Applying the same patch twice leaves the same config (only version moves).
  return call<EventInfo>(Op::update_event, update.id, false,
                         [&](codec::Builder& b) { return codec::encode_update_event(b, update); });
}

Result<EventInfo> Client::get_event(std::string_view id) {
  if (Status s = codec::check_event_id(id, "id"); !s.answered()) return s;
  return call<EventInfo>(Op::get_event, id, false,
                         [&](codec::Builder& b) { return codec::encode_get_event(b, id); });
}

Result<EventPage> Client::list_events(std::string_view after, std::uint32_t limit) {
  if (Status s = codec::check_limit(limit); !s.answered()) return s;
  return call<EventPage>(Op::list_events, {}, false, [&](codec::Builder& b) {
    return codec::encode_list_events(b, after, limit);
  });
}

Result<BookReply> Client::book(const BookRequest& request) {
  if (Status s = codec::check_book(request); !s.answered()) return s;
  BookRequest with_id = request;
  std::string own_id;
  with_id.request_id = session_->request_id_or_new(request.request_id, own_id);
  return call<BookReply>(Op::book, request.event, !with_id.request_id.empty(),
                         [&](codec::Builder& b) { return codec::encode_book(b, with_id); });
}

Result<BookingInfo> Client::confirm(std::string_view ref, std::string_view request_id) {
  if (Status s = codec::check_ref(ref); !s.answered()) return s;
  if (Status s = codec::check_request_id(request_id); !s.answered()) return s;
  std::string own_id;
  request_id = session_->request_id_or_new(request_id, own_id);
  // Confirming twice is BOOKED twice: safe to retry even without an id.
  return call<BookingInfo>(Op::confirm, ref, !request_id.empty(), [&](codec::Builder& b) {
    return codec::encode_confirm(b, ref, request_id);
  });
}

Result<BookingInfo> Client::cancel(std::string_view ref, std::string_view request_id) {
  if (Status s = codec::check_ref(ref); !s.answered()) return s;
  if (Status s = codec::check_request_id(request_id); !s.answered()) return s;
  std::string own_id;
  request_id = session_->request_id_or_new(request_id, own_id);
  // Cancelling a cancelled booking is OK: safe to retry even without an id.
  return call<BookingInfo>(Op::cancel, ref, !request_id.empty(), [&](codec::Builder& b) {
    return codec::encode_cancel(b, ref, request_id);
  });
}

Result<BookingInfo> Client::get_booking(std::string_view ref) {
  if (Status s = codec::check_ref(ref); !s.answered()) return s;
  return call<BookingInfo>(Op::get_booking, ref, false,
                           [&](codec::Builder& b) { return codec::encode_get_booking(b, ref); });
}

Result<BookingPage> Client::list_bookings(std::string_view event, std::string_view after,
                                          std::uint32_t limit) {
  if (Status s = codec::check_event_id(event); !s.answered()) return s;
  if (Status s = codec::check_limit(limit); !s.answered()) return s;
  return call<BookingPage>(Op::list_bookings, event, false, [&](codec::Builder& b) {
    return codec::encode_list_bookings(b, event, after, limit);
  });
}

Result<WaitlistInfo> Client::waitlist_position(std::string_view event, std::string_view user) {
  if (Status s = codec::check_event_id(event); !s.answered()) return s;
  if (Status s = codec::check_user(user); !s.answered()) return s;
  return call<WaitlistInfo>(Op::waitlist_position, event, false, [&](codec::Builder& b) {
    return codec::encode_waitlist_position(b, event, user);
  });
}

Result<WaitlistInfo> Client::leave_waitlist(std::string_view event, std::string_view user,
                                            std::string_view request_id) {
  if (Status s = codec::check_event_id(event); !s.answered()) return s;
  if (Status s = codec::check_user(user); !s.answered()) return s;
  if (Status s = codec::check_request_id(request_id); !s.answered()) return s;
  std::string own_id;
  request_id = session_->request_id_or_new(request_id, own_id);
  return call<WaitlistInfo>(Op::leave_waitlist, event, !request_id.empty(), [&](codec::Builder& b) {
    return codec::encode_leave_waitlist(b, event, user, request_id);
  });
}

Result<StatsInfo> Client::stats() {
  return call<StatsInfo>(Op::stats, {}, false,
                         [&](codec::Builder& b) { return codec::encode_stats(b); });
}

}  // namespace admit

namespace admit {

// ---- Client: watches ----

void Client::keep(const WatchUpdateView& update) {
  // One per event, in arrival order: a newer state replaces the one waiting.
  for (WatchUpdate& waiting : updates_) {
    if (waiting.event != update.event) continue;
    const bool first = waiting.first || update.first;
    waiting = update.copy();
    waiting.first = first;
    return;
  }
  updates_.push_back(update.copy());
}

Status Client::watch(std::string_view event) {
  if (Status s = codec::check_event_id(event); !s.answered()) return s;
  const ClientOptions& options = session_->options();
  auto backoff = options.retry_backoff;
  Status result;
  for (int attempt = 1;; ++attempt) {
    bool done = false;
    Status failure;
    Connection* connection = session_->submit_watch(
        event,
        [&result, &done](const ReplyView& reply) {
          result = reply.status();
          done = true;
        },
        &failure);
    if (connection != nullptr) {
      connection->await(done, Clock::now() + options.request_timeout);
      if (result.answered()) return result;
      failure = result;
    }
    // Watch is idempotent: a transport failure is always worth another try.
    if (!is_transport_failure(failure.error()) || attempt >= options.attempts_max) return failure;
    std::this_thread::sleep_for(backoff);
    backoff *= 2;
  }
}

Status Client::unwatch(std::string_view event) {
  if (Status s = codec::check_event_id(event); !s.answered()) return s;
  std::erase_if(updates_, [event](const WatchUpdate& u) { return u.event == event; });
  Status result;
  bool done = false;
  Status failure;
  Connection* connection = session_->submit_unwatch(
      event,
      [&result, &done](const ReplyView& reply) {
        result = reply.status();
        done = true;
      },
      &failure);
  if (connection == nullptr) return failure;
  connection->await(done, Clock::now() + session_->options().request_timeout);
  // The socket the watch lived on is gone: so is the watch, on the server too.
  if (is_transport_failure(result.error())) return Status();
  return result;
}

Result<WatchUpdate> Client::next_update(std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  while (true) {
    if (!watch_failures_.empty()) {
      Status refused = std::move(watch_failures_.front());
      watch_failures_.erase(watch_failures_.begin());
      return refused;
    }
    if (!updates_.empty()) {
      WatchUpdate update = std::move(updates_.front());
      updates_.erase(updates_.begin());
      return Result<WatchUpdate>(Status(), std::move(update));
    }
    if (session_->watches().empty()) {
      return Status::failure(ClientError::invalid_argument, "no event is watched: watch() first");
    }
    if (Status restored = session_->restore_watches(); !restored.answered()) return restored;
    session_->flush_all();
    if (Clock::now() >= deadline) {
      return Status::failure(ClientError::timed_out,
                             "no update within " + std::to_string(timeout.count()) + " ms");
    }
    Clock::time_point until = deadline;
    if (const auto retry_at = session_->watch_retry_at()) until = std::min(until, *retry_at);
    session_->wait_for_input(until);
  }
}

std::vector<std::string> Client::watched() const {
  std::vector<std::string> events;
  session_->watches().for_each(
      [&events](std::string_view event, const auto&) { events.emplace_back(event); });
  return events;
}

}  // namespace admit
