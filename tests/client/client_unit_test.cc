// libadmit and the shell without a server: argument checks, addresses,
// request ids, callbacks, the shell's parser, times and exit codes.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <sstream>

#include "admit/async_client.h"
#include "admit/client.h"
#include "render.h"
#include "shell.h"

namespace admit {
namespace {

// A loopback port with nothing listening: bound, then closed.
std::uint16_t dead_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t size = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

ClientOptions dead_server_options() {
  ClientOptions options;
  options.port = dead_port();
  options.attempts_max = 2;
  options.retry_backoff = std::chrono::milliseconds(1);
  return options;
}

TEST(ParseAddress, AcceptsHostPortAndRejectsTheRest) {
  ClientOptions options;
  std::string why;
  ASSERT_TRUE(parse_address("10.0.0.7:7500", &options, &why));
  EXPECT_EQ(options.host, "10.0.0.7");
  EXPECT_EQ(options.port, 7500);
  ASSERT_TRUE(parse_address("[::1]:7401", &options, &why));
  EXPECT_EQ(options.host, "::1");
  for (const char* bad : {"localhost", ":7400", "host:", "host:0", "host:65536", "host:7x"}) {
    EXPECT_FALSE(parse_address(bad, &options, &why)) << bad;
    EXPECT_FALSE(why.empty());
  }
}

TEST(RequestId, Is128BitsOfHexAndNeverRepeats) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = make_request_id();
    ASSERT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Validation, RefusesBadFieldsBeforeConnectingAndNamesThem) {
  Client client(dead_server_options());
  const std::string long_user(user_size_max + 1, 'u');
  const std::string long_event(event_id_size_max + 1, 'e');
  const std::string long_request_id(request_id_size_max + 1, 'r');
  struct Case {
    Status status;
    std::string_view field;
  };
  const Case cases[] = {
      {client.book({.event = "e", .user = long_user}).status(), "user:"},
      {client.book({.event = "e", .user = ""}).status(), "user:"},
      {client.book({.event = long_event, .user = "u"}).status(), "event:"},
      {client.book({.event = "e", .user = "u", .seats = 0}).status(), "seats:"},
      {client.book({.event = "e", .user = "u", .request_id = long_request_id}).status(),
       "request_id:"},
      {client.create_event({.id = "e", .capacity = capacity_max + 1}).status(), "capacity:"},
      {client.create_event({.id = "", .capacity = 1}).status(), "id:"},
      {client.update_event({.id = "e", .hold_ttl_ms = hold_ttl_ms_max + 1}).status(),
       "hold_ttl_ms:"},
      {client.confirm("BK-NOPE").status(), "ref:"},
      {client.cancel("").status(), "ref:"},
      {client.get_booking("bk-123").status(), "ref:"},
      {client.list_bookings("e", {}, list_limit_max + 1).status(), "limit:"},
      {client.waitlist_position("e", "").status(), "user:"},
      {client.leave_waitlist("", "u").status(), "event:"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.error(), ClientError::invalid_argument) << c.status.to_string();
    EXPECT_EQ(c.status.message().rfind(c.field, 0), 0u) << c.status.message();
    EXPECT_FALSE(c.status.ok());
  }
}

TEST(Transport, UnreachableServerIsCouldNotConnectNamingTheAddress) {
  const ClientOptions options = dead_server_options();
  Client client(options);
  const Result<EventInfo> result = client.get_event("tour");
  EXPECT_EQ(result.error(), ClientError::could_not_connect);
  EXPECT_FALSE(result.answered());
  EXPECT_NE(result.message().find("127.0.0.1:" + std::to_string(options.port)), std::string::npos)
      << result.message();

  AsyncClient async(options);
  EXPECT_EQ(async.connect().error(), ClientError::could_not_connect);
  bool called = false;
  const Status submitted =
      async.submit_get_event("tour", [&called](const ReplyView&) { called = true; });
  EXPECT_EQ(submitted.error(), ClientError::could_not_connect);
  EXPECT_FALSE(called);
}

TEST(ReplyCallback, MovesItsCaptureAndDestroysItOnce) {
  int calls = 0;
  auto counter = std::make_shared<int>(0);
  {
    ReplyCallback first([&calls, counter](const ReplyView&) { ++calls; });
    EXPECT_EQ(counter.use_count(), 2);
    ReplyCallback second(std::move(first));
    EXPECT_FALSE(first);
    ASSERT_TRUE(second);
    second(ReplyView(nullptr, ClientError::connection_lost, "gone"));
    ReplyCallback third;
    third = std::move(second);
    third(ReplyView(nullptr, ClientError::connection_lost, "gone"));
    EXPECT_EQ(counter.use_count(), 2);
  }
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(counter.use_count(), 1);
}

TEST(ReplyView, AFailureCarriesItsErrorAndNoData) {
  const ReplyView reply(nullptr, ClientError::timed_out, "127.0.0.1:1: no answer");
  EXPECT_EQ(reply.error(), ClientError::timed_out);
  EXPECT_EQ(reply.message(), "127.0.0.1:1: no answer");
  EXPECT_EQ(reply.status().error(), ClientError::timed_out);
  EXPECT_TRUE(reply.book_view().ref.empty());
  EXPECT_TRUE(reply.event().id.empty());
  EXPECT_EQ(client_error_name(ClientError::could_not_connect), "could_not_connect");
}

// ---- the shell, without a server ----

TEST(ShellTime, ParsesIso8601AndRelativeSeconds) {
  const std::int64_t now = 1'800'000'000'000;
  EXPECT_EQ(shell::parse_time("2026-12-01T10:00:00Z", now), 1'796'119'200'000);
  EXPECT_EQ(shell::parse_time("2026-12-01T12:00:00.250+02:00", now), 1'796'119'200'250);
  EXPECT_EQ(shell::parse_time("+30", now), now + 30'000);
  EXPECT_EQ(shell::parse_time("none", now), 0);
  for (const char* bad : {"", "tomorrow", "+", "+-5", "2026-13-01T00:00:00Z", "2026-12-01"}) {
    EXPECT_FALSE(shell::parse_time(bad, now).has_value()) << bad;
  }
  EXPECT_EQ(shell::format_time(1'796'119'200'250), "2026-12-01T10:00:00.250Z");
}

TEST(ShellLine, SplitsLikeAShell) {
  std::vector<std::string> words;
  ASSERT_TRUE(shell::Shell::split_line(R"(book "tour vip" --user 'a b'  x\ y)", &words));
  EXPECT_EQ(words, (std::vector<std::string>{"book", "tour vip", "--user", "a b", "x y"}));
  EXPECT_FALSE(shell::Shell::split_line("book 'open", &words));
}

struct ShellRun {
  int exit_code;
  std::string out, err;
};

ShellRun run_shell(std::vector<std::string> words) {
  std::ostringstream out, err;
  shell::Shell shell(out, err, "");
  const int code = shell.run(words);
  return {code, out.str(), err.str()};
}

TEST(ShellUsage, BadFlagsExitTwoNamingTheFlagWithAHint) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"event", "create", "tour", "--capacity", "many"}, "--capacity"},
      {{"event", "create", "tour"}, "--capacity"},
      {{"book", "tour", "--seats", "2"}, "--user"},
      {{"book", "tour", "--user", "u", "--seats", "0"}, "--seats"},
      {{"event", "update", "tour", "--state", "sleeping"}, "--state"},
      {{"event", "create", "tour", "--capacity", "5", "--opens-at", "soon"}, "--opens-at"},
      {{"--server", "nowhere", "stats"}, "--server"},
      {{"confirm", "not-a-ref"}, "ref"},
      {{"frobnicate"}, "frobnicate"},
  };
  for (const auto& [words, flag] : cases) {
    const ShellRun run = run_shell(words);
    EXPECT_EQ(run.exit_code, shell::exit_usage) << words[0] << " " << run.err;
    EXPECT_NE(run.err.find(flag), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("hint:"), std::string::npos) << run.err;
  }
}

