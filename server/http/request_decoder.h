// Request decoding: a routed HTTP request (path parameters, query, JSON body
// read with simdjson, Idempotency-Key) into the same ShardCommand the binary
// decoder (server/request_codec.cc) produces, checked by the same functions
// (storage/validate.h). Every refusal names the field, header or parameter.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "server/http/request_parser.h"
#include "server/http/router.h"
#include "server/shard_command.h"

namespace admit::server::http {

enum class Dispatch : std::uint8_t {
  refused,  // answer `status` with `outcome` and `message`
  local,    // answered on the receiving shard from the Target (get_event, list_events, stats,
            // metrics, healthz)
  owned,    // `command` goes to shard `owner`
};

struct DecodedHttpRequest {
  Dispatch dispatch = Dispatch::refused;
  int status = 400;                    // refused only
  Outcome outcome = Outcome::invalid;  // refused only
  std::string message;                 // refused only
  std::uint32_t owner = 0;             // owned only
};

// One per shard: holds simdjson's parser, whose buffers are reused.
class RequestDecoder {
 public:
  // `default_user`: the booking user when a booking body names none (a
  // token's `sub`); empty when there is none.
  // May grow `request.bytes` (simdjson reads past the body's end).
  DecodedHttpRequest decode(const Target& target, ParsedRequest& request, std::uint32_t shards,
                            std::string_view default_user, ShardCommand* command);

 private:
  simdjson::dom::parser parser_;
};

}  // namespace admit::server::http
