#include "tests/client/fake_server.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "protocol/booking_ref.h"
#include "protocol/framing.h"

namespace admit::test {
namespace {

constexpr auto split_pause = std::chrono::milliseconds(2);
constexpr int poll_wait_ms = 20;
constexpr std::uint64_t unknown_id = 0x7777'0000'0000'0042;  // a generation no slot reaches soon

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  return address;
}

flatbuffers::Offset<wire::Update> make_update(flatbuffers::FlatBufferBuilder& builder,
                                              const std::string& event, std::uint64_t seq,
                                              const FakeCounters& c) {
  return wire::CreateUpdate(builder, builder.CreateString(event), seq, c.version,
                            wire::EventState::Open, c.capacity, c.available, c.held, c.confirmed,
                            c.waitlisted, c.watchers);
}

std::string frame_bytes(flatbuffers::FlatBufferBuilder& builder) {
  const auto bytes = builder.GetBufferSpan();
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Every item of the batch BOOKED, with its seats and the fake ref.
flatbuffers::Offset<wire::Reply> book_batch_reply(flatbuffers::FlatBufferBuilder& builder,
                                                  std::uint64_t id, const wire::BookBatch& batch) {
  std::vector<wire::BookItemResult> results;
  if (batch.items() != nullptr) {
    const std::uint64_t ref = BookingRef::parse(fake_booking_ref())->bits();
    for (const wire::BookItem* item : *batch.items()) {
      results.emplace_back(ref, item->seats(), wire::Outcome::BOOKED, 0);
    }
  }
  auto answer = wire::CreateBookBatchReply(builder, builder.CreateVectorOfStructs(results));
  return wire::CreateReply(builder, id, wire::Outcome::OK, 0, wire::Result::BookBatchReply,
                           answer.Union());
}

// The answer to a request the script lets through: BOOKED for a Book, every
// item BOOKED for a BookBatch, OK for anything else.
flatbuffers::Offset<wire::Reply> success_reply(flatbuffers::FlatBufferBuilder& builder,
                                               const wire::Request& request) {
  if (request.op_type() == wire::Op::BookBatch) {
    return book_batch_reply(builder, request.id(), *request.op_as_BookBatch());
  }
  if (request.op_type() != wire::Op::Book) {
    return wire::CreateReply(builder, request.id(), wire::Outcome::OK);
  }
  auto booked = wire::CreateBookReply(builder, builder.CreateString(fake_booking_ref()), 1);
  return wire::CreateReply(builder, request.id(), wire::Outcome::BOOKED, 0, wire::Result::BookReply,
                           booked.Union());
}

}  // namespace

std::string fake_booking_ref() { return std::string(BookingRef::make(1, 0).view()); }

FakeServer::FakeServer(Script script) : script_(script) {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = loopback(0);
  EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  EXPECT_EQ(::listen(listener_, 16), 0);
  socklen_t size = sizeof address;
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size);
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { serve(); });
}

FakeServer::~FakeServer() {
  stop_ = true;
  thread_.join();
  for (Peer& peer : peers_) ::close(peer.fd);
  ::close(listener_);
}

void FakeServer::serve() {
  std::vector<pollfd> fds;
  char buffer[64 * 1024];
  while (!stop_) {
    run_commands();
    fds.assign(1, pollfd{listener_, POLLIN, 0});
    for (const Peer& peer : peers_) fds.push_back(pollfd{peer.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), poll_wait_ms) <= 0) continue;
    if (fds[0].revents != 0) {
      peers_.push_back(Peer{::accept(listener_, nullptr, nullptr), {}, 0});
      ++accepted_;
    }
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Peer& peer = peers_[i - 1];
      const ssize_t n = ::read(peer.fd, buffer, sizeof buffer);
      bool keep = n > 0;
      if (keep) {
        peer.in.append(buffer, static_cast<std::size_t>(n));
        keep = answer_frames(peer);
      }
      if (!keep) {
        ::close(peer.fd);
        peer.fd = -1;
      }
    }
    std::erase_if(peers_, [](const Peer& peer) { return peer.fd < 0; });
  }
}

void FakeServer::post(Command command) {
  const std::lock_guard lock(commands_mutex_);
  commands_.push_back(std::move(command));
}

