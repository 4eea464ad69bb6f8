// One Server-Sent Events watcher for watch-storm --http: a raw socket with
// `GET /v1/events/{id}/watch`, the answer's head checked, then its events
// (`id:`, `data:` lines up to a blank line) handed over as they complete.
// The bench stays free of an HTTP library: SSE over HTTP/1.1 from admitd is a
// close-delimited stream of lines.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace admit::bench {

class SseWatcher {
 public:
  SseWatcher() = default;
  ~SseWatcher();
  SseWatcher(SseWatcher&& other) noexcept;
  SseWatcher& operator=(SseWatcher&&) = delete;
  SseWatcher(const SseWatcher&) = delete;
  SseWatcher& operator=(const SseWatcher&) = delete;

  // Connects to host:port and sends the request (with a Bearer token when
  // given). False (and why) when that fails.
  bool open(const std::string& host, std::uint16_t port, std::string_view event,
            std::string_view token, std::string* why);
  int fd() const { return fd_; }
  bool is_open() const { return fd_ >= 0; }
  // True once a 200 head was read.
  bool accepted() const { return accepted_; }
  // Reads what has arrived (never blocks) and calls on_event(data) for each
  // complete event with a data line. False (and why) when the stream ended or
  // is not an event stream; the socket is then closed.
  bool read(const std::function<void(std::string_view data)>& on_event, std::string* why);
  void close();

 private:
  // Consumes complete events from in_; false when the head is not a 200.
  bool parse(const std::function<void(std::string_view data)>& on_event, std::string* why);

  int fd_ = -1;
  bool accepted_ = false;
  std::string in_;
};

}  // namespace admit::bench
