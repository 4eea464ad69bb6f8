#include "server/http/request_decoder.h"

#include <array>
#include <limits>

#include "protocol/time_text.h"
#include "storage/validate.h"

namespace admit::server::http {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// An empty string: the field is fine.
using Why = std::string;

Why named(std::string_view name, std::string_view what) {
  return std::string(name) + ": " + std::string(what);
}

Why text_of(Reason reason) { return std::string(reason_text(reason)); }

// The storage check's message with its field renamed (the HTTP name of the field).
Why renamed(std::string_view name, std::string_view storage_message) {
  const std::size_t colon = storage_message.find(':');
  return std::string(name) + std::string(storage_message.substr(colon));
}

// Integers past uint32 become UINT32_MAX, so the storage check names the limit.
Why read_uint(element value, std::string_view name, std::uint32_t* out) {
  std::uint64_t number = 0;
  if (value.type() != element_type::UINT64 && value.type() != element_type::INT64) {
    return named(name, "must be a whole number");
  }
  if (value.get_uint64().get(number) != simdjson::SUCCESS) {
    return named(name, "must not be negative");
  }
  *out = number > std::numeric_limits<std::uint32_t>::max()
             ? std::numeric_limits<std::uint32_t>::max()
             : static_cast<std::uint32_t>(number);
  return {};
}

Why read_bool(element value, std::string_view name, bool* out) {
  if (value.get_bool().get(*out) != simdjson::SUCCESS) return named(name, "must be true or false");
  return {};
}

Why read_string(element value, std::string_view name, std::string_view* out) {
  if (value.get_string().get(*out) != simdjson::SUCCESS) return named(name, "must be a string");
  return {};
}

// null (not set), ms since the epoch, or RFC 3339 text.
Why read_time(element value, std::string_view name, std::int64_t* out) {
  constexpr std::string_view what = "must be RFC 3339 text, ms since the epoch or null";
  if (value.is_null()) {
    *out = 0;
    return {};
  }
  if (value.type() == element_type::STRING) {
    const auto parsed = parse_rfc3339(value.get_string().value_unsafe());
    if (!parsed) return named(name, what);
    *out = *parsed;
    return {};
  }
  std::int64_t ms = 0;
  if (value.type() != element_type::UINT64 && value.type() != element_type::INT64) {
    return named(name, what);
  }
  if (value.get_int64().get(ms) != simdjson::SUCCESS || ms < 0) return named(name, what);
  *out = ms;
  return {};
}

// Calls on_field(index, value) for each field of `body` named in `names`;
// an unknown or repeated name is refused.
template <std::size_t count, typename OnField>
Why each_field(object body, const std::array<std::string_view, count>& names, OnField on_field) {
  static_assert(count <= 32);
  std::uint32_t seen = 0;
  for (const auto [key, value] : body) {
    std::size_t index = 0;
    while (index < count && names[index] != key) ++index;
    if (index == count) return named(key.substr(0, event_id_size_max), "unknown field");
    if (seen >> index & 1) return named(key, "given twice");
    seen |= std::uint32_t{1} << index;
    if (Why why = on_field(index, value); !why.empty()) return why;
  }
  return {};
}

// The settings shared by create (POST, PUT) and update (PATCH), at `index`
// in this order after the route's own fields.
constexpr std::array<std::string_view, 9> setting_names = {
    "capacity", "per_user_max", "hold_ttl_ms", "waitlist",  "waitlist_max",
    "opens_at", "closes_at",    "rate_per_s",  "rate_burst"};

struct Settings {
  std::optional<std::uint32_t> capacity, per_user_max, hold_ttl_ms, waitlist_max, rate_per_s,
      rate_burst;
  std::optional<bool> waitlist;
  std::optional<std::int64_t> opens_at_ms, closes_at_ms;
};

Why read_setting(std::size_t index, element value, Settings* s) {
  const std::string_view name = setting_names[index];
  const auto as_uint = [&](std::optional<std::uint32_t>* out) {
    std::uint32_t number = 0;
    Why why = read_uint(value, name, &number);
    if (why.empty()) *out = number;
    return why;
  };
  const auto as_time = [&](std::optional<std::int64_t>* out) {
    std::int64_t ms = 0;
    Why why = read_time(value, name, &ms);
    if (why.empty()) *out = ms;
    return why;
  };
  switch (index) {
    case 0:
      return as_uint(&s->capacity);
    case 1:
      return as_uint(&s->per_user_max);
    case 2:
      return as_uint(&s->hold_ttl_ms);
    case 3: {
      bool on = false;
      Why why = read_bool(value, name, &on);
      if (why.empty()) s->waitlist = on;
      return why;
    }
    case 4:
      return as_uint(&s->waitlist_max);
    case 5:
      return as_time(&s->opens_at_ms);
    case 6:
      return as_time(&s->closes_at_ms);
    case 7:
      return as_uint(&s->rate_per_s);
    default:
      return as_uint(&s->rate_burst);
  }
}

storage::EventPatch patch_of(const Settings& s) {
  storage::EventPatch patch;
  patch.capacity = s.capacity;
  patch.per_user_max = s.per_user_max;
  patch.hold_ttl_ms = s.hold_ttl_ms;
  patch.waitlist = s.waitlist;
  patch.waitlist_max = s.waitlist_max;
  patch.opens_at_ms = s.opens_at_ms;
  patch.closes_at_ms = s.closes_at_ms;
  patch.rate_per_s = s.rate_per_s;
  patch.rate_burst = s.rate_burst;
  return patch;
}

template <std::size_t own, std::size_t count = own + setting_names.size()>
constexpr std::array<std::string_view, count> with_settings(
    const std::array<std::string_view, own>& names) {
  std::array<std::string_view, count> all{};
  for (std::size_t i = 0; i < own; ++i) all[i] = names[i];
  for (std::size_t i = 0; i < setting_names.size(); ++i) all[own + i] = setting_names[i];
  return all;
}

}  // namespace

