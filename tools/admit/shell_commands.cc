// The handlers of the shell's commands: one Client call each, then the answer
// as JSON or text, and an exit code.
#include <charconv>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <vector>

#include "admit/async_client.h"
#include "admit/limits.h"
#include "args.h"
#include "protocol/token.h"
#include "render.h"
#include "shell.h"

namespace admit::shell {
namespace {

// Prints a usage error naming the flag, with a hint, and returns exit_usage.
int usage(std::ostream& out, std::ostream& err, const Args& args, const std::string& message) {
  if (args.json) out << nlohmann::json{{"error", "usage"}, {"message", message}}.dump() << "\n";
  err << "admit: " << message << "\nhint: `admit " << args.command_path
      << " --help` shows its flags and an example\n";
  return exit_usage;
}

// The value of a time flag, or nullopt (and why in *why) when malformed.
std::optional<std::int64_t> time_flag(const Flag<std::string>& flag, std::string_view name,
                                      std::string* why) {
  if (!flag.given()) return 0;
  std::optional<std::int64_t> ms = parse_time(flag.value, now_ms());
  if (!ms) {
    *why = std::string(name) + ": '" + flag.value +
           "' is not ISO 8601 (2026-12-01T10:00:00Z), +SECONDS or none";
  }
  return ms;
}

// --waitlist [MAX]: 0 (the protocol's maximum) when no MAX is given.
std::optional<std::uint32_t> waitlist_max_flag(const EventFlags& f, std::string* why) {
  if (f.waitlist_max.empty()) return 0;
  std::uint32_t max = 0;
  const char* end = f.waitlist_max.data() + f.waitlist_max.size();
  const auto [ptr, ec] = std::from_chars(f.waitlist_max.data(), end, max);
  if (ec != std::errc() || ptr != end || max > waitlist_length_max) {
    *why = "--waitlist: '" + f.waitlist_max + "' is not a length (0.." +
           std::to_string(waitlist_length_max) + ")";
    return std::nullopt;
  }
  return max;
}

nlohmann::json with_outcome(nlohmann::json j, Outcome outcome) {
  j["outcome"] = outcome_name(outcome);
  return j;
}

}  // namespace

int Shell::print_answer(const Args& args, const nlohmann::json& json, const std::string& text) {
  if (args.json) {
    out_ << json.dump() << "\n";
  } else {
    out_ << text << "\n";
  }
  return exit_ok;
}

int Shell::report_failure(const Args& args, const Status& status) {
  if (status.error() == ClientError::invalid_argument) {
    return usage(out_, err_, args, status.message());
  }
  if (args.json) {
    out_ << nlohmann::json{{"error", client_error_name(status.error())},
                           {"message", status.message()}}
                .dump()
         << "\n";
  }
  err_ << "admit: " << client_error_name(status.error()) << ": " << status.message() << "\n";
  return exit_unreachable;
}

int Shell::report_refusal(const Args& args, const Status& status, std::string_view subject) {
  const std::string_view name = outcome_name(status.outcome());
  if (args.json) {
    out_ << nlohmann::json{{"outcome", name}, {"message", status.message()}}.dump() << "\n";
  } else {
    out_ << name << ": " << (status.message().empty() ? std::string(subject) : status.message())
         << "\n";
  }
  return exit_refused;
}

Client* Shell::client_for(const Args& args, int* exit_code) {
  std::string server = args.server.empty() ? session_server_ : args.server;
  if (server.empty()) server = env_server_.empty() ? std::string(default_server) : env_server_;
  std::string token = args.token.empty() ? session_token_ : args.token;
  if (token.empty()) token = env_token_;
  if (client_ != nullptr && client_server_ == server && client_token_ == token) {
    return client_.get();
  }
  ClientOptions options;
  std::string why;
  if (!parse_address(server, &options, &why)) {
    *exit_code = usage(out_, err_, args, "--server: " + why);
    return nullptr;
  }
  if (token.size() > token_size_max) {
    *exit_code = usage(out_, err_, args,
                       "--token: longer than " + std::to_string(token_size_max) + " bytes");
    return nullptr;
  }
  options.token = token;
  client_options_ = options;
  client_ = std::make_unique<Client>(std::move(options));
  client_server_ = server;
  client_token_ = std::move(token);
  return client_.get();
}

int Shell::execute(Args& args) {
  switch (args.command) {
    case Command::none:
    case Command::shell:
      repl_requested_ = true;
      session_server_ = args.server;
      session_token_ = args.token;
      session_json_ = args.json;
      return exit_ok;
    case Command::help:
      out_ << overview() << "\n";
      return exit_ok;
    case Command::token:
      return token(args);
    default:
      break;
  }
  int exit_code = exit_ok;
  Client* client = client_for(args, &exit_code);
  if (client == nullptr) return exit_code;
  switch (args.command) {
    case Command::event_create:
      return event_create(args, *client);
    case Command::event_update:
      return event_update(args, *client);
    case Command::event_get:
      return event_get(args, *client);
    case Command::event_list:
      return event_list(args, *client);
    case Command::book:
      return book(args, *client);
    case Command::confirm:
      return confirm_or_cancel(args, *client, true);
    case Command::cancel:
      return confirm_or_cancel(args, *client, false);
    case Command::booking_get:
      return booking_get(args, *client);
    case Command::bookings:
      return bookings(args, *client);
    case Command::waitlist:
      return waitlist(args, *client);
    case Command::leave:
      return leave(args, *client);
    case Command::stats:
      return stats(args, *client);
    case Command::watch:
      return watch(args, *client);
    default:
      return exit_usage;
  }
}

int Shell::event_create(Args& args, Client& client) {
  const EventFlags& f = args.create_flags;
  std::string why;
  const auto opens_at_ms = time_flag(f.opens_at, "--opens-at", &why);
  const auto closes_at_ms = time_flag(f.closes_at, "--closes-at", &why);
  const auto waitlist_max = waitlist_max_flag(f, &why);
  if (!opens_at_ms || !closes_at_ms || !waitlist_max) return usage(out_, err_, args, why);
  EventSpec spec;
  spec.id = args.target;
  spec.capacity = f.capacity.value;
  spec.per_user_max = f.per_user.value;
  spec.hold_ttl_ms = f.hold_ttl.value;
  spec.waitlist = f.waitlist->count() > 0;
  spec.waitlist_max = *waitlist_max;
  spec.opens_at_ms = *opens_at_ms;
  spec.closes_at_ms = *closes_at_ms;
  spec.rate_per_s = f.rate.value;
  spec.rate_burst = f.burst.value;
  const Result<EventInfo> r = client.create_event(spec);
  if (!r.answered()) return report_failure(args, r.status());
  if (!r.ok()) return report_refusal(args, r.status(), args.target);
  return print_answer(args, with_outcome(event_json(*r), r.outcome()), "created " + event_text(*r));
}

int Shell::event_update(Args& args, Client& client) {
  const EventFlags& f = args.update_flags;
  std::string why;
  const auto opens_at_ms = time_flag(f.opens_at, "--opens-at", &why);
  const auto closes_at_ms = time_flag(f.closes_at, "--closes-at", &why);
  const auto waitlist_max = waitlist_max_flag(f, &why);
  if (!opens_at_ms || !closes_at_ms || !waitlist_max) return usage(out_, err_, args, why);
  EventUpdate u;
  u.id = args.target;
  if (f.capacity.given()) u.capacity = f.capacity.value;
  if (f.per_user.given()) u.per_user_max = f.per_user.value;
  if (f.hold_ttl.given()) u.hold_ttl_ms = f.hold_ttl.value;
  if (f.waitlist->count() > 0) u.waitlist = true;
  if (!f.waitlist_max.empty()) u.waitlist_max = *waitlist_max;
  if (f.no_waitlist) u.waitlist = false;
  if (f.opens_at.given()) u.opens_at_ms = *opens_at_ms;
  if (f.closes_at.given()) u.closes_at_ms = *closes_at_ms;
  if (f.rate.given()) u.rate_per_s = f.rate.value;
  if (f.burst.given()) u.rate_burst = f.burst.value;
  if (f.state.given()) u.state = event_state_from_name(f.state.value);
  if (!u.capacity && !u.per_user_max && !u.hold_ttl_ms && !u.waitlist && !u.waitlist_max &&
      !u.opens_at_ms && !u.closes_at_ms && !u.rate_per_s && !u.rate_burst && !u.state) {
    return usage(out_, err_, args, "event update: nothing to change (give --capacity, --state...)");
  }
  const Result<EventInfo> r = client.update_event(u);
  if (!r.answered()) return report_failure(args, r.status());
  if (!r.ok()) return report_refusal(args, r.status(), args.target);
  return print_answer(args, with_outcome(event_json(*r), r.outcome()), "updated " + event_text(*r));
}

int Shell::event_get(Args& args, Client& client) {
  const Result<EventInfo> r = client.get_event(args.target);
  if (!r.answered()) return report_failure(args, r.status());
  if (!r.ok()) return report_refusal(args, r.status(), args.target);
  return print_answer(args, with_outcome(event_json(*r), r.outcome()), event_text(*r));
}

int Shell::event_list(Args& args, Client& client) {
  const Result<EventPage> r = client.list_events(args.after, args.limit);
  if (!r.answered()) return report_failure(args, r.status());
  if (!r.ok()) return report_refusal(args, r.status(), "event list");
  nlohmann::json events = nlohmann::json::array();
  for (const EventInfo& e : r->events) events.push_back(event_json(e));
  nlohmann::json j = {{"outcome", outcome_name(r.outcome())}, {"events", events}};
  j["next_after"] = r->next_after.empty() ? nlohmann::json(nullptr) : nlohmann::json(r->next_after);
  return print_answer(args, j, event_table(*r));
}

namespace {

// The Book the flags ask for, user and request id aside.
BookRequest book_request_of(const Args& args) {
  BookRequest request;
  request.event = args.target;
  request.seats = args.seats;
  request.hold = args.hold;
  request.waitlist = args.join    ? WaitlistChoice::join
                     : args.never ? WaitlistChoice::never
                                  : WaitlistChoice::by_default;
  return request;
}

}  // namespace

int Shell::book(Args& args, Client& client) {
  if (!args.users_file.empty()) return book_users(args);
  BookRequest request = book_request_of(args);
  request.user = args.user;
  request.request_id = args.request_id;
  const Result<BookReply> r = client.book(request);
  if (!r.answered()) return report_failure(args, r.status());
  if (args.json) {
    out_ << book_json(r, request).dump() << "\n";
  } else {
    out_ << book_text(r, request) << "\n";
  }
  return r.ok() ? exit_ok : exit_refused;
}

namespace {

// Bookings of a users file in flight at once: deep enough to fill batches of
// book_batch_items_max, far below ClientOptions::in_flight_max.
constexpr std::size_t users_file_window = 4 * book_batch_items_max;

// The users of a --users-file, one a line (a trailing CR dropped, blank lines
// skipped); false and `why` naming the line when one is not a user.
bool read_users(std::istream& in, std::vector<std::string>* users, std::string* why) {
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line.size() > user_size_max) {
      *why = "--users-file: line " + std::to_string(number) + ": user: must be 1.." +
             std::to_string(user_size_max) + " bytes (got " + std::to_string(line.size()) + ")";
      return false;
    }
    users->push_back(std::move(line));
  }
  return true;
}

}  // namespace

