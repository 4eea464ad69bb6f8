#include "server/http/router.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <optional>

#include "server/http/http_limits.h"

namespace admit::server::http {
namespace {

constexpr std::size_t segments_max = 5;  // /v1/events/{id}/waitlist/{user}

struct Path {
  std::array<std::string_view, segments_max> segments;
  std::size_t count = 0;
  bool too_long = false;
};

// Splits "/a/b/c" into its segments, still encoded. "/a//b" and "/a/" have
// an empty segment, which no route has.
Path split_path(std::string_view path) {
  Path out;
  if (path.empty() || path[0] != '/') {
    out.too_long = true;
    return out;
  }
  path.remove_prefix(1);
  while (true) {
    const std::size_t slash = path.find('/');
    if (out.count == segments_max) {
      out.too_long = true;
      return out;
    }
    out.segments[out.count++] = path.substr(0, slash);
    if (slash == std::string_view::npos) return out;
    path.remove_prefix(slash + 1);
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
  return -1;
}

// Percent-decodes `text` into `out` ('+' is a space in a query value).
// False on a malformed escape or when the result passes `capacity`.
template <std::size_t capacity>
bool decode(std::string_view text, bool plus_is_space, FixedString<capacity>* out) {
  char decoded[capacity];
  std::size_t size = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      const int high = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
      const int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
      if (high < 0 || low < 0) return false;
      c = static_cast<char>(high * 16 + low);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (size == capacity) return false;
    decoded[size++] = c;
  }
  out->assign({decoded, size});
  return true;
}

bool fail(RouteError* error, int status, std::string message, std::string_view allow = {}) {
  *error = {status, std::move(message), allow};
  return false;
}

template <std::size_t capacity>
bool decode_named(std::string_view text, std::string_view name, std::string_view limit,
                  bool plus_is_space, FixedString<capacity>* out, RouteError* error) {
  if (decode(text, plus_is_space, out)) return true;
  return fail(error, 400,
              std::string(name) + ": malformed percent-encoding or longer than " +
                  std::string(limit) + " bytes");
}

bool decode_ref(std::string_view text, FixedString<booking_ref_size>* ref, RouteError* error) {
  FixedString<booking_ref_size> raw;
  const auto parsed = decode(text, false, &raw) ? BookingRef::parse(raw.view()) : std::nullopt;
  if (!parsed) return fail(error, 400, "ref: not a booking ref like BK-7M2Q9XK4");
  ref->assign(parsed->view());
  return true;
}

// `after` and `limit`, the only query parameters (of the list routes).
bool decode_query(std::string_view query, bool lists, Target* target, RouteError* error) {
  std::size_t parameters = 0;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    if (++parameters > query_parameters_max) return fail(error, 400, "query: too many parameters");
    const std::size_t eq = pair.find('=');
    const std::string_view name = pair.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    if (lists && name == "after") {
      if (!decode_named(value, "after", "128", true, &target->after, error)) return false;
    } else if (lists && name == "limit") {
      std::uint64_t limit = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), limit);
      if (value.empty() || end != value.data() + value.size() ||
          ec == std::errc::invalid_argument) {
        return fail(error, 400, "limit: must be an integer 0..1000");
      }
      // Past the limit (or past 64 bits): the edge's check names the limit.
      target->limit = ec == std::errc() && limit <= list_limit_max
                          ? static_cast<std::uint32_t>(limit)
                          : list_limit_max + 1;
    } else {
      FixedString<32> shown;
      decode(name.substr(0, 32), true, &shown);
      return fail(error, 400, std::string(shown.view()) + ": unknown query parameter");
    }
  }
  return true;
}

// The routes of one path shape, and what Allow says for it.
struct Shape {
  std::string_view allow;
  std::array<std::pair<Method, Route>, 3> routes{};
  std::size_t count = 0;
};

// The shape of `path`'s segments, or nullopt (404). Parameters stay encoded.
std::optional<Shape> shape_of(const Path& path) {
  const auto& s = path.segments;
  const std::size_t n = path.count;
  using enum Method;
  if (n == 1 && s[0].empty()) return Shape{"GET", {{{get, Route::page}}}, 1};  // "/"
  for (std::size_t i = 0; i < n; ++i) {
    if (s[i].empty()) return std::nullopt;
  }
  if (n == 1 && s[0] == "metrics") return Shape{"GET", {{{get, Route::metrics}}}, 1};
  if (n == 1 && s[0] == "healthz") return Shape{"GET", {{{get, Route::healthz}}}, 1};
  if (n < 2 || s[0] != "v1") return std::nullopt;
  if (n == 2 && s[1] == "stats") return Shape{"GET", {{{get, Route::stats}}}, 1};
  if (s[1] == "events") {
    if (n == 2) {
      return Shape{"GET, POST", {{{get, Route::list_events}, {post, Route::create_event}}}, 2};
    }
    if (n == 3) {
      return Shape{
          "GET, PUT, PATCH",
          {{{get, Route::get_event}, {put, Route::put_event}, {patch, Route::update_event}}},
          3};
    }
    if (n == 4 && s[3] == "bookings") {
      return Shape{"GET, POST", {{{get, Route::list_bookings}, {post, Route::book}}}, 2};
    }
    if (n == 4 && s[3] == "watch") return Shape{"GET", {{{get, Route::watch}}}, 1};
    if (n == 5 && s[3] == "waitlist") {
      return Shape{
          "GET, DELETE", {{{get, Route::waitlist_position}, {delete_, Route::leave_waitlist}}}, 2};
    }
  }
  if (s[1] == "bookings") {
    if (n == 3)
      return Shape{"GET, DELETE", {{{get, Route::get_booking}, {delete_, Route::cancel}}}, 2};
    if (n == 4 && s[3] == "confirm") return Shape{"POST", {{{post, Route::confirm}}}, 1};
  }
  return std::nullopt;
}

