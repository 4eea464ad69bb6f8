// The HTTP port's input path, as server/http/README.md lays it out for the
// reactor, on the bytes of one connection: RequestParser (any split,
// pipelining, limits), then per request Preparer::prepare() (route, token,
// JSON body, authorization), local reads from the event directory, owned
// commands applied by the owner's ShardCore::apply() (durability off) and
// Preparer::finish(), answers put in order by AnswerOrder.
//
// Checks: no crash or UB; every refusal is a 4xx/5xx answer with a body; a
// failed parse ends the connection; every answer leaves in request order
// once drained; the machines keep their invariants.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "fuzz_shards.h"
#include "protocol/shard.h"
#include "server/http/exchange.h"

namespace admit::server::http {
namespace {

// With auth on, the seeds carry tokens minted with this secret (make_seeds.cc).
constexpr std::string_view fuzz_secret = "admit-fuzz-secret";

class FuzzedConnection {
 public:
  FuzzedConnection(std::uint32_t shards, bool auth)
      : shards_(shards),
        preparer_(shards, auth ? std::optional<std::string>(fuzz_secret) : std::nullopt) {}

  // The next bytes the client sent; what the parser did not use waits for more.
  void receive(std::string_view bytes) {
    unread_.append(bytes);
    while (!closing_ && !order_.full()) {
      const RequestParser::Step step = parser_.parse(unread_);
      unread_.erase(0, step.consumed);
      if (step.state == RequestParser::State::need_more) break;
      const std::uint64_t ticket = order_.take_ticket();
      if (step.state == RequestParser::State::failed) {
        const ParseError error = parser_.error();
        fuzz_require(error.status >= 400 && !error.message.empty(), "a parse failure says why");
        order_.fill(ticket, refusal(Outcome::invalid, error.message, error.status), false);
        closing_ = true;
        break;
      }
      ParsedRequest request = parser_.take();
      handle(ticket, request);
      shards_.end_turn();
    }
    order_.drain(&out_);
    fuzz_require(order_.waiting() == 0, "every answer is made and drained");
    fuzz_require(out_.size() >= answers_ * 12, "each answer writes its status line");
  }

  void check_invariants() const { shards_.check_invariants(); }

 private:
  void handle(std::uint64_t ticket, ParsedRequest& request) {
    Prepared prepared;
    preparer_.prepare(request, shards_.now_ms(), &prepared);
    closing_ = !prepared.keep_alive;
    ++answers_;
    switch (prepared.next) {
      case Next::answer:
        fuzz_require(prepared.answer.status >= 400, "a prepared answer is a refusal");
        fuzz_require(!prepared.answer.body.empty(), "a refusal has a body");
        return order_.fill(ticket, prepared.answer, prepared.keep_alive);
      case Next::local:
        return order_.fill(ticket, local_answer(prepared.target), prepared.keep_alive);
      case Next::owned:
        break;
    }
    fuzz_require(prepared.owner < shards_.shards(), "an owned request names an existing shard");
    ShardResult result;
    shards_.core(prepared.owner).apply(prepared.command, shards_.now_ms(), &result);
    order_.fill(ticket, preparer_.finish(prepared, result), prepared.keep_alive);
    delete result.take_page();
  }

  Answer local_answer(const Target& target) {
    const EventDirectory& directory = shards_.shared().directory;
    switch (target.route) {
      case Route::get_event: {
        const auto event = directory.find(target.id.view());
        if (!event) return refusal(Outcome::not_found, "id: no such event");
        return event_answer(*event);
      }
      case Route::list_events: {
        const std::uint32_t limit = target.limit == 0 ? list_limit_default : target.limit;
        bool more = false;
        const auto events = directory.list(target.after.view(), limit, &more);
        return event_page_answer(events, more);
      }
      case Route::stats:
        return stats_answer({{shards_.shared().stats.get(), shards_.shards()}, "off", 0, 0});
      default:
        return health_answer(std::nullopt);
    }
  }

  FuzzShards shards_;
  Preparer preparer_;
  RequestParser parser_;
  AnswerOrder order_;
  std::string unread_, out_;
  bool closing_ = false;
  std::size_t answers_ = 0;
};

}  // namespace
}  // namespace admit::server::http

// Input: a byte (bit 0: auth on; bits 1-2: shards 1..4), then the bytes a
// client sent on one connection, split in two reads at a point the byte
// after the flags chooses.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace admit::server;
  if (size < 2) return 0;
  http::FuzzedConnection connection(1 + (data[0] >> 1) % shards_fuzzed_max, (data[0] & 1) != 0);
  const std::string_view bytes(reinterpret_cast<const char*>(data + 2), size - 2);
  const std::size_t split = bytes.empty() ? 0 : data[1] % (bytes.size() + 1);
  connection.receive(bytes.substr(0, split));
  connection.receive(bytes.substr(split));
  connection.check_invariants();
  return 0;
}
