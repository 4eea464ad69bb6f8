// The commands of the `admit` shell, parsed by CLI11 the same way for one-shot
// command lines and REPL lines. Exit codes are a contract scripts rely on.
#pragma once

#include <iosfwd>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "admit/client.h"

namespace admit::shell {

inline constexpr int exit_ok = 0;           // success outcome, or a command that worked
inline constexpr int exit_unreachable = 1;  // the server could not be reached
inline constexpr int exit_usage = 2;        // bad flag or value (the message names it)
inline constexpr int exit_refused = 3;      // a refusal outcome (SOLD_OUT, NOT_FOUND, ...)

inline constexpr std::string_view default_server = "127.0.0.1:7400";
// Longest REPL line accepted; longer lines are refused, not truncated.
inline constexpr std::size_t line_size_max = 64 * 1024;

struct Args;

class Shell {
 public:
  // `env_server` is $ADMIT_SERVER, `env_token` $ADMIT_TOKEN (empty when
  // unset): the defaults of --server and --token.
  Shell(std::ostream& out, std::ostream& err, std::string env_server, std::string env_token = {});
  ~Shell();

  // Runs one command line (the words after the program name). Returns the exit code.
  int run(const std::vector<std::string>& words);
  // Whether stdout is a terminal: `watch` then redraws one line in place
  // (else it prints one JSON line per update).
  void set_terminal_output(bool terminal) { terminal_output_ = terminal; }
  // True after a `shell` command (or no command) asked for the REPL.
  bool repl_requested() const { return repl_requested_; }

  // Every command word, for tab completion.
  static const std::vector<std::string>& command_words();
  // One line per command with an example: the REPL's `help`.
  static std::string overview();
  // Splits a REPL line into words like a POSIX shell would (single and double
  // quotes, backslash); false when a quote is left open.
  static bool split_line(std::string_view line, std::vector<std::string>* words);

 private:
  int execute(Args& args);
  Client* client_for(const Args& args, int* exit_code);
  int report_failure(const Args& args, const Status& status);
  int report_refusal(const Args& args, const Status& status, std::string_view subject);
  // Prints a success answer (JSON or text) and returns exit_ok.
  int print_answer(const Args& args, const nlohmann::json& json, const std::string& text);

  int event_create(Args& args, Client& client);
  int event_update(Args& args, Client& client);
  int event_get(Args& args, Client& client);
  int event_list(Args& args, Client& client);
  int book(Args& args, Client& client);
  // book --users-file: every user of the file pipelined through one
  // AsyncClient (its bookings batched), one answer line each, in file order.
  int book_users(Args& args);
  int confirm_or_cancel(Args& args, Client& client, bool confirm);
  int booking_get(Args& args, Client& client);
  int bookings(Args& args, Client& client);
  int waitlist(Args& args, Client& client);
  int leave(Args& args, Client& client);
  int stats(Args& args, Client& client);
  // Mints a token (no server): prints it on one line.
  int token(Args& args);
  // Follows an event's counters until Ctrl-C (shell_watch.cc).
  int watch(Args& args, Client& client);

  std::ostream& out_;
  std::ostream& err_;
  std::string env_server_;
  std::string env_token_;
  std::unique_ptr<Client> client_;
  ClientOptions client_options_;  // what client_ was made with (book_users' AsyncClient too)
  std::string client_server_;     // the address client_ talks to
  std::string client_token_;      // and the token it says Hello with
  bool repl_requested_ = false;
  bool terminal_output_ = false;
  // --server, --token and --json given with the command that opened the REPL:
  // the defaults of every REPL line.
  std::string session_server_;
  std::string session_token_;
  bool session_json_ = false;
};

// Runs the interactive shell until `quit` or end of input; history in
// `history_path` (empty: none). Returns the exit code of the last command.
int run_repl(Shell& shell, const std::string& history_path);

}  // namespace admit::shell