int Shell::book_users(Args& args) {
  std::vector<std::string> users;
  std::string why;
  if (args.users_file == "-") {
    if (!read_users(std::cin, &users, &why)) return usage(out_, err_, args, why);
  } else {
    std::ifstream file(args.users_file);
    if (!file) return usage(out_, err_, args, "--users-file: cannot read " + args.users_file);
    if (!read_users(file, &users, &why)) return usage(out_, err_, args, why);
  }
  // Each its own request id: what AsyncClient retries after a lost
  // connection without booking anyone twice.
  std::vector<std::string> request_ids(users.size());
  for (std::string& id : request_ids) id = make_request_id();
  BookRequest request = book_request_of(args);
  std::vector<std::optional<Result<BookReply>>> answers(users.size());
  AsyncClient client(client_options_);
  std::size_t submitted = 0, printed = 0;
  int exit_code = exit_ok;
  while (printed < users.size()) {
    while (submitted < users.size() && client.in_flight() < users_file_window) {
      const std::size_t i = submitted++;
      request.user = users[i];
      request.request_id = request_ids[i];
      const Status s = client.submit_book(request, [&answers, i](const ReplyView& reply) {
        answers[i] = Result<BookReply>(reply.status(), reply.book());
      });
      if (s.answered()) continue;
      answers[i] = Result<BookReply>(s);
      if (s.error() != ClientError::could_not_connect) continue;
      // The server is unreachable: the rest would each wait connect_timeout to learn it.
      for (; submitted < users.size(); ++submitted) answers[submitted] = Result<BookReply>(s);
    }
    client.poll(std::chrono::milliseconds(100));
    // In file order: each answer once those before it are printed.
    for (; printed < submitted && answers[printed]; ++printed) {
      const Result<BookReply>& r = *answers[printed];
      request.user = users[printed];
      request.request_id = request_ids[printed];
      if (!r.answered()) {
        if (args.json) {
          out_ << nlohmann::json{{"user", users[printed]},
                                 {"error", client_error_name(r.error())},
                                 {"message", r.message()}}
                      .dump()
               << "\n";
        } else {
          out_ << client_error_name(r.error()) << ": " << users[printed] << ": " << r.message()
               << "\n";
        }
        exit_code = exit_unreachable;
        continue;
      }
      out_ << (args.json ? book_json(r, request).dump() : book_text(r, request)) << "\n";
      if (!r.ok() && exit_code == exit_ok) exit_code = exit_refused;
    }
  }
  return exit_code;
}

