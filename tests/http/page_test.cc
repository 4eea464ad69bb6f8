// The live page (GET /, server/http/live_page.h) in a real browser: Debian's
// headless Chromium, driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe: JSON messages ended by NUL on fds 3 and 4, no
// WebSocket client needed). Against a real admitd it loads the page, books
// through the API and sees the counters change on screen; it sees an event
// id with markup shown as text, and the page reconnect by itself after the
// server is killed and started again. On failure it saves a screenshot and
// prints its path, also when an exception ends the test (ADMIT_PAGE_SCREENSHOT=path
// saves one always).
//
// Why not --dump-dom with --virtual-time-budget: virtual time does not run
// out while a request is in flight, and an SSE stream always is, so that
// run never ends.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/http/http_test_client.h"
#include "tests/support/admitd_process.h"

namespace admit::test {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using std::chrono::milliseconds;

constexpr int browser_close_timeout_ms = 5'000;
constexpr int poll_pause_ms = 50;
// The flags this machine needs (no sandbox as root, no GPU, no network but loopback).
constexpr const char* chromium_flags[] = {"--headless",
                                          "--no-sandbox",
                                          "--disable-gpu",
                                          "--disable-quic",
                                          "--no-first-run",
                                          "--disable-background-networking",
                                          "--disable-component-update",
                                          "--disable-sync",
                                          "--remote-debugging-pipe",
                                          "--window-size=1100,600"};

std::string chromium_path() {
  const char* path = std::getenv("CHROMIUM");
  return path != nullptr ? path : "";
}

std::string base64_decode(const std::string& text) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  const int size = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                   reinterpret_cast<const unsigned char*>(text.data()),
                                   static_cast<int>(text.size()));
  if (size < 0) return {};
  out.resize(static_cast<std::size_t>(size));
  // EVP_DecodeBlock keeps the zero bytes that '=' padding stands for.
  const std::size_t padding = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
  out.resize(out.size() - padding);
  return out;
}

