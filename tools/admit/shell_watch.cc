// `admit watch EVENT`: an event's live counters, pushed by the server, until
// Ctrl-C (exit 0) or the server is lost for longer than --retry-for (exit 1).
#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>

#include "args.h"
#include "render.h"
#include "shell.h"

namespace admit::shell {
namespace {

using Clock = std::chrono::steady_clock;

// The longest wait for an update: how late Ctrl-C may be noticed when a
// signal arrives between two waits.
constexpr auto update_wait = std::chrono::milliseconds(200);
// Back to the line's start, and clear it: the live line is redrawn in place.
constexpr std::string_view redraw = "\r\033[2K";

volatile std::sig_atomic_t interrupted = 0;

void on_interrupt(int /*signal*/) { interrupted = 1; }

// While it lives, SIGINT sets `interrupted` instead of ending the process (so
// the watch ends with exit 0, and in the REPL goes back to the prompt).
// Without SA_RESTART: a wait in poll(2) returns at once.
class InterruptCatcher {
 public:
  InterruptCatcher() {
    interrupted = 0;
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, &previous_);
  }
  ~InterruptCatcher() { ::sigaction(SIGINT, &previous_, nullptr); }
  InterruptCatcher(const InterruptCatcher&) = delete;
  InterruptCatcher& operator=(const InterruptCatcher&) = delete;

 private:
  struct sigaction previous_ {};
};

}  // namespace

int Shell::watch(Args& args, Client& client) {
  const bool live = terminal_output_ && !args.json;
  const Status watched = client.watch(args.target);
  if (!watched.answered()) return report_failure(args, watched);
  if (!watched.ok()) return report_refusal(args, watched, args.target);
  const InterruptCatcher catcher;
  const auto retry_for = std::chrono::duration<double>(args.retry_for_s);
  std::optional<Clock::time_point> lost_since;
  int exit_code = exit_ok;
  while (interrupted == 0) {
    const Result<WatchUpdate> update = client.next_update(update_wait);
    if (update.ok()) {
      lost_since.reset();
      if (live) {
        out_ << redraw << watch_text(*update) << std::flush;
      } else {
        out_ << watch_json(*update, now_ms()).dump() << "\n" << std::flush;
      }
      continue;
    }
    if (update.error() == ClientError::timed_out) continue;
    // Answered: a re-watch after a restart was refused (the event is gone).
    if (update.answered()) {
      if (live) out_ << "\n";
      exit_code = report_refusal(args, update.status(), args.target);
      break;
    }
    // The client keeps trying to watch again; give up past --retry-for.
    const Clock::time_point now = Clock::now();
    if (!lost_since) lost_since = now;
    if (now - *lost_since >= retry_for) {
      if (live) out_ << "\n";
      exit_code = report_failure(
          args, Status::failure(update.error(),
                                fmt::format("watch {}: server lost for {:g} s: {}", args.target,
                                            args.retry_for_s, update.message())));
      break;
    }
    if (live) out_ << redraw << args.target << "  reconnecting..." << std::flush;
  }
  if (interrupted != 0 && live) out_ << "\n" << std::flush;
  // The shell's client lives on in the REPL: it must not keep the watch.
  client.unwatch(args.target);
  return exit_code;
}

}  // namespace admit::shell
