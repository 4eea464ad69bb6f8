// admitd: parses flags, starts the shards, prints the ready line, and stops
// cleanly on SIGINT or SIGTERM.
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "server/server.h"
#include "server/server_options.h"

int main(int argc, char** argv) {
  using admit::server::ServerOptions;
  const auto parsed = admit::server::parse_options(argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const ServerOptions& options = std::get<ServerOptions>(parsed);

  // Signals are taken by sigwait on this thread only; the reactors inherit
  // the blocked mask. Writes to closed sockets are errors, not SIGPIPE.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  admit::server::Server server(options);
  std::string why;
  if (!server.open(&why) || !server.start(&why)) {
    std::cerr << "admitd: " << why << "\n";
    return 1;
  }
  std::cout << server.ready_line() << std::endl;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  server.stop();
  std::cerr << "admitd: stopped on " << (signal_number == SIGINT ? "SIGINT" : "SIGTERM")
            << " after " << server.requests_served() << " requests\n";
  return 0;
}
