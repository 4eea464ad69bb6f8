// AsyncClient's operations as values, so that one can be encoded at submit
// and again for each retry, and the pool of requests kept for retrying
// (`Resends`). Private to client-lib.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "admit/async_client.h"
#include "protocol/operations.h"
#include "request_pipeline.h"

namespace admit {

// Where the client sends an operation: its routing (protocol/operations.h),
// the connection's own ones (Hello) on the base port like `any` (ListEvents,
// Stats); `event` and `ref` to the owner shard's port when shard-aware.
constexpr Routing client_routing(Op op) {
  const Routing routing = op_info(op).routing;
  return routing == Routing::connection ? Routing::any : routing;
}

// Failures of the link, not answers: what retries are for.
inline bool is_transport_failure(ClientError error) {
  return error == ClientError::could_not_connect || error == ClientError::connection_lost ||
         error == ClientError::timed_out;
}

// The arguments of the operations without a request struct of their own.
struct OpArgs {
  std::string_view key;  // the event id or booking ref it is routed by
  std::string_view user, after, request_id;
  std::uint32_t limit = 0;
};

// One operation (watches aside) with its arguments as views.
struct AsyncOp {
  Op kind = Op::hello;  // watches aside (Session sends them)
  std::variant<OpArgs, EventSpec, EventUpdate, BookRequest> fields;

  Routing route() const { return client_routing(kind); }
  std::string_view route_key() const;
  // The operation's Retry (protocol/operations.h), given its request id.
  bool retry_safe() const;
  EncodedOp encode(FrameBuilder& builder, std::string_view token) const;
  // Copies every string the operation points to into `storage` and points
  // there instead (storage keeps its capacity: no allocation once warm).
  void keep_strings(std::string& storage);

 private:
  const OpArgs& args() const { return std::get<OpArgs>(fields); }
};

// Requests AsyncClient may send again after a transport failure: each one's
// operation (strings copied), the caller's callback and its attempts. Records
// are reused, their storage too, so a warm pipeline allocates nothing here.
class Resends {
 public:
  struct Record {
    AsyncOp op;
    std::string strings;  // what op's views point into
    ReplyCallback callback;
    int attempt = 1;  // tries so far, this one included
    std::chrono::milliseconds backoff{0};
    Clock::time_point due{};
  };

  // A record for `op` (its strings copied) and `callback`; returns its index.
  std::uint32_t take(const AsyncOp& op, ReplyCallback&& callback,
                     std::chrono::milliseconds backoff);
  // Stable while it is taken: records live on the heap, one each.
  Record& operator[](std::uint32_t index) { return *records_[index]; }
  void release(std::uint32_t index);

  // Another try of the record, due after its backoff (which then doubles).
  void schedule(std::uint32_t index, Clock::time_point now);
  std::size_t waiting() const { return waiting_.size(); }
  // The earliest due time of the records waiting, if any.
  bool next_due(Clock::time_point* due) const;
  // Moves the records due at `now` (all with `everything`) out of the
  // waiting list into `out` (cleared first), in the order they failed.
  void take_due(Clock::time_point now, bool everything, std::vector<std::uint32_t>* out);

 private:
  std::vector<std::unique_ptr<Record>> records_;
  std::vector<std::uint32_t> free_;
  std::vector<std::uint32_t> waiting_;  // scheduled, in the order they failed
};

}  // namespace admit