void FakeServer::run_commands() {
  std::vector<Command> commands;
  {
    const std::lock_guard lock(commands_mutex_);
    commands.swap(commands_);
  }
  for (Command& command : commands) command();
  std::map<std::string, int> counts;
  for (const Peer& peer : peers_) {
    if (peer.fd < 0) continue;
    for (const auto& [event, seq] : peer.watching) ++counts[event];
  }
  const std::lock_guard lock(commands_mutex_);
  watcher_counts_ = std::move(counts);
}

int FakeServer::watchers(const std::string& event) const {
  const std::lock_guard lock(commands_mutex_);
  const auto found = watcher_counts_.find(event);
  return found == watcher_counts_.end() ? 0 : found->second;
}

void FakeServer::push(const std::string& event, const FakeCounters& counters) {
  post([this, event, counters] {
    events_[event] = counters;
    push_now(event, 1);
  });
}

void FakeServer::push_now(const std::string& event, std::int64_t seq_step) {
  for (Peer& peer : peers_) {
    auto watched = peer.watching.find(event);
    if (peer.fd < 0 || watched == peer.watching.end()) continue;
    watched->second =
        static_cast<std::uint64_t>(static_cast<std::int64_t>(watched->second) + seq_step);
    flatbuffers::FlatBufferBuilder builder;
    auto update = make_update(builder, event, watched->second, events_[event]);
    finish_frame(builder, wire::CreateFrame(builder, 0, 0, builder.CreateVector(&update, 1)));
    if (!send_frame(peer, frame_bytes(builder), false)) {
      ::close(peer.fd);
      peer.fd = -1;
    }
  }
}

void FakeServer::push_odd(const std::string& event) {
  post([this, event] {
    const FakeCounters kept = events_[event];
    FakeCounters odd = kept;
    odd.available += 1000;  // a state the client must never show
    for (Peer& peer : peers_) {
      auto watched = peer.watching.find(event);
      if (peer.fd < 0 || watched == peer.watching.end()) continue;
      const std::uint64_t last = watched->second;
      flatbuffers::FlatBufferBuilder builder;
      std::vector<flatbuffers::Offset<wire::Update>> updates;
      updates.push_back(make_update(builder, event, last, odd));      // the last seq again
      updates.push_back(make_update(builder, event, last - 1, odd));  // an older one
      updates.push_back(wire::CreateUpdate(builder, 0, last + 100));  // no event
      updates.push_back(make_update(builder, "nobody-watches", 1, odd));
      finish_frame(builder, wire::CreateFrame(builder, 0, 0, builder.CreateVector(updates)));
      std::string frames = frame_bytes(builder);
      flatbuffers::FlatBufferBuilder empty;
      finish_frame(
          empty,
          wire::CreateFrame(empty, 0, 0,
                            empty.CreateVector(std::vector<flatbuffers::Offset<wire::Update>>())));
      frames += frame_bytes(empty);
      if (!send_frame(peer, frames, false)) {
        ::close(peer.fd);
        peer.fd = -1;
      }
    }
    push_now(event, 1);  // back in order: this one counts
  });
}

void FakeServer::drop_connections() {
  post([this] {
    for (Peer& peer : peers_) {
      if (peer.fd >= 0) ::close(peer.fd);
      peer.fd = -1;
    }
    std::erase_if(peers_, [](const Peer& peer) { return peer.fd < 0; });
  });
}

bool FakeServer::answer_frames(Peer& peer) {
  while (true) {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(peer.in.data());
    const FrameScan scan = scan_frame(std::span<const std::uint8_t>(bytes, peer.in.size()));
    if (scan.status == FrameScanStatus::incomplete) return true;
    if (scan.status != FrameScanStatus::complete) return false;
    const std::size_t size = frame_header_size + scan.payload_size;
    std::vector<std::uint64_t> aligned((size + 7) / 8);
    std::memcpy(aligned.data(), bytes, size);
    peer.in.erase(0, size);
    std::string why;
    const wire::Frame* frame = verify_frame(
        std::span<const std::uint8_t>(reinterpret_cast<std::uint8_t*>(aligned.data()), size), &why);
    EXPECT_NE(frame, nullptr) << why;
    if (frame == nullptr) return false;
    const bool hello_only = frame->requests() != nullptr && frame->requests()->size() == 1 &&
                            frame->requests()->Get(0)->op_type() == wire::Op::Hello;
    const std::string reply = reply_frame(peer, frame);
    if (reply.empty()) continue;  // silent
    const bool closing = !hello_only && script_.close_after_frames > 0 &&
                         peer.frames_sent + 1 >= script_.close_after_frames;
    if (!hello_only) ++peer.frames_sent;
    if (!send_frame(peer, reply, closing) || closing) return false;
  }
}

