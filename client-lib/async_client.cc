#include <algorithm>
#include <cassert>
#include <optional>
#include <thread>

#include "admit/client.h"
#include "codec.h"
#include "session.h"

namespace admit {
namespace {

// Routes, checks room and adds one operation. A failure here leaves the callback uncalled.
template <typename Encode>
Status submit_to(Session& session, RouteKind kind, std::string_view key, Encode&& encode,
                 ReplyCallback&& callback) {
  Status failure;
  Connection* connection = session.connection_for(kind, key, &failure);
  if (connection == nullptr) return failure;
  if (connection->full()) {
    return Status::failure(ClientError::in_flight_full,
                           connection->address() + ": in_flight_max requests are waiting");
  }
  connection->add(encode, std::move(callback));
  return Status();
}

}  // namespace

AsyncClient::AsyncClient(ClientOptions options)
    : session_(std::make_unique<Session>(std::move(options))) {}
AsyncClient::~AsyncClient() = default;

Result<HelloInfo> AsyncClient::connect() {
  Result<HelloInfo> hello = session_->connect_base();
  if (hello.ok()) session_->connect_shards();
  return hello;
}

Status AsyncClient::submit_hello(ReplyCallback callback) {
  const std::string_view token = session_->options().token;
  return submit_to(
      *session_, RouteKind::any, {},
      [&](codec::Builder& b) { return codec::encode_hello(b, token); }, std::move(callback));
}

Status AsyncClient::submit_create_event(const EventSpec& spec, ReplyCallback callback) {
  if (Status s = codec::check_event_spec(spec); !s.answered()) return s;
  return submit_to(
      *session_, RouteKind::event, spec.id,
      [&](codec::Builder& b) { return codec::encode_create_event(b, spec); }, std::move(callback));
}

Status AsyncClient::submit_update_event(const EventUpdate& update, ReplyCallback callback) {
  if (Status s = codec::check_event_update(update); !s.answered()) return s;
  return submit_to(
      *session_, RouteKind::event, update.id,
      [&](codec::Builder& b) { return codec::encode_update_event(b, update); },
      std::move(callback));
}

Status AsyncClient::submit_get_event(std::string_view id, ReplyCallback callback) {
  if (Status s = codec::check_event_id(id, "id"); !s.answered()) return s;
  return submit_to(
      *session_, RouteKind::event, id,
      [&](codec::Builder& b) { return codec::encode_get_event(b, id); }, std::move(callback));
}

Status AsyncClient::submit_list_events(std::string_view after, std::uint32_t limit,
                                       ReplyCallback callback) {
  if (Status s = codec::check_limit(limit); !s.answered()) return s;
  return submit_to(
      *session_, RouteKind::any, {},
      [&](codec::Builder& b) { return codec::encode_list_events(b, after, limit); },
      std::move(callback));
}

Status AsyncClient::submit_book(const BookRequest& request, ReplyCallback callback) {
  if (Status s = codec::check_book(request); !s.answered()) return s;
  return submit_to(
      *session_, RouteKind::event, request.event,
      [&](codec::Builder& b) { return codec::encode_book(b, request); }, std::move(callback));
}

Status AsyncClient::submit_confirm(std::string_view ref, std::string_view request_id,
                                   ReplyCallback callback) {
  if (Status s = codec::check_ref(ref); !s.answered()) return s;
  if (Status s = codec::check_request_id(request_id); !s.answered()) return s;
  return submit_to(
      *session_, RouteKind::ref, ref,
      [&](codec::Builder& b) { return codec::encode_confirm(b, ref, request_id); },
      std::move(callback));
}

Status AsyncClient::submit_cancel(std::string_view ref, std::string_view request_id,
                                  ReplyCallback callback) {
  if (Status s = codec::check_ref(ref); !s.answered()) return s;
  if (Status s = codec::check_request_id(request_id); !s.answered()) return s;
  return submit_to(
      *session_, RouteKind::ref, ref,
      [&](codec::Builder& b) { return codec::encode_cancel(b, ref, request_id); },
      std::move(callback));
}

Status AsyncClient::submit_get_booking(std::string_view ref, ReplyCallback callback) {
  if (Status s = codec::check_ref(ref); !s.answered()) return s;
  return submit_to(
      *session_, RouteKind::ref, ref,
      [&](codec::Builder& b) { return codec::encode_get_booking(b, ref); }, std::move(callback));
}

Status AsyncClient::submit_list_bookings(std::string_view event, std::string_view after,
                                         std::uint32_t limit, ReplyCallback callback) {
  if (Status s = codec::check_event_id(event); !s.answered()) return s;
  if (Status s = codec::check_limit(limit); !s.answered()) return s;
  return submit_to(
      *session_, RouteKind::event, event,
      [&](codec::Builder& b) { return codec::encode_list_bookings(b, event, after, limit); },
      std::move(callback));
}

Status AsyncClient::submit_waitlist_position(std::string_view event, std::string_view user,
                                             ReplyCallback callback) {
  if (Status s = codec::check_event_id(event); !s.answered()) return s;
  if (Status s = codec::check_user(user); !s.answered()) return s;
  return submit_to(
      *session_, RouteKind::event, event,
      [&](codec::Builder& b) { return codec::encode_waitlist_position(b, event, user); },
      std::move(callback));
}

Status AsyncClient::submit_leave_waitlist(std::string_view event, std::string_view user,
                                          std::string_view request_id, ReplyCallback callback) {
  if (Status s = codec::check_event_id(event); !s.answered()) return s;
  if (Status s = codec::check_user(user); !s.answered()) return s;
  if (Status s = codec::check_request_id(request_id); !s.answered()) return s;
  return submit_to(
      *session_, RouteKind::event, event,
      [&](codec::Builder& b) { return codec::encode_leave_waitlist(b, event, user, request_id); },
      std::move(callback));
}

Status AsyncClient::submit_stats(ReplyCallback callback) {
  return submit_to(
      *session_, RouteKind::any, {}, [&](codec::Builder& b) { return codec::encode_stats(b); },
      std::move(callback));
}

Status AsyncClient::submit_watch(std::string_view event, ReplyCallback callback) {
  if (Status s = codec::check_event_id(event); !s.answered()) return s;
  Status failure;
  if (session_->submit_watch(event, std::move(callback), &failure) == nullptr) return failure;
  return Status();
}

Status AsyncClient::submit_unwatch(std::string_view event, ReplyCallback callback) {
  if (Status s = codec::check_event_id(event); !s.answered()) return s;
  Status failure;
  if (session_->submit_unwatch(event, std::move(callback), &failure) == nullptr) return failure;
  return Status();
}

void AsyncClient::on_update(std::function<void(const WatchUpdateView&)> handler) {
  session_->watches().set_handler(std::move(handler));
}

void AsyncClient::on_watch_error(
    std::function<void(std::string_view event, const Status&)> handler) {
  session_->watches().set_error_handler(std::move(handler));
}

std::size_t AsyncClient::watches() const { return session_->watches().size(); }

Status AsyncClient::flush() { return session_->flush_all(); }

std::size_t AsyncClient::poll(std::chrono::milliseconds timeout) {
  AsyncClient* const self = this;
  return poll_many(std::span<AsyncClient* const>(&self, 1), timeout);
}

std::size_t AsyncClient::poll_many(std::span<AsyncClient* const> clients,
                                   std::chrono::milliseconds timeout) {
  // Reused across calls: a load generator polls thousands of times a second.
  thread_local PollSet waiting;
  waiting.clear();
  // The earliest time a lost watch may be sent again: no wait goes past it.
  std::optional<Clock::time_point> retry_at;
  for (AsyncClient* client : clients) {
    assert(client != nullptr);
    Session& session = *client->session_;
    if (!session.watches().empty()) {
      session.restore_watches();
      if (auto at = session.watch_retry_at(); at && (!retry_at || *at < *retry_at)) retry_at = at;
    }
    session.flush_all();
    session.add_awaiting(waiting);
  }
  if (retry_at) {
    const auto until_retry = std::chrono::ceil<std::chrono::milliseconds>(*retry_at - Clock::now());
    timeout = std::max(std::chrono::milliseconds(0), std::min(timeout, until_retry));
    if (waiting.empty()) {
      std::this_thread::sleep_for(timeout);
      return 0;
    }
  }
  return waiting.wait_and_dispatch(timeout);
}

std::size_t AsyncClient::in_flight() const { return session_->in_flight(); }

void AsyncClient::close() {
  session_->close_all(ClientError::connection_lost, "closed by the caller");
}

}  // namespace admit
