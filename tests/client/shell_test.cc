// The `admit` binary (env ADMIT_BIN) one-shot against a real admitd: the JSON
// fields and exit codes that scripts rely on.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "admit/limits.h"
#include "protocol/booking_ref.h"
#include "server/http/auth.h"
#include "tests/support/admitd_process.h"

extern char** environ;

namespace admit {
namespace {

struct AdmitRun {
  int exit_code = -1;
  std::string out;
  std::string err;
  nlohmann::json json() const { return nlohmann::json::parse(out); }
};

std::string read_all(int fd) {
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, n);
  ::close(fd);
  return text;
}

// Runs `admit ARGS...` with `input` on stdin; stderr goes to a file so that
// neither pipe can fill.
AdmitRun run_admit(const std::vector<std::string>& args, const std::string& input = "") {
  const char* binary = std::getenv("ADMIT_BIN");
  if (binary == nullptr) throw std::runtime_error("ADMIT_BIN is not set");
  std::vector<std::string> words = {binary};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  int out_pipe[2];
  if (::pipe(out_pipe) != 0) throw std::runtime_error("pipe failed");
  char err_path[] = "/tmp/admit-shell-test-XXXXXX";
  const int err_fd = ::mkstemp(err_path);
  char in_path[] = "/tmp/admit-shell-test-XXXXXX";
  const int in_fd = ::mkstemp(in_path);
  if (::write(in_fd, input.data(), input.size()) != static_cast<ssize_t>(input.size())) {
    throw std::runtime_error("cannot write the shell's input");
  }
  ::lseek(in_fd, 0, SEEK_SET);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_fd, STDERR_FILENO);
  posix_spawn_file_actions_adddup2(&actions, in_fd, STDIN_FILENO);
  posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, binary, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  if (rc != 0) throw std::runtime_error("cannot run " + std::string(binary));
  AdmitRun run;
  run.out = read_all(out_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  ::lseek(err_fd, 0, SEEK_SET);
  run.err = read_all(err_fd);
  ::unlink(err_path);
  ::close(in_fd);
  ::unlink(in_path);
  return run;
}

class Shell : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new test::AdmitdProcess(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  // `admit --server ADDRESS --json ARGS...`
  static AdmitRun admit(std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", server_->address(), "--json"});
    return run_admit(args);
  }

  static test::AdmitdProcess* server_;
};

test::AdmitdProcess* Shell::server_ = nullptr;

TEST_F(Shell, EventCreateGetUpdateList) {
  AdmitRun run = admit({"event", "create", "tour-vip", "--capacity", "500", "--per-user", "4",
                        "--waitlist", "--hold-ttl", "60000", "--rate", "100", "--burst", "10"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  run = admit({"event", "get", "tour-vip"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  nlohmann::json event = run.json();
  EXPECT_EQ(event["id"], "tour-vip");
  EXPECT_EQ(event["capacity"], 500);
  EXPECT_EQ(event["available"], 500);
  EXPECT_EQ(event["held"], 0);
  EXPECT_EQ(event["confirmed"], 0);
  EXPECT_EQ(event["waitlisted"], 0);
  EXPECT_EQ(event["state"], "open");
  EXPECT_EQ(event["version"], 1);
  EXPECT_EQ(event["per_user_max"], 4);
  EXPECT_EQ(event["waitlist"], true);

  run = admit({"event", "update", "tour-vip", "--capacity", "600", "--state", "paused"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.json()["capacity"], 600);
  EXPECT_EQ(run.json()["state"], "paused");
  EXPECT_EQ(run.json()["version"], 2);
  ASSERT_EQ(admit({"event", "update", "tour-vip", "--state", "open"}).exit_code, 0);

  run = admit({"event", "list"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  bool listed = false;
  const nlohmann::json list = run.json();
  for (const auto& e : list["events"]) listed = listed || e["id"] == "tour-vip";
  EXPECT_TRUE(listed) << run.out;

  run = admit({"event", "create", "tour-vip", "--capacity", "5"});
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_EQ(run.json()["outcome"], "INVALID");
  run = admit({"event", "get", "nope"});
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_EQ(run.json()["outcome"], "NOT_FOUND");
}

// book --users-file: one answer line per user, in file order, from one
// pipelined AsyncClient (its bookings batched).
TEST_F(Shell, BookUsersFileAnswersEveryUserInOrder) {
  ASSERT_EQ(admit({"event", "create", "party", "--capacity", "3"}).exit_code, 0);
  AdmitRun run =
      run_admit({"--server", server_->address(), "--json", "book", "party", "--users-file", "-"},
                "ann\nbob\n\ncy\r\ndee\nann\n");
  EXPECT_EQ(run.exit_code, 3) << "dee was refused: " << run.out << run.err;
  std::vector<nlohmann::json> lines;
  std::istringstream out(run.out);
  for (std::string line; std::getline(out, line);) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 5u) << run.out;
  const std::vector<std::pair<std::string, std::string>> expected = {{"ann", "BOOKED"},
                                                                     {"bob", "BOOKED"},
                                                                     {"cy", "BOOKED"},
                                                                     {"dee", "SOLD_OUT"},
                                                                     {"ann", "ALREADY_BOOKED"}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(lines[i]["user"], expected[i].first) << i;
    EXPECT_EQ(lines[i]["outcome"], expected[i].second) << i;
    EXPECT_TRUE(lines[i].contains("request_id")) << "each its own: " << lines[i];
  }
  EXPECT_EQ(lines[4]["ref"], lines[0]["ref"]);
  EXPECT_NE(lines[0]["request_id"], lines[4]["request_id"]);

  // Many users: every one answered, in order, and the shell exits 0.
  ASSERT_EQ(admit({"event", "create", "gala", "--capacity", "5000"}).exit_code, 0);
  std::string users;
  for (int i = 0; i < 3000; ++i) users += "guest-" + std::to_string(i) + "\n";
  run = run_admit({"--server", server_->address(), "book", "gala", "--users-file", "-"}, users);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  std::istringstream text(run.out);
  int index = 0;
  for (std::string line; std::getline(text, line); ++index) {
    EXPECT_EQ(line.rfind("BOOKED BK-", 0), 0u) << line;
    EXPECT_NE(line.find("for guest-" + std::to_string(index)), std::string::npos) << line;
  }
  EXPECT_EQ(index, 3000);
  EXPECT_EQ(admit({"event", "get", "gala"}).json()["confirmed"], 3000);

  run = run_admit({"--server", server_->address(), "book", "gala", "--users-file", "-"},
                  "ok\n" + std::string(user_size_max + 1, 'u') + "\n");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--users-file: line 2: user:"), std::string::npos) << run.err;
}

TEST_F(Shell, BookingsFromBookToCancel) {
  ASSERT_EQ(
      admit({"event", "create", "gig", "--capacity", "3", "--waitlist", "--hold-ttl", "60000"})
          .exit_code,
      0);
  AdmitRun run = admit({"book", "gig", "--user", "user-42", "--seats", "2"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  nlohmann::json booked = run.json();
  EXPECT_EQ(booked["outcome"], "BOOKED");
  EXPECT_EQ(booked["seats"], 2);
  const std::string ref = booked["ref"];
  EXPECT_EQ(ref.rfind("BK-", 0), 0u);

  run = admit({"book", "gig", "--user", "user-42", "--seats", "2"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.json()["outcome"], "ALREADY_BOOKED");
  EXPECT_EQ(run.json()["ref"], ref);

  run = admit({"book", "gig", "--user", "holder", "--hold"});
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_EQ(run.json()["outcome"], "HELD");
  EXPECT_TRUE(run.json().contains("expires_at"));
  const std::string held_ref = run.json()["ref"];
  run = admit({"confirm", held_ref});
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_EQ(run.json()["outcome"], "BOOKED");

  run = admit({"book", "gig", "--user", "late", "--seats", "2"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.json()["outcome"], "WAITLISTED");
  EXPECT_EQ(run.json()["position"], 1);
  run = admit({"book", "gig", "--user", "impatient", "--no-waitlist"});
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_EQ(run.json()["outcome"], "SOLD_OUT");

  run = admit({"waitlist", "gig", "--user", "late"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.json()["position"], 1);
  run = admit({"waitlist", "gig"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.json()["length"], 1);

  run = admit({"booking", "get", ref});
  ASSERT_EQ(run.exit_code, 0);
  nlohmann::json booking = run.json();
  EXPECT_EQ(booking["ref"], ref);
  EXPECT_EQ(booking["event"], "gig");
  EXPECT_EQ(booking["user"], "user-42");
  EXPECT_EQ(booking["seats"], 2);
  EXPECT_EQ(booking["state"], "confirmed");

  run = admit({"cancel", ref});
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_EQ(admit({"booking", "get", ref}).json()["state"], "cancelled");
  // "late" was promoted into the two released seats.
  EXPECT_EQ(admit({"waitlist", "gig", "--user", "late"}).json()["outcome"], "ALREADY_BOOKED");

  run = admit({"bookings", "gig", "--limit", "10"});
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.json()["bookings"].size(), 3u);
  const std::string unknown(BookingRef::make(booking_serial_max, 1).view());
  run = admit({"booking", "get", unknown});
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_EQ(run.json()["outcome"], "NOT_FOUND");
  EXPECT_EQ(admit({"booking", "get", "BK-00000000"}).exit_code, 2);  // not a ref at all
}

TEST_F(Shell, RequestIdRetryAndLeaveAndStats) {
  ASSERT_EQ(admit({"event", "create", "retry", "--capacity", "1", "--waitlist"}).exit_code, 0);
  const AdmitRun first = admit({"book", "retry", "--user", "a", "--request-id", "req-1"});
  const AdmitRun again = admit({"book", "retry", "--user", "a", "--request-id", "req-1"});
  EXPECT_EQ(first.json()["outcome"], "BOOKED");
  EXPECT_EQ(again.json()["outcome"], "BOOKED");
  EXPECT_EQ(again.json()["ref"], first.json()["ref"]);

  EXPECT_EQ(admit({"book", "retry", "--user", "b"}).json()["outcome"], "WAITLISTED");
  AdmitRun run = admit({"leave", "retry", "--user", "b"});
  EXPECT_EQ(run.exit_code, 0) << run.out;
  run = admit({"leave", "retry", "--user", "b"});
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_EQ(run.json()["outcome"], "NOT_FOUND");

  run = admit({"stats"});
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.json()["shards"].size(), 2u);
  EXPECT_GT(run.json()["resident_bytes"].get<std::uint64_t>(), 0u);
}

TEST_F(Shell, ExitCodesForUsageAndUnreachable) {
  AdmitRun run = admit({"book", "gig", "--seats", "2"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--user"), std::string::npos) << run.err;
  run = admit({"event", "create", "x", "--capacity", "-3"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--capacity"), std::string::npos) << run.err;

  // Port 1 on loopback: nothing listens there.
  run = run_admit({"--server", "127.0.0.1:1", "--json", "event", "get", "gig"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("127.0.0.1:1"), std::string::npos) << run.err;
  EXPECT_EQ(run.json()["error"], "could_not_connect");
}

TEST_F(Shell, AdmitServerEnvironmentSetsTheDefault) {
  ASSERT_EQ(::setenv("ADMIT_SERVER", server_->address().c_str(), 1), 0);
  const AdmitRun run = run_admit({"--json", "stats"});
  ::unsetenv("ADMIT_SERVER");
  EXPECT_EQ(run.exit_code, 0) << run.err;
}

TEST_F(Shell, TextOutputReadsAsASentence) {
  ASSERT_EQ(admit({"event", "create", "tour-text", "--capacity", "5"}).exit_code, 0);
  const AdmitRun run = run_admit(
      {"--server", server_->address(), "book", "tour-text", "--user", "user-42", "--seats", "2"});
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.out.rfind("BOOKED BK-", 0), 0u) << run.out;
  EXPECT_NE(run.out.find(": 2 seats on tour-text for user-42"), std::string::npos) << run.out;
}

TEST_F(Shell, ReplRunsTheSameCommandsAndKeepsHistory) {
  char home[] = "/tmp/admit-shell-home-XXXXXX";
  ASSERT_NE(::mkdtemp(home), nullptr);
  const char* old_home = std::getenv("HOME");
  const std::string saved_home = old_home ? old_home : "";
  ::setenv("HOME", home, 1);
  const AdmitRun run = run_admit({"--server", server_->address(), "--json"},
                                 "event create repl-e --capacity 2\n"
                                 "frobnicate\n"
                                 "book repl-e --user 'user 1' --seats 2\n"
                                 "quit\n");
  ::setenv("HOME", saved_home.c_str(), 1);
  EXPECT_EQ(run.exit_code, 0) << run.err;  // the last command's
  std::istringstream lines(run.out);       // piped: one JSON object a line, no banner
  for (std::string line; std::getline(lines, line);) {
    EXPECT_TRUE(nlohmann::json::accept(line)) << line;
  }
  EXPECT_NE(run.out.find(R"("outcome":"BOOKED")"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(R"("user":"user 1")"), std::string::npos) << run.out;
  EXPECT_NE(run.err.find("frobnicate"), std::string::npos) << run.err;
  const std::string history = std::string(home) + "/.admit_history";
  EXPECT_EQ(::access(history.c_str(), R_OK), 0);
  ::unlink(history.c_str());
  ::rmdir(home);
}

// `admit token`: one line on stdout that the server's verifier accepts with
// the secret file's bytes (less the newline); usage errors name the flag or
// the file. No server involved.
class ShellToken : public ::testing::Test {
 protected:
  void SetUp() override { std::ofstream(secret_path_) << "shell-test-secret\n"; }
  void TearDown() override { std::remove(secret_path_.c_str()); }

  const std::string secret_path_ = ::testing::TempDir() + "admit-shell-token-secret";
};

TEST_F(ShellToken, PrintsATokenTheServerVerifies) {
  const AdmitRun run =
      run_admit({"token", "--secret", secret_path_, "--role", "app", "--sub", "user-42"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_TRUE(run.out.ends_with('\n'));
  const std::string token = run.out.substr(0, run.out.size() - 1);
  EXPECT_EQ(token.find('\n'), std::string::npos);
  server::http::TokenVerifier verifier("shell-test-secret");
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  const auto verified = verifier.verify(token, now_ms);
  ASSERT_TRUE(verified.principal) << verified.why;
  EXPECT_EQ(verified.principal->role, server::http::Role::app);
  EXPECT_EQ(verified.principal->sub.view(), "user-42");
  // The default --ttl is 1h.
  EXPECT_TRUE(verifier.verify(token, now_ms + 3500 * 1000).principal);
  EXPECT_EQ(verifier.verify(token, now_ms + 3700 * 1000).why, "token: expired");
  // --ttl none: no exp.
  const AdmitRun forever =
      run_admit({"token", "--secret", secret_path_, "--role", "admin", "--ttl", "none"});
  ASSERT_EQ(forever.exit_code, 0) << forever.err;
  const std::string forever_token = forever.out.substr(0, forever.out.size() - 1);
  EXPECT_TRUE(verifier.verify(forever_token, now_ms + 3650LL * 86400 * 1000).principal);
}

TEST_F(ShellToken, UsageErrorsNameTheFlag) {
  AdmitRun run = run_admit({"token", "--secret", secret_path_, "--role", "root"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--role"), std::string::npos) << run.err;
  EXPECT_TRUE(run.out.empty()) << run.out;
  const std::string missing = secret_path_ + "-missing";
  run = run_admit({"token", "--secret", missing, "--role", "app"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find(missing), std::string::npos) << run.err;
  run = run_admit({"token", "--role", "app"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--secret"), std::string::npos) << run.err;
  run = run_admit({"token", "--secret", secret_path_, "--role", "app", "--sub", "\xc3\x28"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--sub"), std::string::npos) << run.err;
  run = run_admit({"token", "--secret", secret_path_, "--role", "app", "--ttl", "1y"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--ttl"), std::string::npos) << run.err;
}

// --token and $ADMIT_TOKEN reach Hello (flag first); today's admitd only
// bounds a token's size, so a token too long to send tells which one was used.
TEST_F(Shell, TokenFlagAndEnvironment) {
  const std::string too_long(300, 't');
  ASSERT_EQ(::setenv("ADMIT_TOKEN", too_long.c_str(), 1), 0);
  const AdmitRun from_env = admit({"stats"});
  const AdmitRun flag_wins = admit({"--token", "a.b.c", "stats"});
  ::unsetenv("ADMIT_TOKEN");
  EXPECT_EQ(from_env.exit_code, 2);
  EXPECT_NE(from_env.err.find("--token"), std::string::npos) << from_env.err;
  EXPECT_EQ(flag_wins.exit_code, 0) << flag_wins.err;
}

// End to end with admitd --auth-secret: what `admit token` mints is what the
// server accepts in Hello; roles and sub apply; no token is refused.
TEST_F(ShellToken, TokensAgainstAServerWithAuth) {
  test::AdmitdProcess server({.extra_args = {"--auth-secret", secret_path_}});
  auto mint = [&](std::vector<std::string> flags) {
    flags.insert(flags.begin(), {"token", "--secret", secret_path_});
    const AdmitRun run = run_admit(flags);
    EXPECT_EQ(run.exit_code, 0) << run.err;
    return run.out.substr(0, run.out.find('\n'));
  };
  const std::string admin = mint({"--role", "admin"});
  const std::string ann = mint({"--role", "app", "--sub", "ann"});
  auto admit_as = [&](const std::string& token, std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", server.address(), "--json"});
    if (!token.empty()) args.insert(args.begin(), {"--token", token});
    return run_admit(args);
  };

  AdmitRun run = admit_as(admin, {"event", "create", "auth-gig", "--capacity", "4"});
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  run = admit_as("", {"event", "get", "auth-gig"});
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_EQ(run.json()["outcome"], "UNAUTHORIZED") << run.out;
  run = admit_as(ann, {"event", "create", "auth-other", "--capacity", "4"});
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_EQ(run.json()["outcome"], "UNAUTHORIZED") << run.out;

  // $ADMIT_TOKEN carries ann's token; her sub books only as her.
  ASSERT_EQ(::setenv("ADMIT_TOKEN", ann.c_str(), 1), 0);
  const AdmitRun as_ann = admit_as("", {"book", "auth-gig", "--user", "ann"});
  const AdmitRun as_ben = admit_as("", {"book", "auth-gig", "--user", "ben"});
  ::unsetenv("ADMIT_TOKEN");
  EXPECT_EQ(as_ann.exit_code, 0) << as_ann.err << as_ann.out;
  EXPECT_EQ(as_ann.json()["outcome"], "BOOKED") << as_ann.out;
  EXPECT_EQ(as_ben.exit_code, 3) << as_ben.err;
  EXPECT_EQ(as_ben.json()["outcome"], "UNAUTHORIZED") << as_ben.out;
}

// ---- admit watch ----

// `admit ARGS...` left running, its stdout read line by line (with a deadline
// on every read), stopped by a signal; killed if the test ends first.
class RunningAdmit {
 public:
  explicit RunningAdmit(const std::vector<std::string>& args) {
    const char* binary = std::getenv("ADMIT_BIN");
    if (binary == nullptr) throw std::runtime_error("ADMIT_BIN is not set");
    std::vector<std::string> words = {binary};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    int out_pipe[2];
    if (::pipe(out_pipe) != 0) throw std::runtime_error("pipe failed");
    char err_path[] = "/tmp/admit-watch-test-XXXXXX";
    err_fd_ = ::mkstemp(err_path);
    ::unlink(err_path);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err_fd_, STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
    const int rc = ::posix_spawn(&pid_, binary, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out_pipe[1]);
    out_fd_ = out_pipe[0];
    if (rc != 0) throw std::runtime_error("cannot run " + std::string(binary));
  }
  ~RunningAdmit() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_fd_);
    ::close(err_fd_);
  }
  RunningAdmit(const RunningAdmit&) = delete;
  RunningAdmit& operator=(const RunningAdmit&) = delete;

  // The next line of stdout, or nullopt at EOF or after `timeout`.
  std::optional<std::string> line(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (const std::size_t end = buffered_.find('\n'); end != std::string::npos) {
        std::string text = buffered_.substr(0, end);
        buffered_.erase(0, end + 1);
        return text;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      char buffer[4096];
      const ssize_t n = ::read(out_fd_, buffer, sizeof buffer);
      if (n <= 0) return std::nullopt;
      buffered_.append(buffer, static_cast<std::size_t>(n));
    }
  }
  // Sends `signal` (0: none) and waits up to `timeout` for the exit; its code,
  // or -1 when it had to be killed.
  int stop(int signal, std::chrono::milliseconds timeout) {
    if (signal != 0) ::kill(pid_, signal);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::string err() const {
    ::lseek(err_fd_, 0, SEEK_SET);
    std::string text;
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(err_fd_, buffer, sizeof buffer)) > 0) text.append(buffer, n);
    return text;
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string buffered_;
};

constexpr auto watch_line_wait = std::chrono::seconds(10);

TEST_F(Shell, WatchPrintsAJsonLinePerUpdateUntilCtrlC) {
  ASSERT_EQ(admit({"event", "create", "watch-gig", "--capacity", "5"}).exit_code, 0);
  // Not a terminal: JSON lines even without --json.
  RunningAdmit watch({"--server", server_->address(), "watch", "watch-gig"});
  std::optional<std::string> line = watch.line(watch_line_wait);
  ASSERT_TRUE(line) << watch.err();
  nlohmann::json first = nlohmann::json::parse(*line);
  EXPECT_EQ(first["event"], "watch-gig");
  EXPECT_EQ(first["first"], true);
  EXPECT_EQ(first["available"], 5);
  EXPECT_EQ(first["watchers"], 1);
  for (const char* field :
       {"seq", "version", "state", "capacity", "held", "confirmed", "waitlisted", "received_at"}) {
    EXPECT_TRUE(first.contains(field)) << field;
  }
  for (int user = 0; user < 3; ++user) {
    ASSERT_EQ(admit({"book", "watch-gig", "--user", "w" + std::to_string(user)}).exit_code, 0);
  }
  // Coalesced: not one line per booking, but the counters reach the final state
  // and neither seq nor confirmed ever goes back.
  nlohmann::json last = first;
  while (last["confirmed"] != 3) {
    line = watch.line(watch_line_wait);
    ASSERT_TRUE(line) << "stuck at " << last.dump() << "\n" << watch.err();
    nlohmann::json next = nlohmann::json::parse(*line);
    EXPECT_GT(next["seq"], last["seq"]);
    EXPECT_GE(next["confirmed"], last["confirmed"]);
    last = std::move(next);
  }
  EXPECT_EQ(last["available"], 2);
  EXPECT_EQ(watch.stop(SIGINT, std::chrono::seconds(5)), 0) << watch.err();
  // Gone from the count once it left.
  nlohmann::json event;
  for (int i = 0; i < 100; ++i) {
    event = admit({"event", "get", "watch-gig"}).json();
    if (event["watchers"] == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(event["watchers"], 0);
}

TEST_F(Shell, WatchOfAnUnknownEventIsRefused) {
  const AdmitRun run = admit({"watch", "watch-nothing"});
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_EQ(run.json()["outcome"], "NOT_FOUND") << run.out;
}

TEST(ShellWatch, ExitsOneWhenTheServerIsLostForGood) {
  test::AdmitdProcess server;
  ASSERT_EQ(
      run_admit({"--server", server.address(), "event", "create", "lost-gig", "--capacity", "3"})
          .exit_code,
      0);
  RunningAdmit watch(
      {"--server", server.address(), "--json", "watch", "lost-gig", "--retry-for", "1"});
  ASSERT_TRUE(watch.line(watch_line_wait)) << watch.err();
  server.stop();
  std::optional<std::string> line = watch.line(watch_line_wait);
  ASSERT_TRUE(line) << watch.err();
  EXPECT_EQ(nlohmann::json::parse(*line)["error"], "could_not_connect") << *line;
  EXPECT_EQ(watch.stop(0, std::chrono::seconds(10)), 1);
  EXPECT_NE(watch.err().find("server lost"), std::string::npos) << watch.err();
}

TEST(ShellWatch, HelpHasAnExample) {
  const AdmitRun run = run_admit({"watch", "--help"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_NE(run.out.find("admit watch tour-vip"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("Ctrl-C"), std::string::npos) << run.out;
}

}  // namespace
}  // namespace admit