namespace {

DecodedHttpRequest refused(Why why, int status = 400, Outcome outcome = Outcome::invalid) {
  return {Dispatch::refused, status, outcome, std::move(why), 0};
}

// Routed by its operation's row (server::owner_of).
DecodedHttpRequest owned(const ShardCommand& command, std::uint32_t shards) {
  const std::optional<std::uint32_t> owner = owner_of(command, shards);
  if (!owner) return refused("ref: no such booking", 404, Outcome::not_found);
  return {Dispatch::owned, 200, Outcome::ok, {}, *owner};
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Idempotency-Key: the request id of a booking, confirm, cancel or leave.
Why read_request_id(const ParsedRequest& request, ShardCommand* command) {
  command->request_id.size = 0;
  if (!request.has_idempotency_key) return {};
  const std::string_view key = trimmed(request.view(request.idempotency_key));
  if (key.empty()) return "Idempotency-Key: must not be empty";
  const Reason why = storage::check_request_id(key);
  if (why != Reason::none) return renamed("Idempotency-Key", reason_text(why));
  command->request_id.assign(key);
  return {};
}

Why check_event_id(const Target& target) {
  return text_of(storage::check_new_event_id(target.id.view()));
}

Why decode_create(object body, const Target& target, ShardCommand* command) {
  static constexpr auto names = with_settings<1>({"id"});
  const bool put = target.route == Route::put_event;
  std::string_view id = target.id.view();
  bool has_id = false;
  Settings settings;
  Why why = each_field(body, names, [&](std::size_t index, element value) -> Why {
    if (index > 0) return read_setting(index - 1, value, &settings);
    std::string_view given;
    Why bad = read_string(value, "id", &given);
    if (!bad.empty()) return bad;
    if (put && given != target.id.view()) return "id: must match the path's id";
    has_id = true;
    id = given;
    return {};
  });
  if (!why.empty()) return why;
  if (!put && !has_id) return "id: required";
  if (!settings.capacity) return "capacity: required";
  if (Why bad = text_of(storage::check_new_event_id(id)); !bad.empty()) return bad;
  const storage::EventConfig config = storage::patched({}, patch_of(settings));
  if (Why bad = text_of(storage::check_event_config(config)); !bad.empty()) return bad;
  command->op = Op::create_event;
  command->event.assign(id);
  command->config = config;
  command->same_is_ok = put;
  return {};
}

Why decode_update(object body, const Target& target, ShardCommand* command) {
  static constexpr auto names = with_settings<1>({"state"});
  if (Why bad = check_event_id(target); !bad.empty()) return bad;
  Settings settings;
  std::optional<EventState> state;
  Why why = each_field(body, names, [&](std::size_t index, element value) -> Why {
    if (index > 0) return read_setting(index - 1, value, &settings);
    std::string_view name;
    if (value.get_string().get(name) != simdjson::SUCCESS ||
        !(state = event_state_from_name(name))) {
      return "state: must be \"open\", \"paused\" or \"closed\"";
    }
    return {};
  });
  if (!why.empty()) return why;
  storage::EventPatch patch = patch_of(settings);
  patch.state = state;
  // Each field against its limit; against the current config on the owner.
  if (Why bad = text_of(storage::check_event_config(storage::patched({}, patch))); !bad.empty()) {
    return bad;
  }
  command->op = Op::update_event;
  command->event.assign(target.id.view());
  command->patch = patch;
  return {};
}

std::optional<WaitlistChoice> waitlist_choice(std::string_view name) {
  if (name == "default") return WaitlistChoice::by_default;
  if (name == "join") return WaitlistChoice::join;
  if (name == "never") return WaitlistChoice::never;
  return std::nullopt;
}

Why decode_book(const object* body, const Target& target, std::string_view default_user,
                const ParsedRequest& request, ShardCommand* command) {
  static constexpr std::array<std::string_view, 4> names = {"user", "seats", "hold", "waitlist"};
  if (Why bad = check_event_id(target); !bad.empty()) return bad;
  storage::BookCommand book;
  book.event = target.id.view();
  book.user = default_user;
  const auto on_field = [&](std::size_t index, element value) -> Why {
    switch (index) {
      case 0:
        return read_string(value, "user", &book.user);
      case 1:
        return read_uint(value, "seats", &book.seats);
      case 2:
        return read_bool(value, "hold", &book.hold);
      default: {
        std::string_view name;
        std::optional<WaitlistChoice> choice;
        if (value.get_string().get(name) != simdjson::SUCCESS ||
            !(choice = waitlist_choice(name))) {
          return "waitlist: must be \"default\", \"join\" or \"never\"";
        }
        book.waitlist = *choice;
        return {};
      }
    }
  };
  // No body: {} (a token's `sub` names the user).
  if (Why why = body != nullptr ? each_field(*body, names, on_field) : Why{}; !why.empty()) {
    return why;
  }
  if (book.user.empty()) return "user: required";
  if (Why bad = read_request_id(request, command); !bad.empty()) return bad;
  book.request_id = command->request_id.view();
  if (Why bad = text_of(storage::check_book_fields(book)); !bad.empty()) return bad;
  command->op = Op::book;
  command->event.assign(book.event);
  command->user.assign(book.user);
  command->seats = book.seats;
  command->hold = book.hold;
  command->waitlist = book.waitlist;
  return {};
}

}  // namespace

namespace {

Why decode_list_bookings(const Target& target, ShardCommand* command) {
  if (Why bad = check_event_id(target); !bad.empty()) return bad;
  if (Why bad = text_of(storage::check_list_limit(target.limit)); !bad.empty()) return bad;
  command->op = Op::list_bookings;
  command->event.assign(target.id.view());
  command->limit = target.limit == 0 ? list_limit_default : target.limit;
  command->ref.size = 0;
  if (target.after.size != 0) {
    const auto after = BookingRef::parse(target.after.view());
    if (!after) return "after: not a booking ref like BK-7M2Q9XK4";
    command->ref.assign(after->view());
  }
  return {};
}

Why decode_waitlist(Op op, const Target& target, const ParsedRequest& request,
                    ShardCommand* command) {
  if (Why bad = check_event_id(target); !bad.empty()) return bad;
  if (Why bad = text_of(storage::check_user(target.user.view())); !bad.empty()) return bad;
  command->op = op;
  command->event.assign(target.id.view());
  command->user.assign(target.user.view());
  return is_mutation(op) ? read_request_id(request, command) : Why{};  // leave_waitlist
}

// Confirm, cancel and get_booking: routed by the shard inside the ref.
DecodedHttpRequest decode_ref(Op op, const Target& target, const ParsedRequest& request,
                              std::uint32_t shards, ShardCommand* command) {
  command->op = op;
  command->request_id.size = 0;
  if (is_mutation(op)) {  // confirm and cancel; get_booking has none
    if (Why bad = read_request_id(request, command); !bad.empty()) return refused(std::move(bad));
  }
  const auto ref = BookingRef::parse(target.ref.view());  // the router checked its format
  if (!ref) return refused("ref: no such booking", 404, Outcome::not_found);
  command->ref.assign(ref->view());
  return owned(*command, shards);
}

bool takes_body(Route route) {
  return route == Route::create_event || route == Route::put_event ||
         route == Route::update_event || route == Route::book;
}

bool blank(std::string_view text) {
  return trimmed(text).find_first_not_of("\r\n") == std::string_view::npos;
}

}  // namespace

DecodedHttpRequest RequestDecoder::decode(const Target& target, ParsedRequest& request,
                                          std::uint32_t shards, std::string_view default_user,
                                          ShardCommand* command) {
  const bool has_body = !blank(request.view(request.body));
  if (!takes_body(target.route)) {
    if (has_body) return refused("body: this route takes no body");
    switch (target.route) {
      case Route::get_event:
      case Route::watch: {
        Why bad = check_event_id(target);
        return bad.empty() ? DecodedHttpRequest{Dispatch::local, 200, Outcome::ok, {}, 0}
                           : refused(std::move(bad));
      }
      case Route::list_bookings: {
        Why bad = decode_list_bookings(target, command);
        return bad.empty() ? owned(*command, shards) : refused(std::move(bad));
      }
      case Route::list_events:
        if (const Reason bad = storage::check_list_limit(target.limit); bad != Reason::none) {
          return refused(text_of(bad));
        }
        return {Dispatch::local, 200, Outcome::ok, {}, 0};
      case Route::get_booking:
      case Route::confirm:
      case Route::cancel:
        return decode_ref(op_of(target.route), target, request, shards, command);
      case Route::waitlist_position:
      case Route::leave_waitlist: {
        Why bad = decode_waitlist(op_of(target.route), target, request, command);
        return bad.empty() ? owned(*command, shards) : refused(std::move(bad));
      }
      default:
        return {Dispatch::local, 200, Outcome::ok, {}, 0};
    }
  }
  object body;
  if (has_body) {
    // simdjson reads up to SIMDJSON_PADDING bytes past the body, the end of `bytes`.
    request.bytes.reserve(request.bytes.size() + simdjson::SIMDJSON_PADDING);
    element document;
    const auto error =
        parser_.parse(request.bytes.data() + request.body.offset, request.body.size, false)
            .get(document);
    if (error != simdjson::SUCCESS) {
      return refused("body: malformed JSON (" + std::string(simdjson::error_message(error)) + ")");
    }
    if (document.get_object().get(body) != simdjson::SUCCESS) {
      return refused("body: must be a JSON object");
    }
  } else if (target.route != Route::book) {
    return refused("body: a JSON object is required");
  }
  Why why;
  switch (target.route) {
    case Route::create_event:
    case Route::put_event:
      why = decode_create(body, target, command);
      break;
    case Route::update_event:
      why = decode_update(body, target, command);
      break;
    default:
      why = decode_book(has_body ? &body : nullptr, target, default_user, request, command);
      break;
  }
  return why.empty() ? owned(*command, shards) : refused(std::move(why));
}

}  // namespace admit::server::http
