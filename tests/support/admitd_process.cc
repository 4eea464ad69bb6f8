#include "tests/support/admitd_process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace admit::test {
namespace {

constexpr int port_attempts_max = 100;
constexpr int launch_attempts_max = 5;
constexpr int restart_port_wait_max_ms = 60'000;
constexpr int restart_port_poll_ms = 250;
constexpr std::uint16_t port_low = 20000;
constexpr std::uint16_t port_high = 60000;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool port_is_free(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return free;
}

// Waits for `pid` up to `timeout_ms`; returns its status or -1 if still running.
int wait_for_exit(pid_t pid, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int status = 0;
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

AdmitdProcess::AdmitdProcess(AdmitdOptions options) : options_(std::move(options)) {
  std::string pattern = (std::filesystem::temp_directory_path() / "admit-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  temp_dir_ = pattern;
  data_dir_ = options_.data_dir.empty() ? temp_dir_ + "/data" : options_.data_dir;
  stdout_path_ = temp_dir_ + "/admitd.out";
  stderr_path_ = temp_dir_ + "/admitd.err";
  if (!options_.auth_secret.empty()) {
    const std::string secret_path = temp_dir_ + "/auth-secret";
    std::ofstream(secret_path) << options_.auth_secret;
    options_.extra_args.insert(options_.extra_args.end(), {"--auth-secret", secret_path});
  }
  port_ = pick_free_port();
  start();
}

AdmitdProcess::~AdmitdProcess() {
  if (running()) stop();
  if (std::getenv("ADMIT_KEEP_TEST_DATA") == nullptr) {
    std::error_code ignored;
    std::filesystem::remove_all(temp_dir_, ignored);
  }
}

std::uint16_t AdmitdProcess::pick_free_port() const {
  std::mt19937 random(static_cast<std::uint32_t>(::getpid()) ^ std::random_device{}());
  std::uniform_int_distribution<int> base(port_low, port_high - 1 - http_offset);
  for (int attempt = 0; attempt < port_attempts_max; ++attempt) {
    const auto candidate = static_cast<std::uint16_t>(base(random));
    // The base port, the shard ports above it and the default HTTP port.
    bool all_free = port_is_free(static_cast<std::uint16_t>(candidate + http_offset));
    for (std::uint32_t i = 0; i <= options_.shards && all_free; ++i) {
      all_free = port_is_free(static_cast<std::uint16_t>(candidate + i));
    }
    if (all_free) return candidate;
  }
  throw std::runtime_error("no free loopback port range found");
}

void AdmitdProcess::start() {
  if (running()) throw std::runtime_error("admitd is already running");
  if (!started_once_) {
    for (int attempt = 0; attempt < launch_attempts_max; ++attempt) {
      if (launch()) return;
      port_ = pick_free_port();  // someone took the port between the check and the bind
    }
  } else {
    // A restart keeps its port (clients reconnect to it). The kernel tears the
    // previous process's io_uring down asynchronously, after kill -9 sometimes
    // for seconds, and its listening sockets hold the port until then: wait.
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(restart_port_wait_max_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (launch()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(restart_port_poll_ms));
    }
  }
  throw std::runtime_error("admitd did not start on " + address() + ":\n" + output());
}

bool AdmitdProcess::launch() {
  const char* binary = std::getenv("ADMITD_BIN");
  if (binary == nullptr) throw std::runtime_error("ADMITD_BIN is not set");
  std::vector<std::string> args = {
      binary,   "--listen", address(),      "--shards",         std::to_string(options_.shards),
      "--data", data_dir_,  "--durability", options_.durability};
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());

  // Truncated here, not in the child, so a restart never reads the previous
  // process's ready line.
  ::close(::open(stdout_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
  const std::size_t stderr_before = read_file(stderr_path_).size();
  const pid_t child = ::fork();
  if (child < 0) throw std::runtime_error("fork failed");
  if (child == 0) {
    const int out = ::open(stdout_path_.c_str(), O_WRONLY | O_APPEND, 0644);
    const int err = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out < 0 || err < 0) ::_exit(126);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(binary, argv.data());
    ::_exit(127);
  }
  pid_ = child;

  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(ready_timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string out = read_file(stdout_path_);
    const auto ready = out.find("admitd ready");
    if (ready != std::string::npos && out.find('\n', ready) != std::string::npos) {
      ready_line_ = out.substr(ready, out.find('\n', ready) - ready);
      started_once_ = true;
      return true;
    }
    const int status = wait_for_exit(pid_, 10);
    if (status != -1) {
      pid_ = -1;
      if (read_file(stderr_path_).find("in use", stderr_before) != std::string::npos) return false;
      throw std::runtime_error("admitd exited with code " + std::to_string(exit_code_of(status)) +
                               " before it was ready:\n" + output());
    }
  }
  kill9();
  throw std::runtime_error("admitd was not ready within " + std::to_string(ready_timeout_ms) +
                           " ms:\n" + output());
}

int AdmitdProcess::stop() {
  if (!running()) return -1;
  ::kill(pid_, SIGTERM);
  int status = wait_for_exit(pid_, stop_timeout_ms);
  if (status == -1) {
    ::kill(pid_, SIGKILL);
    status = wait_for_exit(pid_, stop_timeout_ms);
  }
  pid_ = -1;
  return exit_code_of(status);
}

void AdmitdProcess::kill9() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  wait_for_exit(pid_, stop_timeout_ms);
  pid_ = -1;
}

AdmitdRun run_admitd(const std::string& args, int timeout_s) {
  const char* binary = std::getenv("ADMITD_BIN");
  if (binary == nullptr) throw std::runtime_error("ADMITD_BIN is not set");
  const std::string command =
      "timeout -s KILL " + std::to_string(timeout_s) + " " + binary + " " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed: " + command);
  AdmitdRun run;
  std::array<char, 4096> chunk{};
  while (std::fgets(chunk.data(), chunk.size(), pipe) != nullptr) run.output += chunk.data();
  const int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::string AdmitdProcess::address() const { return host() + ":" + std::to_string(port_); }

std::string AdmitdProcess::http_url(std::string_view path) const {
  return "http://" + host() + ":" + std::to_string(http_port()) + std::string(path);
}

std::string AdmitdProcess::output() const {
  return "--- stdout ---\n" + read_file(stdout_path_) + "--- stderr ---\n" +
         read_file(stderr_path_);
}

}  // namespace admit::test
