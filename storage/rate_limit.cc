// Token buckets per (event, user).
#include <algorithm>

#include "storage/internal.h"

namespace admit::storage {

using detail::Event;
using detail::milli_tokens_per_attempt;
using detail::RateBucket;
using detail::RateLimit;

namespace {

// The bucket's content at `now_ms` (time running backwards refills nothing).
std::int64_t refilled(const RateBucket& bucket, const RateLimit& limit, std::int64_t now_ms) {
  const std::int64_t full = limit.burst * milli_tokens_per_attempt;
  const std::int64_t elapsed_ms = std::max<std::int64_t>(0, now_ms - bucket.refilled_at_ms);
  if (elapsed_ms >= full) return full;  // per_s >= 1 milli-token per ms: full by now
  return std::min(full, bucket.milli_tokens + elapsed_ms * limit.per_s);
}

}  // namespace

RateLimit StateMachine::Impl::rate_limit(const Event& event) const {
  RateLimit limit;
  if (event.config.rate_per_s != 0) {
    limit.per_s = event.config.rate_per_s;
    limit.burst = event.config.rate_burst != 0 ? event.config.rate_burst : event.config.rate_per_s;
  } else {
    limit.per_s = options.default_rate_per_s;
    limit.burst =
        options.default_rate_burst != 0 ? options.default_rate_burst : options.default_rate_per_s;
  }
  return limit;
}

// A refused attempt changes nothing, so it need not be logged or replayed.
std::int64_t StateMachine::Impl::take_token(Event& event, const detail::UserKey& user,
                                            std::int64_t now_ms) {
  const RateLimit limit = rate_limit(event);
  if (limit.per_s == 0) return 0;
  const auto known = users.find(user);
  const auto found = known ? event.buckets.find(*known) : event.buckets.end();
  const bool has_bucket = found != event.buckets.end();
  const std::int64_t milli_tokens =
      has_bucket ? refilled(found->second, limit, now_ms) : limit.burst * milli_tokens_per_attempt;
  if (milli_tokens < milli_tokens_per_attempt) {
    const std::int64_t missing = milli_tokens_per_attempt - milli_tokens;
    return (missing + limit.per_s - 1) / limit.per_s;
  }
  RateBucket& bucket = event.buckets[users.intern(user)];
  bucket.refilled_at_ms = has_bucket ? std::max(now_ms, bucket.refilled_at_ms) : now_ms;
  bucket.milli_tokens = milli_tokens - milli_tokens_per_attempt;
  ++change_count;
  return 0;
}

}  // namespace admit::storage
