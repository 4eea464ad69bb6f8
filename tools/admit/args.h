// What one command line says, as CLI11 fills it. Private to the shell.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace admit::shell {

enum class Command {
  none,
  help,
  shell,
  event_create,
  event_update,
  event_get,
  event_list,
  book,
  confirm,
  cancel,
  booking_get,
  bookings,
  waitlist,
  leave,
  stats,
  token,
  watch,
};

// A numeric flag and whether it was given.
template <typename T>
struct Flag {
  T value{};
  CLI::Option* option = nullptr;
  bool given() const { return option != nullptr && option->count() > 0; }
};

struct EventFlags {
  Flag<std::uint32_t> capacity, per_user, hold_ttl, rate, burst;
  Flag<std::string> opens_at, closes_at, state;
  CLI::Option* waitlist = nullptr;  // --waitlist [MAX]
  std::string waitlist_max;
  bool no_waitlist = false;
};

struct TokenFlags {
  std::string secret_path, role;
  Flag<std::string> sub;  // given empty: refused, not "any user"
  std::string ttl = "1h";
};

struct Args {
  Command command = Command::none;
  std::string command_path;  // "event create": for hints
  std::string server;
  std::string token;  // --token: sent in Hello
  bool json = false;
  std::string target;  // the positional: event id, EVENT or REF
  std::string user;
  std::uint32_t seats = 1;
  bool hold = false, join = false, never = false;
  std::string request_id;
  std::string users_file;  // book --users-file: one user a line ("-": stdin)
  std::uint32_t limit = 0;
  std::string after;
  EventFlags create_flags;  // event create
  EventFlags update_flags;  // event update
  TokenFlags token_flags;   // token
  double retry_for_s = 10;  // watch: seconds without the server before giving up
};

}  // namespace admit::shell
