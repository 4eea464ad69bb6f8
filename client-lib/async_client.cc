#include "admit/async_client.h"

#include <algorithm>
#include <optional>
#include <thread>

#include "codec.h"
#include "protocol/assertions.h"
#include "session.h"

namespace admit {

AsyncClient::AsyncClient(ClientOptions options)
    : session_(std::make_unique<Session>(std::move(options))) {}
AsyncClient::~AsyncClient() = default;

Result<HelloInfo> AsyncClient::connect() {
  Result<HelloInfo> hello = session_->connect_base();
  if (hello.ok()) session_->connect_shards();
  return hello;
}

Status AsyncClient::submit_hello(ReplyCallback callback) {
  return session_->submit({Op::hello, OpArgs{}}, std::move(callback));
}

Status AsyncClient::submit_create_event(const EventSpec& spec, ReplyCallback callback) {
  if (Status s = codec::check_event_spec(spec); !s.answered()) return s;
  return session_->submit({Op::create_event, spec}, std::move(callback));
}

Status AsyncClient::submit_update_event(const EventUpdate& update, ReplyCallback callback) {
  if (Status s = codec::check_event_update(update); !s.answered()) return s;
  return session_->submit({Op::update_event, update}, std::move(callback));
}

Status AsyncClient::submit_get_event(std::string_view id, ReplyCallback callback) {
  if (Status s = codec::check_event_id(id, "id"); !s.answered()) return s;
  return session_->submit(
      {Op::get_event, OpArgs{.key = id, .user = {}, .after = {}, .request_id = {}, .limit = 0}},
      std::move(callback));
}

Status AsyncClient::submit_list_events(std::string_view after, std::uint32_t limit,
                                       ReplyCallback callback) {
  if (Status s = codec::check_limit(limit); !s.answered()) return s;
  return session_->submit(
      {Op::list_events,
       OpArgs{.key = {}, .user = {}, .after = after, .request_id = {}, .limit = limit}},
      std::move(callback));
}

Status AsyncClient::submit_book(const BookRequest& request, ReplyCallback callback) {
  if (Status s = codec::check_book(request); !s.answered()) return s;
  return session_->submit({Op::book, request}, std::move(callback));
}

Status AsyncClient::submit_confirm(std::string_view ref, std::string_view request_id,
                                   ReplyCallback callback) {
  if (Status s = codec::check_ref(ref); !s.answered()) return s;
  if (Status s = codec::check_request_id(request_id); !s.answered()) return s;
  return session_->submit(
      {Op::confirm,
       OpArgs{.key = ref, .user = {}, .after = {}, .request_id = request_id, .limit = 0}},
      std::move(callback));
}

Status AsyncClient::submit_cancel(std::string_view ref, std::string_view request_id,
                                  ReplyCallback callback) {
  if (Status s = codec::check_ref(ref); !s.answered()) return s;
  if (Status s = codec::check_request_id(request_id); !s.answered()) return s;
  return session_->submit(
      {Op::cancel,
       OpArgs{.key = ref, .user = {}, .after = {}, .request_id = request_id, .limit = 0}},
      std::move(callback));
}

Status AsyncClient::submit_get_booking(std::string_view ref, ReplyCallback callback) {
  if (Status s = codec::check_ref(ref); !s.answered()) return s;
  return session_->submit(
      {Op::get_booking, OpArgs{.key = ref, .user = {}, .after = {}, .request_id = {}, .limit = 0}},
      std::move(callback));
}

Status AsyncClient::submit_list_bookings(std::string_view event, std::string_view after,
                                         std::uint32_t limit, ReplyCallback callback) {
  if (Status s = codec::check_event_id(event); !s.answered()) return s;
  if (Status s = codec::check_limit(limit); !s.answered()) return s;
  return session_->submit(
      {Op::list_bookings,
       OpArgs{.key = event, .user = {}, .after = after, .request_id = {}, .limit = limit}},
      std::move(callback));
}

Status AsyncClient::submit_waitlist_position(std::string_view event, std::string_view user,
                                             ReplyCallback callback) {
  if (Status s = codec::check_event_id(event); !s.answered()) return s;
  if (Status s = codec::check_user(user); !s.answered()) return s;
  return session_->submit(
      {Op::waitlist_position,
       OpArgs{.key = event, .user = user, .after = {}, .request_id = {}, .limit = 0}},
      std::move(callback));
}

Status AsyncClient::submit_leave_waitlist(std::string_view event, std::string_view user,
                                          std::string_view request_id, ReplyCallback callback) {
  if (Status s = codec::check_event_id(event); !s.answered()) return s;
  if (Status s = codec::check_user(user); !s.answered()) return s;
  if (Status s = codec::check_request_id(request_id); !s.answered()) return s;
  return session_->submit(
      {Op::leave_waitlist,
       OpArgs{.key = event, .user = user, .after = {}, .request_id = request_id, .limit = 0}},
      std::move(callback));
}

Status AsyncClient::submit_stats(ReplyCallback callback) {
  return session_->submit({Op::stats, OpArgs{}}, std::move(callback));
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
  std::size_t ran = 0;
  // The earliest moment something is due without input (a lost watch or a
  // failed request to send again, a request's deadline): no wait goes past it.
  std::optional<Clock::time_point> wake_at;
  const auto wake_by = [&wake_at](Clock::time_point at) {
    if (!wake_at || at < *wake_at) wake_at = at;
  };
  for (AsyncClient* client : clients) {
    ADMIT_ASSERT(client != nullptr);
    Session& session = *client->session_;
    if (!session.watches().empty()) {
      session.restore_watches();
      if (auto at = session.watch_retry_at()) wake_by(*at);
    }
    if (session.resends_waiting()) ran += session.resend_due(Clock::now());
    session.flush_all();
    session.add_awaiting(waiting);
    if (Clock::time_point at; session.next_wake(&at)) wake_by(at);
  }
  if (wake_at && timeout.count() > 0) {
    const auto until_wake = std::chrono::ceil<std::chrono::milliseconds>(*wake_at - Clock::now());
    timeout = std::max(std::chrono::milliseconds(0), std::min(timeout, until_wake));
  }
  if (!waiting.empty()) {
    ran += waiting.wait_and_dispatch(timeout);
  } else if (wake_at) {
    std::this_thread::sleep_for(timeout);
  }
  if (!wake_at) return ran;
  // Requests unanswered past their deadline: timed_out now, or sent again
  // from the next poll on when they may be retried.
  const Clock::time_point now = Clock::now();
  for (AsyncClient* client : clients) ran += client->session_->expire(now);
  return ran;
}

std::size_t AsyncClient::in_flight() const { return session_->in_flight(); }

void AsyncClient::close() {
  session_->close_all(ClientError::connection_lost, "closed by the caller");
}

}  // namespace admit