TEST(ShellUsage, JsonUsageErrorIsOneJsonObject) {
  const ShellRun run = run_shell({"--json", "book", "tour"});
  EXPECT_EQ(run.exit_code, shell::exit_usage);
  const auto json = nlohmann::json::parse(run.out);
  EXPECT_EQ(json["error"], "usage");
}

TEST(ShellHelp, EveryCommandTeachesWithAnExample) {
  for (const std::vector<std::string>& words :
       std::vector<std::vector<std::string>>{{"event", "create", "--help"},
                                             {"event", "get", "--help"},
                                             {"event", "list", "--help"},
                                             {"event", "update", "--help"},
                                             {"book", "--help"},
                                             {"confirm", "--help"},
                                             {"cancel", "--help"},
                                             {"booking", "get", "--help"},
                                             {"bookings", "--help"},
                                             {"waitlist", "--help"},
                                             {"leave", "--help"},
                                             {"stats", "--help"},
                                             {"--help"}}) {
    const ShellRun run = run_shell(words);
    EXPECT_EQ(run.exit_code, shell::exit_ok);
    EXPECT_NE(run.out.find("Example:\n  admit "), std::string::npos) << run.out;
  }
  const ShellRun help = run_shell({"help"});
  EXPECT_EQ(help.exit_code, shell::exit_ok);
  EXPECT_NE(help.out.find("e.g. admit book tour-vip --user user-42 --seats 2"), std::string::npos);
}

TEST(ShellUnreachable, ExitsOneNamingTheAddress) {
  const std::string address = "127.0.0.1:" + std::to_string(dead_port());
  const ShellRun run = run_shell({"--server", address, "--json", "event", "get", "tour"});
  EXPECT_EQ(run.exit_code, shell::exit_unreachable);
  EXPECT_NE(run.err.find(address), std::string::npos) << run.err;
  EXPECT_EQ(nlohmann::json::parse(run.out)["error"], "could_not_connect");
}

}  // namespace
}  // namespace admit
