// Cross-shard ring round trip (server/spsc_ring.h): a request slot goes to the
// owner shard's thread, the answer comes back on the reverse ring; the same
// path a request takes when it arrives on a shard that does not own its event
// (without the io_uring msg_ring wake, which the server adds).
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "server/spsc_ring.h"

namespace {

using admit::server::SpscRing;

// About the size of a forwarded command: ids, a pointer, a few numbers.
struct Message {
  std::uint64_t id;
  std::uint64_t payload[7];
};

constexpr std::uint32_t ring_slots = 4096;
// Empty polls before a thread yields its core: on a shared 2-core machine two
// pure spinners can sit on one core for a whole scheduler slice.
constexpr std::uint32_t spins_before_yield = 256;

void backoff(std::uint32_t* spins) {
  if (++*spins % spins_before_yield == 0) std::this_thread::yield();
}

// The "owner shard": answers every request until told to stop.
void echo(SpscRing<Message>& requests, SpscRing<Message>& answers, std::atomic<bool>& stop) {
  std::uint32_t spins = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    Message* in = requests.front();
    if (in == nullptr) {
      backoff(&spins);
      continue;
    }
    Message* out;
    while ((out = answers.try_push()) == nullptr) backoff(&spins);
    *out = *in;
    out->payload[0] += 1;
    requests.commit_pop();
    answers.commit_push();
  }
}

// range(0): requests in flight at once (1: pure latency; more: batching).
void BM_RingRoundTrip(benchmark::State& state) {
  const auto in_flight = static_cast<std::uint32_t>(state.range(0));
  SpscRing<Message> requests(ring_slots), answers(ring_slots);
  std::atomic<bool> stop{false};
  std::thread owner([&] { echo(requests, answers, stop); });
  std::uint64_t next_id = 0;
  std::uint32_t spins = 0;
  for (auto _ : state) {
    for (std::uint32_t i = 0; i < in_flight; ++i) {
      Message* slot;
      while ((slot = requests.try_push()) == nullptr) backoff(&spins);
      *slot = Message{next_id++, {}};
      requests.commit_push();
    }
    for (std::uint32_t received = 0; received < in_flight;) {
      Message* answer = answers.front();
      if (answer == nullptr) {
        backoff(&spins);
        continue;
      }
      benchmark::DoNotOptimize(answer->payload[0]);
      answers.commit_pop();
      ++received;
    }
  }
  stop.store(true);
  owner.join();
  state.SetItemsProcessed(state.iterations() * in_flight);
}
BENCHMARK(BM_RingRoundTrip)->Arg(1)->Arg(64)->UseRealTime();

}  // namespace
