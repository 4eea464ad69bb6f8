#include "shell.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <nlohmann/json.hpp>
#include <ostream>

#include "admit/limits.h"
#include "args.h"
#include "render.h"

namespace admit::shell {

namespace {

struct CommandDoc {
  std::string_view path, summary, example;
};

constexpr CommandDoc command_docs[] = {
    {"event create", "create an event (a pool of seats)",
     "admit event create tour-vip --capacity 500 --per-user 4 --waitlist --hold-ttl 300000"},
    {"event get", "show an event's config and live counters", "admit event get tour-vip"},
    {"event list", "list events in id order", "admit event list --limit 50"},
    {"event update", "change an event (absent flags stay as they are)",
     "admit event update tour-vip --capacity 600 --state paused"},
    {"book", "book seats for a user (or hold them, or join the waitlist), or for a file of users",
     "admit book tour-vip --user user-42 --seats 2\n  admit book rsvp-party --users-file "
     "guests.txt   # one user a line, all pipelined"},
    {"confirm", "confirm a held booking", "admit confirm BK-7M2Q9XK4"},
    {"cancel", "cancel a booking (the waitlist head moves up)", "admit cancel BK-7M2Q9XK4"},
    {"booking get", "show one booking", "admit booking get BK-7M2Q9XK4"},
    {"bookings", "list an event's bookings", "admit bookings tour-vip --limit 100"},
    {"waitlist", "a user's waitlist position, or the waitlist length",
     "admit waitlist tour-vip --user user-42"},
    {"leave", "take a user off an event's waitlist", "admit leave tour-vip --user user-42"},
    {"stats", "server counters per shard", "admit stats"},
    {"watch",
     "follow an event's live counters until Ctrl-C (one JSON line per update with "
     "--json or when not on a terminal)",
     "admit watch tour-vip        # or: admit watch tour-vip --json | jq .available"},
    {"token", "mint a JWT for a server with --auth-secret (no server needed)",
     "export ADMIT_TOKEN=$(admit token --secret /etc/admit/secret --role app --sub user-42 "
     "--ttl 7d)"},
    {"help", "this list", "help"},
    {"quit", "leave the shell (REPL only; EOF works too)", "quit"},
};

std::string example_footer(std::string_view path) {
  for (const CommandDoc& doc : command_docs) {
    if (doc.path == path) {
      return "Example:\n  " + std::string(doc.example) +
             "\nGlobal flags: --server HOST:PORT (default $ADMIT_SERVER or 127.0.0.1:7400), "
             "--token TOKEN (default $ADMIT_TOKEN), --json";
    }
  }
  return {};
}

CLI::App* add_command(CLI::App* parent, std::string_view name, std::string_view path, Args& args,
                      Command command) {
  std::string summary;
  for (const CommandDoc& doc : command_docs) {
    if (doc.path == path) summary = doc.summary;
  }
  CLI::App* sub = parent->add_subcommand(std::string(name), summary);
  sub->footer(example_footer(path));
  sub->callback([&args, command, path] {
    args.command = command;
    args.command_path = std::string(path);
  });
  return sub;
}

void add_event_flags(CLI::App* cmd, EventFlags& f, bool update) {
  f.capacity.option = cmd->add_option("--capacity", f.capacity.value, "seats in the event")
                          ->check(CLI::Range(std::uint32_t{0}, capacity_max));
  if (!update) f.capacity.option->required();
  f.per_user.option = cmd->add_option("--per-user", f.per_user.value,
                                      "most seats one user may hold (default: capacity)");
  f.hold_ttl.option = cmd->add_option("--hold-ttl", f.hold_ttl.value,
                                      "ms a hold lasts before it expires (0: no holds)")
                          ->check(CLI::Range(std::uint32_t{0}, hold_ttl_ms_max));
  f.waitlist = cmd->add_option("--waitlist", f.waitlist_max,
                               "keep a waitlist, of at most MAX entries when given")
                   ->expected(0, 1);
  if (update) {
    cmd->add_flag("--no-waitlist", f.no_waitlist, "turn the waitlist off")->excludes(f.waitlist);
  }
  f.opens_at.option = cmd->add_option("--opens-at", f.opens_at.value,
                                      "sale opens: ISO 8601 (2026-12-01T10:00:00Z), +SECONDS "
                                      "from now, or none");
  f.closes_at.option =
      cmd->add_option("--closes-at", f.closes_at.value, "sale closes: ISO 8601, +SECONDS, or none");
  f.rate.option = cmd->add_option("--rate", f.rate.value, "booking attempts per second per user")
                      ->check(CLI::Range(std::uint32_t{0}, rate_per_s_max));
  f.burst.option = cmd->add_option("--burst", f.burst.value, "rate limit burst (default: rate)");
  if (update) {
    f.state.option = cmd->add_option("--state", f.state.value, "open, paused or closed")
                         ->check(CLI::IsMember({"open", "paused", "closed"}));
  }
}

void add_event_commands(CLI::App& app, Args& args) {
  CLI::App* event = app.add_subcommand("event", "create, show, list and change events");
  event->require_subcommand(1);
  event->footer("Example:\n  admit event create tour-vip --capacity 500");
  CLI::App* create = add_command(event, "create", "event create", args, Command::event_create);
  create->add_option("ID", args.target, "event id (1..128 bytes)")->required();
  add_event_flags(create, args.create_flags, false);
  CLI::App* get = add_command(event, "get", "event get", args, Command::event_get);
  get->add_option("ID", args.target, "event id")->required();
  CLI::App* list = add_command(event, "list", "event list", args, Command::event_list);
  list->add_option("--limit", args.limit, "events per page (default 100)")
      ->check(CLI::Range(std::uint32_t{0}, list_limit_max));
  list->add_option("--after", args.after, "cursor: the last id of the previous page");
  CLI::App* update = add_command(event, "update", "event update", args, Command::event_update);
  update->add_option("ID", args.target, "event id")->required();
  add_event_flags(update, args.update_flags, true);
}

void add_booking_commands(CLI::App& app, Args& args) {
  CLI::App* book = add_command(&app, "book", "book", args, Command::book);
  book->add_option("EVENT", args.target, "event id")->required();
  CLI::App* who = book->add_option_group("--user or --users-file", "who books");
  who->add_option("--user", args.user, "the user booking (1..64 bytes)");
  who->add_option("--users-file", args.users_file,
                  "book for every user of FILE, one per line (- for stdin; blank lines "
                  "skipped), each with the flags given and its own request id; all are "
                  "pipelined at once (sent as batches) and answered one line each, in file "
                  "order (JSON lines with --json)");
  who->require_option(1);
  book->add_option("--seats", args.seats, "seats wanted, all or nothing (default 1)")
      ->check(CLI::Range(std::uint32_t{1}, seats_max));
  book->add_flag("--hold", args.hold, "hold the seats; confirm within the event's hold TTL");
  CLI::Option* join =
      book->add_flag("--waitlist", args.join,
                     "join the waitlist when sold out (the default when the event has one)");
  book->add_flag("--no-waitlist", args.never, "answer SOLD_OUT rather than wait")->excludes(join);
  book->add_option("--request-id", args.request_id,
                   "idempotency key (default: a random one); a retry with it changes nothing")
      ->excludes(who->get_option("--users-file"));
  for (auto [name, path, command] : {std::tuple{"confirm", "confirm", Command::confirm},
                                     std::tuple{"cancel", "cancel", Command::cancel}}) {
    CLI::App* sub = add_command(&app, name, path, args, command);
    sub->add_option("REF", args.target, "booking ref, like BK-7M2Q9XK4")->required();
    sub->add_option("--request-id", args.request_id, "idempotency key (default: a random one)");
  }
  CLI::App* booking = app.add_subcommand("booking", "show a booking");
  booking->require_subcommand(1);
  CLI::App* get = add_command(booking, "get", "booking get", args, Command::booking_get);
  get->add_option("REF", args.target, "booking ref")->required();
  CLI::App* list = add_command(&app, "bookings", "bookings", args, Command::bookings);
  list->add_option("EVENT", args.target, "event id")->required();
  list->add_option("--limit", args.limit, "bookings per page (default 100)")
      ->check(CLI::Range(std::uint32_t{0}, list_limit_max));
  list->add_option("--after", args.after, "cursor: the last ref of the previous page");
}

void add_token_command(CLI::App& app, Args& args) {
  CLI::App* token = add_command(&app, "token", "token", args, Command::token);
  TokenFlags& f = args.token_flags;
  token
      ->add_option("--secret", f.secret_path,
                   "file holding the server's --auth-secret (its bytes, less a trailing "
                   "newline)")
      ->required();
  token->add_option("--role", f.role, "admin (everything), app (book, cancel, read) or read")
      ->required();
  f.sub.option =
      token->add_option("--sub", f.sub.value,
                        "the only user the token books and reads as (1..64 bytes; default: any "
                        "user)");
  token->add_option("--ttl", f.ttl,
                    "lifetime: 30s, 15m, 1h, 7d; 0 or none: never expires (default 1h)");
}

void add_waitlist_commands(CLI::App& app, Args& args) {
  CLI::App* waitlist = add_command(&app, "waitlist", "waitlist", args, Command::waitlist);
  waitlist->add_option("EVENT", args.target, "event id")->required();
  waitlist->add_option("--user", args.user, "whose position (default: the waitlist's length)");
  CLI::App* leave = add_command(&app, "leave", "leave", args, Command::leave);
  leave->add_option("EVENT", args.target, "event id")->required();
  leave->add_option("--user", args.user, "the user leaving")->required();
  leave->add_option("--request-id", args.request_id, "idempotency key (default: a random one)");
  add_command(&app, "stats", "stats", args, Command::stats);
  CLI::App* watch = add_command(&app, "watch", "watch", args, Command::watch);
  watch->add_option("EVENT", args.target, "event id")->required();
  watch
      ->add_option("--retry-for", args.retry_for_s,
                   "seconds to keep reconnecting after the server is lost before giving up "
                   "(exit 1; default 10)")
      ->check(CLI::Range(0.0, 86400.0));
  add_token_command(app, args);
  add_command(&app, "help", "help", args, Command::help);
  CLI::App* repl = app.add_subcommand("shell", "the interactive shell (also: no command)");
  repl->callback([&args] { args.command = Command::shell; });
}

void build_app(CLI::App& app, Args& args) {
  app.name("admit");
  app.description("admit: the Admit operators' shell. Run a command, or none for the REPL.");
  app.footer(
      "Exit codes: 0 success, 3 refused (SOLD_OUT, NOT_FOUND, ...), 2 usage error, "
      "1 server unreachable.\nExample:\n  admit --server 127.0.0.1:7400 book tour-vip "
      "--user user-42 --seats 2");
  app.fallthrough();  // --server and --json may come after the command too
  app.require_subcommand(0, 1);
  app.add_option("--server", args.server,
                 "admitd HOST:PORT (default $ADMIT_SERVER or " + std::string(default_server) + ")");
  app.add_option("--token", args.token,
                 "auth token sent in Hello (default $ADMIT_TOKEN; see `admit token`)");
  app.add_flag("--json", args.json, "print one JSON object per command");
  add_event_commands(app, args);
  add_booking_commands(app, args);
  add_waitlist_commands(app, args);
}

}  // namespace

Shell::Shell(std::ostream& out, std::ostream& err, std::string env_server, std::string env_token)
    : out_(out), err_(err), env_server_(std::move(env_server)), env_token_(std::move(env_token)) {}
Shell::~Shell() = default;

const std::vector<std::string>& Shell::command_words() {
  static const std::vector<std::string> words = {
      "event",    "create",   "get",   "list",  "update", "book",  "confirm", "cancel", "booking",
      "bookings", "waitlist", "leave", "stats", "watch",  "token", "help",    "quit",   "exit"};
  return words;
}

std::string Shell::overview() {
  std::string out = "Commands (add --help to any for its flags and an example):\n";
  for (const CommandDoc& doc : command_docs) {
    out += "  " + std::string(doc.path);
    out.append(doc.path.size() < 14 ? 14 - doc.path.size() : 1, ' ');
    out += std::string(doc.summary) + "\n      e.g. " + std::string(doc.example) + "\n";
  }
  out += "Global flags: --server HOST:PORT, --token TOKEN, --json";
  return out;
}

bool Shell::split_line(std::string_view line, std::vector<std::string>* words) {
  words->clear();
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < line.size()) {
        word += line[++i];
      } else {
        word += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      word += line[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) words->push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words->push_back(std::move(word));
  return quote == 0;
}

int Shell::run(const std::vector<std::string>& words) {
  Args args;
  CLI::App app;
  build_app(app, args);
  std::vector<std::string> reversed(words.rbegin(), words.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out_, err_);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, out_, err_);
  } catch (const CLI::ParseError& e) {
    const bool json = std::find(words.begin(), words.end(), "--json") != words.end();
    if (json) out_ << nlohmann::json{{"error", "usage"}, {"message", e.what()}}.dump() << "\n";
    err_ << "admit: " << e.what() << "\n"
         << "hint: add --help to the command for its flags and an example; `admit help` "
            "lists the commands\n";
    return exit_usage;
  }
  args.json = args.json || session_json_;
  return execute(args);
}

}  // namespace admit::shell
