#include "tests/http/loopback_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <vector>

#include "protocol/shard.h"
#include "server/http/exchange.h"
#include "server/http/metrics_text.h"
#include "storage/wal/command.h"

namespace admit::server::http {
namespace {

constexpr std::uint32_t shards = 2;
constexpr std::size_t read_size = 64 * 1024;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Connection {
  int fd = -1;
  RequestParser parser;
  AnswerOrder order;
  std::string unread, out;
  bool closing = false;  // no more requests: close once the answers are out
};

struct Pending {
  int fd;
  std::uint64_t ticket;
  std::unique_ptr<Prepared> prepared;
};

class Loop {
 public:
  explicit Loop(std::optional<std::string> secret) : preparer_(shards, std::move(secret)) {
    for (std::uint32_t i = 0; i < shards; ++i) {
      machines_[i] = std::make_unique<storage::StateMachine>(storage::Options{.shard = i});
    }
  }

  void run(int listen_fd, int stop_fd, std::atomic<int>& open) {
    while (true) {
      std::vector<pollfd> fds = {{listen_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
      for (const auto& [fd, c] : connections_) fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 1000) < 0) return;
      if (fds[1].revents != 0) break;
      if (fds[0].revents & POLLIN) {
        const int fd = ::accept(listen_fd, nullptr, nullptr);
        if (fd >= 0) {
          auto connection = std::make_unique<Connection>();
          connection->fd = fd;
          connections_[fd] = std::move(connection);
        }
      }
      for (std::size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents != 0) read_from(*connections_.at(fds[i].fd));
      }
      run_commands();
      flush_all();
      open = static_cast<int>(connections_.size());
    }
    for (const auto& [fd, c] : connections_) ::close(fd);
  }

 private:
  void read_from(Connection& c) {
    char bytes[read_size];
    const ssize_t got = ::recv(c.fd, bytes, sizeof bytes, 0);
    if (got <= 0) {
      c.closing = true;
      c.unread.clear();
      return;
    }
    c.unread.append(bytes, static_cast<std::size_t>(got));
    parse(c);
  }

  void parse(Connection& c) {
    while (!c.closing && !c.order.full() && !c.unread.empty()) {
      const auto step = c.parser.parse(c.unread);
      c.unread.erase(0, step.consumed);
      if (step.send_continue && c.order.waiting() == 0) c.out.append(continue_answer);
      if (step.state == RequestParser::State::need_more) {
        if (step.consumed == 0) return;
        continue;
      }
      const std::uint64_t ticket = c.order.take_ticket();
      if (step.state == RequestParser::State::failed) {
        const ParseError error = c.parser.error();
        c.order.fill(ticket, refusal(Outcome::invalid, error.message, error.status), false);
        c.closing = true;
        return;
      }
      ParsedRequest request = c.parser.take();
      auto prepared = std::make_unique<Prepared>();
      preparer_.prepare(request, now_ms(), prepared.get());
      c.closing = !prepared->keep_alive;
      if (prepared->next == Next::answer) {
        c.order.fill(ticket, prepared->answer, prepared->keep_alive);
      } else if (prepared->next == Next::local) {
        c.order.fill(ticket, local_answer(prepared->target), prepared->keep_alive);
      } else {
        pending_[prepared->owner].push_back({c.fd, ticket, std::move(prepared)});
      }
    }
  }

  Answer local_answer(const Target& target) {
    switch (target.route) {
      case Route::get_event: {
        const auto& machine = *machines_[owner_shard(target.id.view(), shards)];
        const storage::EventResult found = machine.get_event(target.id.view());
        if (found.outcome != Outcome::ok) return refusal(Outcome::not_found, "id: no such event");
        return event_answer(EventSnapshot::of(found.event));
      }
      case Route::list_events:
        return event_page(target);
      case Route::stats:
        return stats_answer({stats_, "off", 0, 0});
      case Route::metrics: {
        Answer answer;
        answer.content_type = metrics_content_type;
        MetricsText metrics(&answer.body);
        metrics.family("admit_test_requests_total", MetricsText::Type::counter, "Requests.");
        metrics.sample({{"protocol", "http"}}, std::uint64_t{requests_});
        return answer;
      }
      default:
        return health_answer(std::nullopt);
    }
  }

  Answer event_page(const Target& target) {
    const std::uint32_t limit = target.limit == 0 ? list_limit_default : target.limit;
    std::vector<EventSnapshot> events;
    for (const auto& machine : machines_) {
      for (const auto& view : machine->list_events(target.after.view(), limit + 1).events) {
        events.push_back(EventSnapshot::of(view));
      }
    }
    std::sort(events.begin(), events.end(),
              [](const auto& a, const auto& b) { return a.id.view() < b.id.view(); });
    const bool more = events.size() > limit;
    if (more) events.resize(limit);
    return event_page_answer(events, more);
  }

  // Shard 0's commands first, then shard 1's: answers complete out of order.
  void run_commands() {
    for (std::uint32_t shard = 0; shard < shards; ++shard) {
      for (Pending& p : pending_[shard]) {
        ++requests_;
        ShardResult result;
        execute(*machines_[shard], p.prepared->command, &result);
        const auto found = connections_.find(p.fd);
        if (found != connections_.end()) {
          found->second->order.fill(p.ticket, preparer_.finish(*p.prepared, result),
                                    p.prepared->keep_alive);
        }
        delete result.take_page();
      }
      pending_[shard].clear();
    }
  }

  static void execute(storage::StateMachine& machine, const ShardCommand& command,
                      ShardResult* result) {
    if (!may_act_on_booking(machine, command, result)) return;
    if (!is_mutation(command.op)) return execute_read(machine, command, result);
    storage::wal::Command wal;
    to_wal_command(command, &wal);
    take_result(storage::wal::apply(machine, wal, now_ms()), result);
  }

  void flush_all() {
    for (auto it = connections_.begin(); it != connections_.end();) {
      Connection& c = *it->second;
      c.order.drain(&c.out);
      while (!c.out.empty()) {
        const ssize_t sent = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (sent <= 0) break;
        c.out.erase(0, static_cast<std::size_t>(sent));
      }
      if (c.closing && c.order.waiting() == 0) {
        ::close(c.fd);
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
  }

  Preparer preparer_;
  std::array<std::unique_ptr<storage::StateMachine>, shards> machines_;
  std::array<std::vector<Pending>, shards> pending_;
  std::array<ShardStatsCounters, shards> stats_;
  std::map<int, std::unique_ptr<Connection>> connections_;
  std::uint64_t requests_ = 0;
};

}  // namespace

LoopbackServer::LoopbackServer(std::optional<std::string> secret) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  stop_fd_ = ::eventfd(0, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  if (listen_fd_ < 0 || stop_fd_ < 0 ||
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    throw std::runtime_error("LoopbackServer: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this, secret = std::move(secret)] { run(secret); });
}

LoopbackServer::~LoopbackServer() {
  const std::uint64_t one = 1;
  if (::write(stop_fd_, &one, sizeof one) != sizeof one) std::terminate();
  thread_.join();
  ::close(listen_fd_);
  ::close(stop_fd_);
}

void LoopbackServer::run(std::optional<std::string> secret) {
  Loop loop(std::move(secret));
  loop.run(listen_fd_, stop_fd_, connections_);
}

std::string LoopbackServer::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

}  // namespace admit::server::http
