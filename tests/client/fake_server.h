// A fake admitd on a loopback port for libadmit's error paths: it speaks the
// frames (Hello answered with one shard) and misbehaves as its Script says:
// answers UNAVAILABLE past a count, closes connections mid-pipeline (after a
// half frame, or with a reset), cuts frames in two, adds replies for unknown
// ids, or goes silent. One thread, every connection in one poll(2).
#pragma once

#include <atomic>
#include <cstdint>
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
  bool half_frame_before_close = false;  // the closing frame goes out cut in half
  bool reset_on_close = false;           // close with RST (SO_LINGER 0), not FIN
  bool split_frames = false;             // every frame written in two parts, 2 ms apart
  bool unknown_ids = false;              // each frame also answers ids nobody asked
  int silent_after_requests = 1 << 30;   // requests past this count get no answer
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

 private:
  struct Peer {
    int fd = -1;
    std::string in;
    int frames_sent = 0;  // Hello answers not counted
  };

  void serve();
  // Answers the whole frames in `peer.in`; false when the peer is to be closed.
  bool answer_frames(Peer& peer);
  std::string reply_frame(const void* request_frame);
  bool send_frame(Peer& peer, const std::string& frame, bool closing);

  const Script script_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> requests_{0};
  mutable std::mutex hello_tokens_mutex_;
  std::vector<std::string> hello_tokens_;
  std::vector<Peer> peers_;
  std::thread thread_;
};

}  // namespace admit::test
