// admitd's command line: bad values exit 2 with a message naming the flag,
// --help teaches, an address in use is named on stderr, and a clean stop
// leaves its ports free at once.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "tests/support/admitd_process.h"

namespace admit::test {
namespace {

// A server that starts although it should not is stopped after this.
constexpr int run_timeout_s = 20;

TEST(AdmitdFlags, BadValuesExitTwoNamingTheFlag) {
  const std::pair<std::string, std::string> cases[] = {
      {"--shards 0", "--shards"},
      {"--shards 65", "--shards"},
      {"--listen nowhere", "--listen"},
      {"--listen 127.0.0.1:0", "--listen"},
      {"--listen 127.0.0.1:65535 --shards 2", "--listen"},
      {"--ring-size 1000", "--ring-size"},
      {"--max-connections 0", "--max-connections"},
      {"--max-send-queue-bytes 10", "--max-send-queue-bytes"},
      {"--frame-timeout-ms 10", "--frame-timeout-ms"},
      {"--durability sometimes", "--durability"},
      {"--rate 2000000", "--rate"},
      {"--users-reserved 100000001", "--users-reserved"},
      {"--no-such-flag", "--no-such-flag"},
  };
  for (const auto& [args, flag] : cases) {
    const AdmitdRun run = run_admitd(args, run_timeout_s);
    EXPECT_EQ(run.exit_code, 2) << args << "\n" << run.output;
    EXPECT_NE(run.output.find(flag), std::string::npos) << args << "\n" << run.output;
  }
}

TEST(AdmitdFlags, BadMapSizesExitTwoNamingTheFlag) {
  const std::pair<std::string, std::string> cases[] = {
      {"--map-size 12XB", "--map-size"},
      {"--map-size 1KiB", "--map-size"},
      {"--map-size-max lots", "--map-size-max"},
      {"--map-size 1GiB --map-size-max 512MiB", "--map-size-max"},
      {"--sync-interval-ms 0", "--sync-interval-ms"},
      {"--checkpoint-records 0", "--checkpoint-records"},
      {"--checkpoint-seconds 0", "--checkpoint-seconds"},
  };
  for (const auto& [args, flag] : cases) {
    const AdmitdRun run = run_admitd(args, run_timeout_s);
    EXPECT_EQ(run.exit_code, 2) << args << "\n" << run.output;
    EXPECT_NE(run.output.find(flag), std::string::npos) << args << "\n" << run.output;
  }
}

TEST(AdmitdFlags, DurabilityIsStrictByDefault) {
  AdmitdOptions options;
  options.shards = 1;
  options.durability = "strict";
  AdmitdProcess strict(options);
  EXPECT_NE(strict.ready_line().find("durability strict"), std::string::npos)
      << strict.ready_line();
  EXPECT_TRUE(std::filesystem::exists(strict.data_dir() + "/shard-0/data.mdb"));
  const AdmitdRun help = run_admitd("--help", run_timeout_s);
  EXPECT_NE(help.output.find("--durability TEXT:{strict,batched,off}=strict"), std::string::npos)
      << help.output;
}

TEST(AdmitdFlags, HelpListsEveryFlag) {
  const AdmitdRun run = run_admitd("--help", run_timeout_s);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  for (const char* flag :
       {"--listen", "--shards", "--data", "--durability", "--max-connections", "--max-inflight",
        "--max-send-queue-bytes", "--ring-size", "--rate", "--burst", "--sync-interval-ms",
        "--map-size", "--map-size-max", "--checkpoint-records", "--checkpoint-seconds",
        "--users-reserved", "--frame-timeout-ms"}) {
    EXPECT_NE(run.output.find(flag), std::string::npos) << flag;
  }
  EXPECT_NE(run.output.find("--frame-timeout-ms INT:INT in [100 - 3600000]=10000"),
            std::string::npos)
      << "a 10 s default";
}

TEST(AdmitdFlags, AddressInUseIsNamedAndExitsNonZero) {
  AdmitdOptions options;
  options.shards = 1;
  AdmitdProcess running(options);
  const AdmitdRun run = run_admitd("--shards 1 --durability off --listen " + running.address() +
                                       " --data " + running.data_dir() + "-second",
                                   run_timeout_s);
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("in use"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find(running.host() + ":"), std::string::npos) << run.output;
}

// Whether a listening socket can take 127.0.0.1:`port` now (SO_REUSEADDR,
// as admitd itself binds).
bool can_listen_on(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 &&
                  ::listen(fd, 1) == 0;
  ::close(fd);
  return ok;
}

// The multishot accepts hold the listening sockets until cancelled: a SIGTERM
// must end them, or a restart finds its ports taken.
TEST(AdmitdFlags, CleanStopFreesItsPortsAtOnce) {
  AdmitdProcess server;
  EXPECT_EQ(server.stop(), 0) << server.output();
  EXPECT_TRUE(can_listen_on(server.port()));
  EXPECT_TRUE(can_listen_on(server.shard_port(0)));
  EXPECT_TRUE(can_listen_on(server.shard_port(1)));
}

}  // namespace
}  // namespace admit::test