constexpr std::string_view method_name(Method method) {
  switch (method) {
    case Method::get:
      return "GET";
    case Method::head:
      return "HEAD";
    case Method::post:
      return "POST";
    case Method::put:
      return "PUT";
    case Method::patch:
      return "PATCH";
    case Method::delete_:
      return "DELETE";
    case Method::other:
      break;
  }
  return "this method";
}

// Shown in a 404: the path as sent, cut to a readable length.
constexpr std::size_t shown_path_size_max = 200;

bool decode_params(const Path& path, Target* target, RouteError* error) {
  const auto& s = path.segments;
  switch (target->route) {
    case Route::get_event:
    case Route::put_event:
    case Route::update_event:
    case Route::book:
    case Route::list_bookings:
    case Route::waitlist_position:
    case Route::leave_waitlist:
    case Route::watch:
      if (!decode_named(s[2], "id", "128", false, &target->id, error)) return false;
      if (path.count == 5) return decode_named(s[4], "user", "64", false, &target->user, error);
      return true;
    case Route::get_booking:
    case Route::cancel:
    case Route::confirm:
      return decode_ref(s[2], &target->ref, error);
    default:
      return true;
  }
}

// The origin form of a target: RFC 9112 3.2.2 has servers accept the
// absolute form ("http://host:port/v1/events") too; its scheme and authority
// are dropped.
std::string_view origin_form(std::string_view target) {
  for (const std::string_view scheme : {"http://", "https://"}) {
    if (target.size() < scheme.size()) continue;
    const bool same = std::equal(scheme.begin(), scheme.end(), target.begin(), [](char a, char b) {
      return a == std::tolower(static_cast<unsigned char>(b));
    });
    if (!same) continue;
    const std::string_view rest = target.substr(scheme.size());
    const std::size_t path = rest.find_first_of("/?");
    if (path == std::string_view::npos) return "/";
    return rest.substr(path);
  }
  return target;
}

}  // namespace

Op op_of(Route route) {
  switch (route) {
    case Route::create_event:
    case Route::put_event:
      return Op::create_event;
    case Route::get_event:
      return Op::get_event;
    case Route::update_event:
      return Op::update_event;
    case Route::list_events:
      return Op::list_events;
    case Route::book:
      return Op::book;
    case Route::list_bookings:
      return Op::list_bookings;
    case Route::get_booking:
      return Op::get_booking;
    case Route::cancel:
      return Op::cancel;
    case Route::confirm:
      return Op::confirm;
    case Route::waitlist_position:
      return Op::waitlist_position;
    case Route::leave_waitlist:
      return Op::leave_waitlist;
    case Route::stats:
      return Op::stats;
    case Route::metrics:
      return Op::metrics;
    case Route::healthz:
      return Op::healthz;
    case Route::watch:
      return Op::watch;
    case Route::page:
      return Op::page;
  }
  return Op::page;  // not reached: every route is above
}

bool route(Method method, std::string_view request_target, Target* target, RouteError* error) {
  *target = Target{};
  request_target = origin_form(request_target);
  const std::size_t question = request_target.find('?');
  const std::string_view path = request_target.substr(0, question);
  const std::string_view query =
      question == std::string_view::npos ? std::string_view{} : request_target.substr(question + 1);
  const Path split = split_path(path);
  const auto shape = split.too_long ? std::nullopt : shape_of(split);
  if (!shape) {
    return fail(error, 404,
                "route: no such path: " + std::string(path.substr(0, shown_path_size_max)));
  }
  const auto* end = shape->routes.begin() + shape->count;
  const auto* found = std::find_if(shape->routes.begin(), end,
                                   [&](const auto& entry) { return entry.first == method; });
  if (found == end) {
    return fail(error, 405,
                "method: " + std::string(method_name(method)) +
                    " is not allowed here; allowed: " + std::string(shape->allow),
                shape->allow);
  }
  target->route = found->second;
  if (!decode_params(split, target, error)) return false;
  if (target->route == Route::page) return true;  // its query is the page's script's
  const bool lists = target->route == Route::list_events || target->route == Route::list_bookings;
  return decode_query(query, lists, target, error);
}

}  // namespace admit::server::http