// One headless Chromium in its own process group and profile folder, and one
// page of it attached over the DevTools pipe.
class Chromium {
 public:
  Chromium() : profile_(std::filesystem::temp_directory_path() / "admit-page-test-XXXXXX") {
    std::string folder = profile_.string();
    if (::mkdtemp(folder.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    profile_ = folder;
    int to_browser[2];
    int from_browser[2];
    if (::pipe2(to_browser, O_CLOEXEC) != 0 || ::pipe2(from_browser, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2 failed");
    }
    const std::string profile_flag = "--user-data-dir=" + (profile_ / "profile").string();
    const std::string log = (profile_ / "chromium.log").string();
    const std::string program = chromium_path();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);  // the test ends the browser's whole group
      // Through high numbers first: a pipe end may already be fd 3 or 4.
      const int read_end = ::fcntl(to_browser[0], F_DUPFD_CLOEXEC, 10);
      const int write_end = ::fcntl(from_browser[1], F_DUPFD_CLOEXEC, 10);
      ::dup2(read_end, 3);
      ::dup2(write_end, 4);
      const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, 1);
      ::dup2(out, 2);
      std::vector<char*> argv{const_cast<char*>(program.c_str())};
      for (const char* flag : chromium_flags) argv.push_back(const_cast<char*>(flag));
      argv.push_back(const_cast<char*>(profile_flag.c_str()));
      argv.push_back(const_cast<char*>("about:blank"));
      argv.push_back(nullptr);
      ::execv(program.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(to_browser[0]);
    ::close(from_browser[1]);
    write_fd_ = to_browser[1];
    read_fd_ = from_browser[0];
    ::signal(SIGPIPE, SIG_IGN);  // a browser that died fails the test, not the process
  }

  ~Chromium() {
    if (pid_ > 0) {
      keep_screenshot();
      call("Browser.close", {}, false, milliseconds(browser_close_timeout_ms));
      const auto deadline = Clock::now() + milliseconds(browser_close_timeout_ms);
      while (::waitpid(pid_, nullptr, WNOHANG) == 0 && Clock::now() < deadline) {
        std::this_thread::sleep_for(milliseconds(poll_pause_ms));
      }
      ::kill(-pid_, SIGKILL);  // what is left of the group we started
      ::waitpid(pid_, nullptr, WNOHANG);
    }
    ::close(write_fd_);
    ::close(read_fd_);
    // After a failure the folder keeps the screenshot and Chromium's log.
    std::error_code ignored;
    std::filesystem::remove_all(failed() ? profile_ / "profile" : profile_, ignored);
  }
  Chromium(const Chromium&) = delete;
  Chromium& operator=(const Chromium&) = delete;

  // Opens `url` in a new page and attaches to it; false (and why) when the browser did not.
  bool open(const std::string& url) {
    const json target = call("Target.createTarget", {{"url", url}}, false);
    if (!target.contains("targetId")) return false;
    const json attached =
        call("Target.attachToTarget", {{"targetId", target["targetId"]}, {"flatten", true}}, false);
    if (!attached.contains("sessionId")) return false;
    session_ = attached["sessionId"];
    return true;
  }

  // The value of a JavaScript expression in the page (JSON-able values).
  json evaluate(const std::string& expression) {
    const json result =
        call("Runtime.evaluate", {{"expression", expression}, {"returnByValue", true}}, true);
    return result.contains("result") ? result["result"].value("value", json()) : json();
  }

  // A PNG of the page saved at `path`; false when the browser gave none.
  bool screenshot(const std::string& path) {
    const json shot = call("Page.captureScreenshot", {{"format", "png"}}, true);
    if (!shot.contains("data")) return false;
    std::ofstream(path, std::ios::binary) << base64_decode(shot["data"]);
    return true;
  }

  std::string log_path() const { return (profile_ / "chromium.log").string(); }

 private:
  // A failed expectation, or an exception on its way out of the test.
  static bool failed() { return testing::Test::HasFailure() || std::uncaught_exceptions() > 0; }

  // On failure (or when ADMIT_PAGE_SCREENSHOT asks) what the browser shows.
  void keep_screenshot() {
    const char* asked = std::getenv("ADMIT_PAGE_SCREENSHOT");
    if (!failed() && asked == nullptr) return;
    const std::string path =
        asked != nullptr ? std::string(asked) : (profile_ / "page-failure.png").string();
    if (screenshot(path)) {
      std::printf("page_test: screenshot saved at %s\n", path.c_str());
    } else {
      std::printf("page_test: no screenshot (the browser did not answer); its log: %s\n",
                  log_path().c_str());
    }
  }

  // Sends one command and waits (bounded) for its answer's `result`; an
  // error or no answer gives an empty object.
  json call(const std::string& method, const json& params, bool in_page,
            milliseconds wait = milliseconds(http_timeout_ms)) {
    json message = {{"id", ++last_id_}, {"method", method}, {"params", params}};
    if (in_page) message["sessionId"] = session_;
    const std::string bytes = message.dump() + '\0';
    if (::write(write_fd_, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
      return json::object();
    }
    const auto deadline = Clock::now() + wait;
    while (true) {
      for (std::size_t end; (end = received_.find('\0')) != std::string::npos;) {
        const json reply = json::parse(received_.substr(0, end), nullptr, false);
        received_.erase(0, end + 1);
        if (reply.is_object() && reply.value("id", 0) == last_id_) {
          return reply.value("result", json::object());
        }
      }
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return json::object();
      pollfd ready{read_fd_, POLLIN, 0};
      if (::poll(&ready, 1, static_cast<int>(left)) <= 0) return json::object();
      char chunk[65536];
      const ssize_t got = ::read(read_fd_, chunk, sizeof chunk);
      if (got <= 0) return json::object();
      received_.append(chunk, static_cast<std::size_t>(got));
    }
  }

  std::filesystem::path profile_;
  pid_t pid_ = -1;
  int write_fd_ = -1;
  int read_fd_ = -1;
  int last_id_ = 0;
  std::string session_;
  std::string received_;
};

// Each row of the page as the person sees it: the cells' text by class.
constexpr const char* rows_expression = R"js(
  JSON.stringify([...document.querySelectorAll("#events tr[data-event]")].map((row) => {
    const cell = (name) => row.querySelector("." + name).textContent;
    return {event: row.getAttribute("data-event"), id: cell("id"), available: cell("available"),
            held: cell("held"), confirmed: cell("confirmed"), waitlisted: cell("waitlisted"),
            watchers: cell("watchers"), state: cell("state"), live: cell("live"),
            sold: cell("pct"), bar: row.querySelector(".fill").style.width};
  })))js";

// The row of `event` as shown, or null.
json row_of(Chromium& browser, const std::string& event) {
  const json shown = browser.evaluate(rows_expression);
  const json rows =
      shown.is_string() ? json::parse(shown.get<std::string>(), nullptr, false) : json::array();
  if (!rows.is_array()) return nullptr;
  for (const json& row : rows) {
    if (row.value("event", "") == event) return row;
  }
  return nullptr;
}

// Polls until the row of `event` satisfies `wanted` (bounded); the last row seen.
template <class Wanted>
json await_row(Chromium& browser, const std::string& event, Wanted&& wanted) {
  const auto deadline = Clock::now() + milliseconds(http_timeout_ms);
  json row;
  while (Clock::now() < deadline) {
    row = row_of(browser, event);
    if (!row.is_null() && wanted(row)) return row;
    std::this_thread::sleep_for(milliseconds(poll_pause_ms));
  }
  return row;
}

void create_event(Client& client, const AdmitdProcess& server, const std::string& body) {
  const Reply r = client.send("POST", server.http_url("/v1/events"), body);
  ASSERT_EQ(r.status, 201) << r.body;
}

void book_one(Client& client, const AdmitdProcess& server, const std::string& user) {
  const Reply r = client.send("POST", server.http_url("/v1/events/gig/bookings"),
                              R"({"user":")" + user + "\"}");
  ASSERT_EQ(r.status, 201) << r.body;
}

TEST(Page, IsOneSelfContainedHtmlDocument) {
  AdmitdProcess server;
  Client client;
  const Reply page = client.send("GET", server.http_url("/"));
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
  EXPECT_TRUE(page.body.starts_with("<!doctype html>"));
  EXPECT_NE(page.body.find("EventSource"), std::string::npos);
  // Nothing from elsewhere: no CDN, no external fonts or scripts.
  EXPECT_EQ(page.body.find("http://"), std::string::npos);
  EXPECT_EQ(page.body.find("https://"), std::string::npos);
  EXPECT_EQ(page.body.find("innerHTML"), std::string::npos) << "data must go in as text";
  EXPECT_EQ(client.send("GET", server.http_url("/?event=gig&event=x")).status, 200);
  EXPECT_EQ(client.send("POST", server.http_url("/")).status, 405);
}

// With auth on, the page itself needs no token (like /healthz); its API
// calls do, and are refused: the page is for servers without auth.
TEST(Page, ServedWithoutATokenWhenAuthIsOn) {
  AdmitdOptions options;
  options.auth_secret = "page-secret";
  AdmitdProcess server(options);
  Client client;
  EXPECT_EQ(client.send("GET", server.http_url("/")).status, 200);
  EXPECT_EQ(client.send("GET", server.http_url("/v1/events")).status, 401);
}

TEST(Page, ShowsLiveCountersInChromium) {
  ASSERT_FALSE(chromium_path().empty())
      << "CHROMIUM is not set: meson found no chromium (./dev installs Debian's chromium)";
  AdmitdOptions options;
  options.durability = "strict";  // the events outlive the kill -9 below
  AdmitdProcess server(options);
  Client client;
  create_event(client, server, R"({"id":"gig","capacity":10})");
  const std::string markup = R"(<b>bold</b> & "q")";
  create_event(client, server, json({{"id", markup}, {"capacity", 4}}).dump());

  Chromium browser;
  ASSERT_TRUE(browser.open(server.http_url("/")))
      << "Chromium did not open the page; its log: " << browser.log_path();
  json row = await_row(browser, "gig", [](const json& r) {
    return r["live"] == "live" && r["available"] == "10" && r["watchers"] == "1";
  });
  EXPECT_EQ(row["live"], "live") << row;
  EXPECT_EQ(row["available"], "10") << row;
  EXPECT_EQ(row["watchers"], "1") << row << ": the page's EventSource is a watcher";

  book_one(client, server, "first");
  row = await_row(browser, "gig", [](const json& r) { return r["available"] == "9"; });
  EXPECT_EQ(row["available"], "9") << row;
  EXPECT_EQ(row["confirmed"], "1") << row;
  EXPECT_EQ(row["sold"], "1 / 10 (10%)") << row;
  EXPECT_EQ(row["bar"], "10%") << row;

  // An id with markup is shown as text, never parsed as HTML.
  const json shown = row_of(browser, markup);
  EXPECT_EQ(shown.value("id", ""), markup) << shown;
  EXPECT_EQ(browser.evaluate(R"(document.querySelectorAll("#events b").length)"), 0);

  // The server dies and comes back: the EventSource reconnects by itself.
  server.kill9();
  row = await_row(browser, "gig", [](const json& r) { return r["live"] != "live"; });
  EXPECT_NE(row["live"], "live") << row;
  server.start();
  Client after_restart;
  book_one(after_restart, server, "second");
  row = await_row(browser, "gig",
                  [](const json& r) { return r["live"] == "live" && r["available"] == "8"; });
  EXPECT_EQ(row["available"], "8") << row;
  EXPECT_EQ(row["live"], "live") << row;
}

}  // namespace
}  // namespace admit::test