int Shell::confirm_or_cancel(Args& args, Client& client, bool confirm) {
  const Result<BookingInfo> r = confirm ? client.confirm(args.target, args.request_id)
                                        : client.cancel(args.target, args.request_id);
  if (!r.answered()) return report_failure(args, r.status());
  if (!r.ok()) return report_refusal(args, r.status(), args.target);
  nlohmann::json j = {{"ref", args.target}};
  if (!r->ref.empty()) j = booking_json(*r);
  std::string text = std::string(outcome_name(r.outcome())) + " ";
  text += r->ref.empty() ? args.target : booking_text(*r);
  return print_answer(args, with_outcome(j, r.outcome()), text);
}

int Shell::booking_get(Args& args, Client& client) {
  const Result<BookingInfo> r = client.get_booking(args.target);
  if (!r.answered()) return report_failure(args, r.status());
  if (!r.ok()) return report_refusal(args, r.status(), args.target);
  return print_answer(args, with_outcome(booking_json(*r), r.outcome()), booking_text(*r));
}

int Shell::bookings(Args& args, Client& client) {
  const Result<BookingPage> r = client.list_bookings(args.target, args.after, args.limit);
  if (!r.answered()) return report_failure(args, r.status());
  if (!r.ok()) return report_refusal(args, r.status(), args.target);
  nlohmann::json list = nlohmann::json::array();
  for (const BookingInfo& b : r->bookings) list.push_back(booking_json(b));
  nlohmann::json j = {
      {"outcome", outcome_name(r.outcome())}, {"event", args.target}, {"bookings", list}};
  j["next_after"] = r->next_after.empty() ? nlohmann::json(nullptr) : nlohmann::json(r->next_after);
  return print_answer(args, j, booking_table(*r));
}

