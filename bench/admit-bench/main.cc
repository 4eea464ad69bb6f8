// admit-bench: scenarios over the binary protocol (through libadmit), each
// judged by a verdict table. Exit code 0: every check passed; 1: a check
// failed; 2: bad flags or the run could not be set up.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>

#include "bench/admit-bench/mix.h"
#include "bench/admit-bench/scenarios.h"

namespace {

using namespace admit;
using namespace admit::bench;

constexpr int exit_failed_check = 1;
constexpr int exit_usage = 2;

constexpr const char* description =
    R"(admit-bench: drives an Admit server (admitd) with a scenario and judges it.

Every run creates its own uniquely named event(s), so runs never disturb each
other or real data. Afterwards it asks the server for its view (GetEvent,
ListBookings) and checks, each PASS or FAIL:
  no_oversell           held + confirmed <= capacity, and the counters add up
  no_user_twice         no user holds two live bookings
  waitlist_fifo         positions 1..W handed out once each, promotions in order
  views_agree           what the client was told == what the server has
  no_unexpected_errors  only outcomes the scenario expects, no transport errors
plus checks of the scenario itself. Exit code 1 if any check fails.

Latency percentiles come from a log-linear histogram (< 0.8 % error).)";

constexpr const char* footer = R"(Examples:
  admit-bench --server 127.0.0.1:7400 flash-sale --users 300 --capacity 10 --seats 10
  admit-bench last-seat --users 300
  admit-bench rsvp --users 500 --capacity 300 --repeats 100
  admit-bench holds --users 300 --capacity 100 --hold-ttl 1000
  admit-bench throughput --connections 50 --pipeline 64 --duration 10
  admit-bench --no-book-batching throughput --pipeline 64   # one Book request per booking
  admit-bench throughput --connections 50 --rate 100000 --duration 10   # open loop
  admit-bench throughput --capacity 1000 --users 100000 --mix book=80,get=15,cancel=5
  admit-bench connections --connections 2000 --hold 10
  admit-bench watch-storm --watchers 1000 --buyers 10 --capacity 5000
  admit-bench watch-storm --watchers 1000 --http     # the same watchers over Server-Sent Events
  admit-bench --json throughput --duration 5 | jq .throughput_rps
  ADMIT_TOKEN=$(admit token --secret s.key --role admin) admit-bench last-seat   # auth on
Run `admit-bench SCENARIO --help` for a scenario's flags.)";

void add_common(CLI::App& app, CommonOptions* common, std::string* server) {
  app.add_option("--server", *server, "admitd base address, HOST:PORT")->capture_default_str();
  app.add_option("--token", common->client.token,
                 "auth token sent in every connection's Hello, role admin (the run creates "
                 "events); default $ADMIT_TOKEN. Mint one with `admit token --role admin`");
  app.add_flag(
      "--json", common->json,
      "print one JSON object (scenario, attempts, outcomes, seats_booked, "
      "throughput_rps, client CPU, latency_us, server memory, invariants, verdict) instead of "
      "the summary");
  app.add_option("--record", common->record_path,
                 "write every acknowledged success (event, ref, user, seats) to FILE as JSON "
                 "lines");
  app.add_option("--event-prefix", common->event_prefix, "first part of the events' names")
      ->capture_default_str();
  app.add_flag_callback(
      "--no-book-batching", [common] { common->client.book_batching = false; },
      "send one Book request per booking; by default libadmit's AsyncClient packs "
      "consecutive pipelined bookings of one event on one connection into one "
      "BookBatch (throughput, watch-storm; the one-booking-per-connection scenarios "
      "send single Books either way). Every answer means the same either way; the "
      "summary and JSON (\"book_batching\") say which was used");
  app.add_option("--phase-timeout", common->phase_timeout_s,
                 "seconds a phase (connect, send, drain, verify) may take before the run fails")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
}

