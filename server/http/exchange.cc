#include "server/http/exchange.h"

#include "protocol/assertions.h"

namespace admit::server::http {

AccessDecision authorize_command(const Principal& principal, Op operation, ShardCommand* command) {
  const bool names_user = op_info(operation).sub == SubRule::user_is_sub;
  const AccessDecision access =
      authorize(principal, operation, names_user ? command->user.view() : "");
  if (access.access != Access::if_booking_of_sub) return access;
  command->acting_user.assign(principal.sub.view());
  return {Access::allowed, {}};
}

Preparer::Preparer(std::uint32_t shards, std::optional<std::string> secret) : shards_(shards) {
  if (secret) verifier_.emplace(std::move(*secret));
}

bool Preparer::authenticate(const ParsedRequest& request, std::int64_t now_ms, Prepared* out) {
  out->principal = Principal{};
  if (!verifier_) return true;
  const auto token =
      request.has_authorization ? bearer_token(request.view(request.authorization)) : std::nullopt;
  const Verified verified = token
                                ? verifier_->verify(*token, now_ms)
                                : Verified{std::nullopt, "token: missing (Authorization: Bearer)"};
  if (verified.principal) {
    out->principal = *verified.principal;
    return true;
  }
  out->answer = refusal(Outcome::unauthorized, verified.why, 401);
  out->answer.bearer_challenge = true;
  return false;
}

void Preparer::prepare(ParsedRequest& request, std::int64_t now_ms, Prepared* out) {
  out->next = Next::answer;
  out->routed = false;
  out->keep_alive = request.keep_alive;
  out->command.acting_user.size = 0;  // `out` may be reused
  RouteError error;
  if (!route(request.method, request.view(request.target), &out->target, &error)) {
    const Outcome outcome = error.status == 404 ? Outcome::not_found : Outcome::invalid;
    out->answer = refusal(outcome, error.message, error.status);
    out->answer.allow = error.allow;
    return;
  }
  out->routed = true;
  const Op operation = op_of(out->target.route);
  const bool needs_token = least_role(operation).has_value();
  if (needs_token && !authenticate(request, now_ms, out)) return;
  const std::string_view default_user = out->principal.sub.view();
  DecodedHttpRequest decoded =
      decoder_.decode(out->target, request, shards_, default_user, &out->command);
  if (decoded.dispatch == Dispatch::refused) {
    out->answer = refusal(decoded.outcome, decoded.message, decoded.status);
    return;
  }
  if (needs_token) {
    const AccessDecision access = authorize_command(out->principal, operation, &out->command);
    if (access.access == Access::forbidden) {
      out->answer = refusal(Outcome::unauthorized, access.message, 403);
      return;
    }
  }
  out->next = decoded.dispatch == Dispatch::local ? Next::local : Next::owned;
  out->owner = decoded.owner;
}

Answer Preparer::finish(const Prepared& prepared, const ShardResult& result) const {
  return shard_answer(prepared.target.route, prepared.command, result);
}

std::uint64_t AnswerOrder::take_ticket() {
  slots_.emplace_back();
  return first_ + slots_.size() - 1;
}

void AnswerOrder::announce_keep_alive(std::uint64_t ticket) {
  ADMIT_ASSERT(ticket >= first_ && ticket - first_ < slots_.size());
  slots_[ticket - first_].announce_keep_alive = true;
}

void AnswerOrder::fill(std::uint64_t ticket, const Answer& answer, bool keep_alive) {
  ADMIT_ASSERT(ticket >= first_ && ticket - first_ < slots_.size());
  Slot& slot = slots_[ticket - first_];
  append_answer(&slot.bytes, answer, keep_alive, slot.announce_keep_alive);
  slot.ready = true;
}

void AnswerOrder::fill_raw(std::uint64_t ticket, std::string_view bytes) {
  ADMIT_ASSERT(ticket >= first_ && ticket - first_ < slots_.size());
  Slot& slot = slots_[ticket - first_];
  slot.bytes.assign(bytes);
  slot.ready = true;
}

std::size_t AnswerOrder::drain(std::string* out) {
  std::size_t done = 0;
  while (done < slots_.size() && slots_[done].ready) {
    out->append(slots_[done].bytes);
    ++done;
  }
  if (done == 0) return 0;
  slots_.erase(slots_.begin(), slots_.begin() + static_cast<std::ptrdiff_t>(done));
  first_ += done;
  if (slots_.empty()) std::vector<Slot>().swap(slots_);  // an idle connection keeps no buffers
  return done;
}

}  // namespace admit::server::http