int Shell::waitlist(Args& args, Client& client) {
  if (args.user.empty()) {
    const Result<EventInfo> r = client.get_event(args.target);
    if (!r.answered()) return report_failure(args, r.status());
    if (!r.ok()) return report_refusal(args, r.status(), args.target);
    const nlohmann::json j = {
        {"outcome", "OK"}, {"event", r->id}, {"waitlist", r->waitlist}, {"length", r->waitlisted}};
    return print_answer(args, j, r->id + ": " + std::to_string(r->waitlisted) + " in the waitlist");
  }
  const Result<WaitlistInfo> r = client.waitlist_position(args.target, args.user);
  if (!r.answered()) return report_failure(args, r.status());
  if (!r.ok()) return report_refusal(args, r.status(), args.user + " is not waiting");
  nlohmann::json j = {{"outcome", outcome_name(r.outcome())},
                      {"event", args.target},
                      {"user", args.user},
                      {"position", r->position},
                      {"seats", r->seats},
                      {"length", r->length}};
  if (!r->ref.empty()) j["ref"] = r->ref;
  std::string text = std::string(outcome_name(r.outcome())) + ": " + args.user;
  text += r->ref.empty() ? " is number " + std::to_string(r->position) + " of " +
                               std::to_string(r->length) + " in the waitlist of " + args.target
                         : " holds " + r->ref + " on " + args.target;
  return print_answer(args, j, text);
}