std::vector<std::string> FakeServer::hello_tokens() const {
  const std::lock_guard lock(hello_tokens_mutex_);
  return hello_tokens_;
}

std::string FakeServer::reply_frame(Peer& peer, const void* request_frame) {
  const auto* frame = static_cast<const wire::Frame*>(request_frame);
  flatbuffers::FlatBufferBuilder builder;
  std::vector<flatbuffers::Offset<wire::Reply>> replies;
  std::vector<flatbuffers::Offset<wire::Update>> updates;
  if (frame->requests() != nullptr) {
    for (const wire::Request* request : *frame->requests()) {
      const int seen = requests_++;
      if (request->op_type() == wire::Op::Watch || request->op_type() == wire::Op::Unwatch) {
        const bool watch = request->op_type() == wire::Op::Watch;
        const flatbuffers::String* name =
            watch ? request->op_as_Watch()->event() : request->op_as_Unwatch()->event();
        const std::string event = name != nullptr ? name->str() : std::string();
        ++(watch ? watch_requests_ : unwatch_requests_);
        if (watch && event == script_.unknown_event) {
          replies.push_back(wire::CreateReply(builder, request->id(), wire::Outcome::NOT_FOUND,
                                              builder.CreateString("event: " + event)));
          continue;
        }
        replies.push_back(wire::CreateReply(builder, request->id(), wire::Outcome::OK));
        if (!watch) {
          peer.watching.erase(event);
          continue;
        }
        // The current state, in the frame of the answer (a new watch, or a repeat).
        const std::uint64_t seq = ++peer.watching[event];
        updates.push_back(make_update(builder, event, seq, events_[event]));
        continue;
      }
      if (request->op_type() == wire::Op::Hello) {
        const flatbuffers::String* token = request->op_as_Hello()->token();
        const std::lock_guard lock(hello_tokens_mutex_);
        hello_tokens_.emplace_back(token != nullptr ? token->str() : std::string());
        auto hello = wire::CreateHelloReply(builder, 1, 1, -1);
        replies.push_back(wire::CreateReply(builder, request->id(), wire::Outcome::OK, 0,
                                            wire::Result::HelloReply, hello.Union()));
        continue;
      }
      if (seen >= script_.silent_after_requests) continue;
      if (seen >= script_.answered_ok_max) {
        replies.push_back(wire::CreateReply(builder, request->id(), wire::Outcome::UNAVAILABLE,
                                            builder.CreateString("storage: disk full")));
        continue;
      }
      replies.push_back(success_reply(builder, *request));
    }
  }
  if (replies.empty()) return {};
  if (script_.unknown_ids) {
    for (std::uint64_t id : {std::uint64_t{0}, unknown_id, replies.size() + 1000}) {
      replies.push_back(wire::CreateReply(builder, id, wire::Outcome::OK));
    }
  }
  if (script_.updates_with_replies) {
    for (auto& [event, seq] : peer.watching) {
      updates.push_back(make_update(builder, event, ++seq, events_[event]));
    }
    updates.push_back(make_update(builder, "nobody-watches", 1, FakeCounters{}));
  }
  finish_frame(builder, wire::CreateFrame(builder, 0, builder.CreateVector(replies),
                                          updates.empty() ? 0 : builder.CreateVector(updates)));
  return frame_bytes(builder);
}

bool FakeServer::send_frame(Peer& peer, const std::string& frame, bool closing) {
  if (closing && script_.reset_on_close) {
    const linger reset{1, 0};
    ::setsockopt(peer.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }
  const bool cut = script_.split_frames || (closing && script_.half_frame_before_close);
  if (!cut) return write_all(peer.fd, frame.data(), frame.size());
  const std::size_t half = frame.size() / 2;
  if (!write_all(peer.fd, frame.data(), half)) return false;
  if (closing && script_.half_frame_before_close) return true;  // the rest never comes
  std::this_thread::sleep_for(split_pause);
  return write_all(peer.fd, frame.data() + half, frame.size() - half);
}

}  // namespace admit::test
