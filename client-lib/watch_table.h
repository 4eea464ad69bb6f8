// The watches of one client: which events it watches, the connection each
// Watch was last sent on, and the updates pushed to it (an UpdateSink for
// every connection of the session). Routing and sending are the Session's;
// this is the bookkeeping. Private to client-lib.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "admit/async_client.h"
#include "connection.h"
#include "request_pipeline.h"

namespace admit {

class WatchTable final : public UpdateSink {
 public:
  using Handler = std::function<void(const WatchUpdateView&)>;
  using ErrorHandler = std::function<void(std::string_view event, const Status&)>;

  struct Watch {
    Connection* connection = nullptr;  // where its Watch was last sent; null: not yet
    std::uint64_t link = 0;            // that connection's link() then
    std::uint64_t last_seq = 0;        // of the last update delivered on that link
    bool seen = false;                 // an update was delivered on that link
  };

  WatchTable() = default;
  WatchTable(const WatchTable&) = delete;
  WatchTable& operator=(const WatchTable&) = delete;

  void set_handler(Handler handler) { handler_ = std::move(handler); }
  void set_error_handler(ErrorHandler handler) { error_handler_ = std::move(handler); }

  // Remembers `event` (once) and returns its watch.
  Watch& add(std::string_view event);
  Watch* find(std::string_view event);
  void remove(std::string_view event);
  bool empty() const { return watches_.empty(); }
  std::size_t size() const { return watches_.size(); }
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& [event, watch] : watches_) f(std::string_view(event), watch);
  }

  // True when the watch must be sent (again): never sent, or its connection
  // closed or reopened since (the server forgot it with the old socket).
  static bool needs_send(const Watch& watch);
  bool any_needs_send() const;

  // The Watch for `event` goes out on `connection`: updates are taken from its
  // current link only, and the next one is the first. Returns the callback
  // its answer must run: it handles a refusal (the watch is dropped) and then
  // runs `user` (empty for the client's own re-watches, whose refusals go to
  // the error handler).
  ReplyCallback sent(std::string_view event, Connection& connection, ReplyCallback user);

  // Reports a re-watch that could not be sent.
  void report(std::string_view event, const Status& failure);

  void deliver(const wire::Update& update, std::uint64_t link,
               Clock::time_point received_at) override;

 private:
  // A Watch request awaiting its answer.
  struct Pending {
    std::string event;
    std::uint64_t link = 0;
    ReplyCallback user;
  };
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const {
      return std::hash<std::string_view>{}(text);
    }
  };

  void answered(std::uint64_t ticket, const ReplyView& reply);

  std::unordered_map<std::string, Watch, StringHash, std::equal_to<>> watches_;
  std::unordered_map<std::uint64_t, Pending> pending_;
  std::uint64_t next_ticket_ = 0;
  Handler handler_;
  ErrorHandler error_handler_;
};

}  // namespace admit