int Shell::leave(Args& args, Client& client) {
  const Result<WaitlistInfo> r = client.leave_waitlist(args.target, args.user, args.request_id);
  if (!r.answered()) return report_failure(args, r.status());
  if (!r.ok()) return report_refusal(args, r.status(), args.user + " is not waiting");
  const nlohmann::json j = {
      {"outcome", outcome_name(r.outcome())}, {"event", args.target}, {"user", args.user}};
  return print_answer(args, j,
                      std::string(outcome_name(r.outcome())) + ": " + args.user +
                          " left the waitlist of " + args.target);
}

int Shell::stats(Args& args, Client& client) {
  const Result<StatsInfo> r = client.stats();
  if (!r.answered()) return report_failure(args, r.status());
  if (!r.ok()) return report_refusal(args, r.status(), "stats");
  return print_answer(args, stats_json(*r), stats_text(*r));
}

int Shell::token(Args& args) {
  const TokenFlags& f = args.token_flags;
  const std::optional<jwt::Role> role = jwt::role_from_name(f.role);
  if (!role) return usage(out_, err_, args, "--role: '" + f.role + "' is not admin, app or read");
  if (f.sub.given() && !jwt::valid_sub(f.sub.value)) {
    return usage(out_, err_, args,
                 "--sub: must be 1.." + std::to_string(user_size_max) + " bytes of UTF-8");
  }
  const std::optional<std::int64_t> ttl_s = parse_ttl_s(f.ttl);
  if (!ttl_s) {
    return usage(out_, err_, args,
                 "--ttl: '" + f.ttl + "' is not 30s, 15m, 1h, 7d (at most " +
                     std::to_string(token_ttl_s_max / 86400) + "d), 0 or none");
  }
  std::string why;
  const std::optional<std::string> secret = jwt::read_secret_file(f.secret_path, "--secret", &why);
  if (!secret) return usage(out_, err_, args, why);
  jwt::TokenClaims claims{*role, f.sub.value, std::nullopt};
  if (*ttl_s > 0) claims.exp_s = now_ms() / 1000 + *ttl_s;
  const std::string token = jwt::mint_token(*secret, claims);
  if (token.size() > token_size_max) {
    // Only a sub full of bytes JSON escapes gets here.
    return usage(
        out_, err_, args,
        "--sub: the token would be longer than " + std::to_string(token_size_max) + " bytes");
  }
  nlohmann::json j = {{"token", token}, {"role", jwt::role_name(*role)}};
  j["sub"] = f.sub.value.empty() ? nlohmann::json(nullptr) : nlohmann::json(f.sub.value);
  j["expires_at"] =
      claims.exp_s ? nlohmann::json(format_time(*claims.exp_s * 1000)) : nlohmann::json(nullptr);
  return print_answer(args, j, token);
}

}  // namespace admit::shell
