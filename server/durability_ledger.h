// The "answer only once durable" ledger of one shard: reply bytes of each
// client and answers in each peer shard's response ring wait here until the
// WAL batch they reflect is durable. It knows no socket and no ring: a client
// is a slot number with a generation and a position in its own stream of
// answers (bytes for the reactor), a peer is a shard number and a count.
// release() tells a sink what may go, oldest first per client and per peer.
#pragma once

#include <absl/container/inlined_vector.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "protocol/assertions.h"

namespace admit::server {

class DurabilityLedger {
 public:
  explicit DurabilityLedger(std::uint32_t shards) : peers_(shards) {}

  // Client `slot` (its `generation`): its answers up to `end`, counted from
  // the first answer not yet released, wait for `batch` (0: for nothing).
  // Ends grow; a batch may be lower than the last one (an answer that reflects
  // nothing unpersisted), it still goes after the answers before it.
  void await_client(std::uint32_t slot, std::uint32_t generation, std::uint64_t batch,
                    std::size_t end) {
    if (slot >= clients_.size()) clients_.resize(slot + 1);
    Client& client = clients_[slot];
    if (client.generation != generation) {
      client.marks.clear();
      client.generation = generation;
    }
    ADMIT_ASSERT(client.marks.empty() || client.marks.back().end < end);
    if (!client.listed) {
      client.listed = true;
      waiting_.push_back(slot);
    }
    client.marks.push_back({batch, end});
  }

  // `count` more answers to shard `origin`, after those already waiting, wait
  // for `batch`.
  void await_peer(std::uint32_t origin, std::uint64_t batch, std::uint32_t count) {
    if (count == 0) return;
    std::deque<Mark>& marks = peers_[origin];
    if (!marks.empty() && marks.back().batch == batch) {
      marks.back().end += count;
    } else {
      marks.push_back({batch, count});
    }
  }

  // The slot closed: what it waited for goes nowhere.
  void forget_client(std::uint32_t slot) {
    if (slot < clients_.size()) clients_[slot].marks.clear();
  }
  // Frees marks grown past the inline one (an idle client holds no memory).
  void trim_client(std::uint32_t slot) {
    if (slot < clients_.size() && clients_[slot].marks.empty()) {
      clients_[slot].marks.shrink_to_fit();
    }
  }
  // Where the client's last waiting answers end (0: none waits).
  std::size_t client_end(std::uint32_t slot) const {
    if (slot >= clients_.size() || clients_[slot].marks.empty()) return 0;
    return clients_[slot].marks.back().end;
  }
  // Drops every peer answer still waiting (the shard is stopping).
  void forget_peers() {
    for (std::deque<Mark>& marks : peers_) marks.clear();
  }

  // Everything that waited for a batch <= `durable`:
  //   sink.release_client(slot, generation, count) -> false when the client
  //     is gone (its marks are dropped); `count` answers (its units) go;
  //   sink.release_peer(origin, count): `count` answers to `origin` go.
  // When `failed` (the log failed: the batches after `durable` may never
  // commit), everything else goes too, in stream order, as
  //   sink.fail_client(slot, generation, count) -> false when gone, and
  //   sink.fail_peer(origin, count):
  // those answers reflect changes that are not durable; the sink answers
  // them UNAVAILABLE, never as they were.
  template <class Sink>
  void release(std::uint64_t durable, bool failed, Sink& sink) {
    std::size_t kept = 0;
    for (const std::uint32_t slot : waiting_) {
      Client& client = clients_[slot];
      if (failed) {
        fail_client(slot, client, durable, sink);
      } else if (const std::size_t released = take_released(client.marks, durable);
                 released != 0 && !sink.release_client(slot, client.generation, released)) {
        client.marks.clear();
      }
      client.listed = !client.marks.empty();
      if (client.listed) waiting_[kept++] = slot;
    }
    waiting_.resize(kept);
    for (std::uint32_t origin = 0; origin < peers_.size(); ++origin) {
      std::deque<Mark>& marks = peers_[origin];
      std::size_t count = 0;
      for (; !marks.empty() && marks.front().batch <= durable; marks.pop_front()) {
        count += marks.front().end;
      }
      if (count != 0) sink.release_peer(origin, static_cast<std::uint32_t>(count));
      if (failed) fail_peer(origin, durable, sink);
    }
  }

 private:
  struct Mark {
    std::uint64_t batch = 0;
    std::size_t end = 0;  // clients: a position in the stream; peers: a count
  };
  // A client answered once per batch has one mark, kept inline (no
  // allocation); more, under pipelined load, spill to the heap.
  struct Client {
    std::uint32_t generation = 0;
    bool listed = false;  // in waiting_
    absl::InlinedVector<Mark, 1> marks;
  };

  // Pops the marks of `marks` that are durable; returns the position up to
  // which answers go, and rebases the marks left on it.
  static std::size_t take_released(absl::InlinedVector<Mark, 1>& marks, std::uint64_t durable) {
    std::size_t released = 0, count = 0;
    for (; count < marks.size() && marks[count].batch <= durable; ++count) {
      released = marks[count].end;
    }
    if (count == 0) return 0;
    marks.erase(marks.begin(), marks.begin() + static_cast<std::ptrdiff_t>(count));
    for (Mark& mark : marks) mark.end -= released;
    return released;
  }

  // Every mark of `client` goes, oldest first: runs of durable ones
  // released, runs of the others failed.
  template <class Sink>
  static void fail_client(std::uint32_t slot, Client& client, std::uint64_t durable, Sink& sink) {
    std::size_t done = 0;  // stream position handed to the sink so far
    for (std::size_t i = 0; i < client.marks.size();) {
      const bool durable_run = client.marks[i].batch <= durable;
      std::size_t end = client.marks[i].end;
      for (++i; i < client.marks.size() && (client.marks[i].batch <= durable) == durable_run; ++i) {
        end = client.marks[i].end;
      }
      const bool live = durable_run ? sink.release_client(slot, client.generation, end - done)
                                    : sink.fail_client(slot, client.generation, end - done);
      if (!live) break;
      done = end;
    }
    client.marks.clear();
  }
  // What is left of `origin`'s marks (none durable) is failed.
  template <class Sink>
  void fail_peer(std::uint32_t origin, std::uint64_t durable, Sink& sink) {
    std::deque<Mark>& marks = peers_[origin];
    std::size_t count = 0;
    for (; !marks.empty(); marks.pop_front()) {
      if (marks.front().batch <= durable) {  // a refusal after the failed ones: in order
        if (count != 0) sink.fail_peer(origin, static_cast<std::uint32_t>(count));
        sink.release_peer(origin, static_cast<std::uint32_t>(marks.front().end));
        count = 0;
        continue;
      }
      count += marks.front().end;
    }
    if (count != 0) sink.fail_peer(origin, static_cast<std::uint32_t>(count));
  }

  std::vector<Client> clients_;          // by slot
  std::vector<std::uint32_t> waiting_;   // slots with marks, in the order they first waited
  std::vector<std::deque<Mark>> peers_;  // by origin shard, oldest first
};

}  // namespace admit::server
