// Starts a real admitd for a test: a free loopback port, a temporary data
// folder, stdout/stderr captured to files, ready when the server prints its
// `admitd ready` line; stopped by pid. The binary comes from env ADMITD_BIN
// (tests' meson.build sets it). Failures throw std::runtime_error with the
// server's captured output, so a test says why the server did not start.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace admit::test {

// What an admitd run to its exit said and how it ended.
struct AdmitdRun {
  int exit_code = -1;  // -1 when it did not exit normally
  std::string output;  // stdout and stderr
};

// Runs `$ADMITD_BIN args` (shell words) until it exits; a server that starts
// after all is killed after `timeout_s`. For tests of start-up refusals.
AdmitdRun run_admitd(const std::string& args, int timeout_s);

struct AdmitdOptions {
  std::uint32_t shards = 2;
  std::string durability = "off";
  std::vector<std::string> extra_args;  // appended to the command line
  std::string data_dir;                 // empty: a fresh folder inside the temp folder
  // Not empty: auth on. Written to a file in the temp folder, given as --auth-secret.
  std::string auth_secret;
};

class AdmitdProcess {
 public:
  explicit AdmitdProcess(AdmitdOptions options = {});  // starts it
  ~AdmitdProcess();                                    // stops it, removes the temp folder
  AdmitdProcess(const AdmitdProcess&) = delete;
  AdmitdProcess& operator=(const AdmitdProcess&) = delete;

  // Starts again after stop() or kill9(), on the same port and data folder
  // (waiting for the port if the kernel still holds it).
  void start();
  // SIGTERM, then waits (SIGKILL after stop_timeout_ms). Returns the exit
  // code, or 128 + signal when killed by one.
  int stop();
  // SIGKILL and reap: a crash.
  void kill9();
  bool running() const { return pid_ > 0; }

  std::string host() const { return "127.0.0.1"; }
  std::uint16_t port() const { return port_; }
  std::uint16_t shard_port(std::uint32_t shard) const {
    return static_cast<std::uint16_t>(port_ + 1 + shard);
  }
  std::string address() const;  // "127.0.0.1:PORT"
  // admitd's default --http port (base + 80); a test giving its own --http knows its port.
  std::uint16_t http_port() const { return static_cast<std::uint16_t>(port_ + http_offset); }
  // "http://127.0.0.1:HTTP_PORT" + path.
  std::string http_url(std::string_view path) const;
  pid_t pid() const { return pid_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& ready_line() const { return ready_line_; }
  // What the server printed so far on stdout and stderr.
  std::string output() const;

  static constexpr std::uint16_t http_offset = 80;  // server_limits.h: http_port_offset
  static constexpr int ready_timeout_ms = 60'000;   // sanitizer builds start slowly
  static constexpr int stop_timeout_ms = 20'000;

 private:
  bool launch();  // false when the port was taken meanwhile
  std::uint16_t pick_free_port() const;

  AdmitdOptions options_;
  std::string temp_dir_;
  std::string data_dir_;
  std::string stdout_path_;
  std::string stderr_path_;
  std::string ready_line_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  bool started_once_ = false;
};

}  // namespace admit::test
