// A fake admitd on a loopback port for libadmit's error paths: it speaks the
// frames (Hello answered with one shard) and misbehaves as its Script says:
// answers UNAVAILABLE past a count, closes connections mid-pipeline (after a
// half frame, or with a reset), cuts frames in two, adds replies for unknown
// ids, or goes silent. One thread, every connection in one poll(2).
// Books are answered BOOKED with fake_booking_ref(), a BookBatch's items each
// (one request, one reply: a refusal answers the whole batch).
// Watches: Watch is answered OK with the event's current state pushed in the
// same frame (NOT_FOUND for Script::unknown_event); push() sends an Update to
// every connection watching the event, with a per-connection sequence number.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace admit::test {

struct Script {
  // Requests answered BOOKED/OK (over all connections); the rest UNAVAILABLE.
  int answered_ok_max = 1 << 30;
  // Each connection is closed after sending this many reply frames, its Hello
  // answer not counted (0: never).
  int close_after_frames = 0;
  bool half_frame_before_close = false;         // the closing frame goes out cut in half
  bool reset_on_close = false;                  // close with RST (SO_LINGER 0), not FIN
  bool split_frames = false;                    // every frame written in two parts, 2 ms apart
  bool unknown_ids = false;                     // each frame also answers ids nobody asked
  int silent_after_requests = 1 << 30;          // requests past this count get no answer
  std::string unknown_event = "no-such-event";  // Watch on it: NOT_FOUND
  // Every reply frame also carries the current state of each event its
  // connection watches, and an update of an event nobody watches.
  bool updates_with_replies = false;
};

// The ref of every booking the fake server makes (a well-formed ref, so that
// a BookBatch item can carry its bits).
std::string fake_booking_ref();

// An event's counters as the fake server pushes them.
struct FakeCounters {
  std::uint64_t version = 1;
  std::uint32_t capacity = 100, available = 100, held = 0, confirmed = 0, waitlisted = 0;
  std::uint32_t watchers = 0;
};

class FakeServer {
 public:
  explicit FakeServer(Script script);
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  std::uint16_t port() const { return port_; }
  int connections_accepted() const { return accepted_; }
  int requests_seen() const { return requests_; }
  // The token of every Hello received, in order ("" when it had none).
  std::vector<std::string> hello_tokens() const;
  int watch_requests() const { return watch_requests_; }
  int unwatch_requests() const { return unwatch_requests_; }
  // Connections watching `event` now.
  int watchers(const std::string& event) const;

  // Sets the event's state and pushes it to every connection watching it (in
  // the server's thread, within a poll round).
  void push(const std::string& event, const FakeCounters& counters);
  // Pushes odd frames to every watching connection: an update repeating the
  // last sequence number with other counters, one with an older number, one
  // without an event, one for an event nobody watches, an empty frame of
  // updates; none of which a client may deliver.
  void push_odd(const std::string& event);
  // Closes every connection, as a server restart would.
  void drop_connections();

 private:
  struct Peer {
    int fd = -1;
    std::string in;
    int frames_sent = 0;                            // Hello answers not counted
    std::map<std::string, std::uint64_t> watching;  // event -> last seq sent
  };
  using Command = std::function<void()>;  // run in the server's thread

  void serve();
  // Answers the whole frames in `peer.in`; false when the peer is to be closed.
  bool answer_frames(Peer& peer);
  bool send_frame(Peer& peer, const std::string& frame, bool closing);
  std::string reply_frame(Peer& peer, const void* request_frame);
  void run_commands();
  void post(Command command);
  // Pushes `event`'s state to every peer watching it; `seq_step` added to its seq.
  void push_now(const std::string& event, std::int64_t seq_step);

  const Script script_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> requests_{0};
  mutable std::mutex hello_tokens_mutex_;
  std::vector<std::string> hello_tokens_;
  std::atomic<int> watch_requests_{0};
  std::atomic<int> unwatch_requests_{0};
  mutable std::mutex commands_mutex_;
  std::vector<Command> commands_;
  std::map<std::string, int> watcher_counts_;   // under commands_mutex_, for watchers()
  std::map<std::string, FakeCounters> events_;  // the server thread's
  std::vector<Peer> peers_;
  std::thread thread_;
};

}  // namespace admit::test
