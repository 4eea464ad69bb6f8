// One request's way through the adapter, without sockets: Preparer turns a
// parsed request into an answer now, a local read, or a ShardCommand for an
// owner shard (route, token, body, authorization, in that order), and makes
// the owner's result an answer; AnswerOrder lets a connection's answers
// leave in request order whichever shard answers first. The reactor owns
// the sockets, the rings and the event directory around these.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/auth.h"
#include "server/http/request_decoder.h"
#include "server/http/request_parser.h"
#include "server/http/response.h"
#include "server/http/router.h"

namespace admit::server::http {

enum class Next : std::uint8_t {
  answer,  // `answer` is ready (a refusal)
  local,   // answer from the receiving shard: `target.route` is get_event, list_events,
           // stats, metrics, healthz, watch or page
  owned,   // send `command` to shard `owner`, then finish() its result
};

struct Prepared {
  Next next = Next::answer;
  Answer answer;
  Target target;  // valid iff `routed`
  bool routed = false;
  ShardCommand command;
  std::uint32_t owner = 0;
  Principal principal;     // admin without sub when auth is off
  bool keep_alive = true;  // false: close once this answer is sent
};

// authorize() for `operation` on `command` (the user it names, if any); an
// Access::if_booking_of_sub sets command->acting_user for the owner to check.
// Never if_booking_of_sub.
AccessDecision authorize_command(const Principal& principal, Op operation, ShardCommand* command);

// One per shard.
class Preparer {
 public:
  // `secret` set: every request but /healthz needs a valid token.
  Preparer(std::uint32_t shards, std::optional<std::string> secret);

  void prepare(ParsedRequest& request, std::int64_t now_ms, Prepared* out);
  // The answer to an owned request, from its owner's result.
  Answer finish(const Prepared& prepared, const ShardResult& result) const;
  // The token checker of both protocols; null when auth is off.
  TokenVerifier* verifier() { return verifier_ ? &*verifier_ : nullptr; }

 private:
  // Fills out->principal; false (and out->answer) when the token is missing or bad.
  bool authenticate(const ParsedRequest& request, std::int64_t now_ms, Prepared* out);

  std::uint32_t shards_;
  std::optional<TokenVerifier> verifier_;
  RequestDecoder decoder_;
};

// A connection's answers in request order. Each request takes a ticket when
// it is parsed; its answer's bytes are filled in whenever they come; drain()
// writes out the answers whose turn has come. Holds nothing once drained.
class AnswerOrder {
 public:
  std::size_t waiting() const { return slots_.size(); }
  bool full() const { return waiting() >= pipelined_requests_max; }
  std::uint64_t take_ticket();
  // The answer to `ticket` says `Connection: keep-alive` when it keeps the
  // connection (the request was HTTP/1.0: ParsedRequest::http_1_0).
  void announce_keep_alive(std::uint64_t ticket);
  void fill(std::uint64_t ticket, const Answer& answer, bool keep_alive);
  // Bytes written by the caller (the head of an endless SSE answer).
  void fill_raw(std::uint64_t ticket, std::string_view bytes);
  // Appends the ready answers at the head to `out`; returns how many.
  std::size_t drain(std::string* out);

 private:
  struct Slot {
    std::string bytes;  // the answer's, once filled
    bool ready = false;
    bool announce_keep_alive = false;
  };
  std::uint64_t first_ = 0;  // the ticket of slots_[0]
  // One vector, not one per field: a request on an idle connection costs
  // one allocation here (its slot), then its answer's bytes.
  std::vector<Slot> slots_;
};

}  // namespace admit::server::http