CLI::App* add_flash_sale(CLI::App& app, FlashSaleOptions* o) {
  auto* cmd = app.add_subcommand("flash-sale",
                                 "N users (one connection each) try to book K seats each at the "
                                 "same instant; exactly capacity/K of them must win");
  cmd->add_option("--users", o->users, "distinct users")
      ->check(CLI::Range(1u, 100'000u))
      ->capture_default_str();
  cmd->add_option("--capacity", o->capacity, "seats on sale")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  cmd->add_option("--seats", o->seats, "seats each user asks for (all or nothing)")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  cmd->add_flag("--waitlist", o->waitlist, "losers join the waitlist instead of SOLD_OUT");
  return cmd;
}

CLI::App* add_last_seat(CLI::App& app, LastSeatOptions* o) {
  auto* cmd = app.add_subcommand("last-seat",
                                 "N users race for N-1 seats (waitlist on): exactly one must end "
                                 "up waitlisted, at position 1");
  cmd->add_option("--users", o->users, "distinct users")
      ->check(CLI::Range(2u, 100'000u))
      ->capture_default_str();
  cmd->add_option("--capacity", o->capacity, "seats (default: users - 1)")
      ->check(CLI::Range(1u, 1'000'000u));
  return cmd;
}

CLI::App* add_rsvp(CLI::App& app, RsvpOptions* o) {
  auto* cmd = app.add_subcommand("rsvp",
                                 "users RSVP once, some twice: exactly min(users, capacity) "
                                 "attendees; a repeat gets ALREADY_BOOKED with the same ref");
  cmd->add_option("--users", o->users, "distinct users")
      ->check(CLI::Range(1u, 100'000u))
      ->capture_default_str();
  cmd->add_option("--capacity", o->capacity, "places")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  cmd->add_option("--repeats", o->repeats, "users who RSVP a second time (<= users)")
      ->check(CLI::Range(0u, 100'000u))
      ->capture_default_str();
  return cmd;
}

CLI::App* add_holds(CLI::App& app, HoldsOptions* o) {
  auto* cmd = app.add_subcommand("holds",
                                 "users ask for holds; some confirm, the rest expire and "
                                 "promote the waitlist, which must be FIFO");
  cmd->add_option("--users", o->users, "distinct users")
      ->check(CLI::Range(1u, 100'000u))
      ->capture_default_str();
  cmd->add_option("--capacity", o->capacity, "seats")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  cmd->add_option("--hold-ttl", o->hold_ttl_ms, "milliseconds a hold lasts unconfirmed")
      ->check(CLI::Range(50u, 600'000u))
      ->capture_default_str();
  cmd->add_option("--confirm-percent", o->confirm_percent, "holders who confirm")
      ->check(CLI::Range(0u, 100u))
      ->capture_default_str();
  return cmd;
}

CLI::App* add_throughput(CLI::App& app, ThroughputOptions* o, std::string* mix) {
  auto* cmd = app.add_subcommand(
      "throughput",
      "N pipelined connections keep D requests each in flight for S seconds (closed loop), or "
      "send at --rate (open loop: latency from each request's intended send time, so a stall "
      "is not hidden). Sold-out variant: a small --capacity");
  cmd->add_option("--connections", o->connections, "connections (each shard-aware)")
      ->check(CLI::Range(1u, 100'000u))
      ->capture_default_str();
  cmd->add_option("--pipeline", o->pipeline, "requests in flight per connection")
      ->check(CLI::Range(1u, 65'536u))
      ->capture_default_str();
  cmd->add_option("--duration", o->duration_s, "seconds of load")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_option("--events", o->events, "events, spread over the shards (default: one per shard)")
      ->check(CLI::Range(1u, 10'000u));
  cmd->add_option("--capacity", o->capacity, "seats per event (small: the sold-out variant)")
      ->check(CLI::Range(0u, 1'000'000'000u))
      ->capture_default_str();
  cmd->add_option("--users", o->users,
                  "user pool per event (repeats get ALREADY_BOOKED); 0: a fresh user per booking")
      ->check(CLI::Range(0u, 1'000'000'000u))
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "client threads sharing the connections")
      ->check(CLI::Range(1u, 64u))
      ->capture_default_str();
  cmd->add_option("--rate", o->rate_per_s, "open loop: total requests per second (0: closed)")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  cmd->add_option("--mix", *mix, "operation percentages, e.g. book=80,get=15,cancel=5")
      ->capture_default_str();
  cmd->add_option("--verify-max", o->verify_bookings_max,
                  "bookings per event listed for the verdict; past it, counters are compared")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000'000}))
      ->capture_default_str();
  return cmd;
}

CLI::App* add_connections(CLI::App& app, ConnectionsOptions* o) {
  auto* cmd = app.add_subcommand("connections",
                                 "open N connections (ramped), hold them S seconds with a light "
                                 "request on each, count drops");
  cmd->add_option("--connections", o->connections, "connections (one socket each)")
      ->check(CLI::Range(1u, 100'000u))
      ->capture_default_str();
  cmd->add_option("--hold", o->hold_s, "seconds to hold them")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_option("--ramp", o->ramp_per_s, "new connections per second (0: as fast as it goes)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  cmd->add_option("--interval", o->interval_ms, "milliseconds between a connection's requests")
      ->check(CLI::Range(10u, 60'000u))
      ->capture_default_str();
  cmd->add_option("--memory-per-connection-max", o->memory_per_connection_max,
                  "verdict memory_per_connection: the server's RSS growth per held connection "
                  "((RSS with all open - RSS before) / N, from Stats) must be at most BYTES "
                  "(the issue's target: 4096); 0: only reported. Run it against a fresh admitd: "
                  "memory freed by earlier connections is reused without growing RSS. RSS counts "
                  "touched pages, not reserved ones nor kernel socket buffers; a server that does "
                  "not report RSS fails it")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 40))
      ->capture_default_str();
  return cmd;
}

CLI::App* add_watch_storm(CLI::App& app, WatchStormOptions* o) {
  auto* cmd = app.add_subcommand(
      "watch-storm",
      "W watchers (one connection each) watch one event while B buyers sell it out: pushes/s, "
      "update latency (booking answered -> watcher received), updates per watcher, server "
      "memory per watcher; every watcher ends on the final counters, never goes backwards, "
      "watchers == W during the sale and 0 after");
  cmd->add_option("--watchers", o->watchers, "watchers (one socket each)")
      ->check(CLI::Range(1u, 100'000u))
      ->capture_default_str();
  cmd->add_option("--buyers", o->buyers, "buying connections (shard-aware)")
      ->check(CLI::Range(1u, 10'000u))
      ->capture_default_str();
  cmd->add_option("--pipeline", o->pipeline, "bookings in flight per buyer")
      ->check(CLI::Range(1u, 65'536u))
      ->capture_default_str();
  cmd->add_option("--capacity", o->capacity, "seats to sell out")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  cmd->add_option("--ramp", o->ramp_per_s, "watchers connecting per second (0: as fast as it goes)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  cmd->add_flag("--http", o->http,
                "watchers on Server-Sent Events (GET /v1/events/{id}/watch) instead of binary "
                "Watch");
  cmd->add_option("--http-port", o->http_port,
                  "admitd's HTTP port for --http (default: the base port + 80)");
  return cmd;
}

int report(const CommonOptions& common, RunSummary summary) {
  summary.book_batching = common.client.book_batching;
  if (common.json) {
    fmt::print("{}\n", summary_json(summary));
  } else {
    print_summary(stdout, summary);
  }
  return summary.passed() ? 0 : exit_failed_check;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(description, "admit-bench");
  app.footer(footer);
  app.require_subcommand(1);
  CommonOptions common;
  if (const char* env_token = std::getenv("ADMIT_TOKEN")) common.client.token = env_token;
  std::string server = "127.0.0.1:7400";
  add_common(app, &common, &server);
  FlashSaleOptions flash;
  LastSeatOptions last;
  RsvpOptions rsvp;
  HoldsOptions holds;
  ThroughputOptions throughput;
  ConnectionsOptions connections;
  WatchStormOptions watch_storm;
  std::string mix_text = "book=100";
  auto* flash_cmd = add_flash_sale(app, &flash);
  auto* last_cmd = add_last_seat(app, &last);
  auto* rsvp_cmd = add_rsvp(app, &rsvp);
  auto* holds_cmd = add_holds(app, &holds);
  auto* throughput_cmd = add_throughput(app, &throughput, &mix_text);
  auto* connections_cmd = add_connections(app, &connections);
  auto* watch_storm_cmd = add_watch_storm(app, &watch_storm);
  for (auto* cmd : app.get_subcommands({})) add_common(*cmd, &common, &server);
  CLI11_PARSE(app, argc, argv);

  std::string why;
  if (!parse_address(server, &common.client, &why)) {
    fmt::print(stderr, "--server: {}\n", why);
    return exit_usage;
  }
  if (common.client.token.size() > token_size_max) {
    fmt::print(stderr, "--token: longer than {} bytes\n", token_size_max);
    return exit_usage;
  }
  Mix mix;
  if (!parse_mix(mix_text, &mix, &why)) {
    fmt::print(stderr, "{}\n", why);
    return exit_usage;
  }
  throughput.mix_book = mix.book;
  throughput.mix_get = mix.get;
  throughput.mix_cancel = mix.cancel;
  if (flash.seats > flash.capacity) {
    fmt::print(stderr, "--seats: {} is more than --capacity {}\n", flash.seats, flash.capacity);
    return exit_usage;
  }
  if (rsvp.repeats > rsvp.users) {
    fmt::print(stderr, "--repeats: {} is more than --users {}\n", rsvp.repeats, rsvp.users);
    return exit_usage;
  }
  try {
    if (flash_cmd->parsed()) return report(common, run_flash_sale(common, flash));
    if (last_cmd->parsed()) return report(common, run_last_seat(common, last));
    if (rsvp_cmd->parsed()) return report(common, run_rsvp(common, rsvp));
    if (holds_cmd->parsed()) return report(common, run_holds(common, holds));
    if (throughput_cmd->parsed()) return report(common, run_throughput(common, throughput));
    if (connections_cmd->parsed()) return report(common, run_connections(common, connections));
    if (watch_storm_cmd->parsed()) return report(common, run_watch_storm(common, watch_storm));
  } catch (const std::exception& error) {
    fmt::print(stderr, "admit-bench: {}\n", error.what());
    return exit_usage;
  }
  return exit_usage;
}
