#include "server/metrics_page.h"

#include <algorithm>
#include <atomic>
#include <span>
#include <vector>

#include "server/http/metrics_text.h"

namespace admit::server {
namespace {

constexpr auto relaxed = std::memory_order_relaxed;
using Type = http::MetricsText::Type;

// One page's writer: the families in the order a reader expects them.
class MetricsPage {
 public:
  MetricsPage(const SharedState& shared, std::string* out)
      : shared_(shared),
        text_(out),
        stats_(shared.stats.get(), shared.options.shards),
        metrics_(shared.metrics.get(), shared.options.shards) {}

  void requests();
  void latencies();
  void turns();
  void wal();
  void shard_counters();
  void process();
  void events();

 private:
  // One sample per shard of `value_of(counters of that shard)`.
  template <class Counters, class ValueOf>
  void per_shard(std::span<const Counters> shards, std::string_view name, Type type,
                 std::string_view help, ValueOf value_of) {
    text_.family(name, type, help);
    for (std::uint32_t shard = 0; shard < shards.size(); ++shard) {
      text_.sample({{"shard", std::to_string(shard)}}, std::uint64_t{value_of(shards[shard])});
    }
  }
  void histogram(const storage::wal::LatencyHistogram& h,
                 std::initializer_list<http::Label> labels) {
    const auto counts = h.counts();
    text_.histogram(labels, storage::wal::LatencyHistogram::bounds_s, counts, h.sum_s());
  }

  const SharedState& shared_;
  http::MetricsText text_;
  std::span<const ShardStatsCounters> stats_;
  std::span<const ShardMetrics> metrics_;
};

void MetricsPage::requests() {
  text_.family("admit_requests_total", Type::counter,
               "Requests answered, by protocol, operation and outcome (a BookBatch counts "
               "under book_batch, and each of its items under book).");
  for (std::size_t p = 0; p < protocol_count; ++p) {
    const std::string_view protocol = protocol_name(static_cast<Protocol>(p));
    for (std::size_t o = 0; o < metric_op_count; ++o) {
      const std::string_view op = metric_op_name(static_cast<MetricOp>(o));
      for (std::size_t outcome = 0; outcome < outcome_count; ++outcome) {
        std::uint64_t total = 0;
        for (const ShardMetrics& shard : metrics_) {
          total += shard.requests[p][o][outcome].load(relaxed);
        }
        if (total == 0) continue;  // a series appears with its first request
        text_.sample({{"protocol", protocol},
                      {"op", op},
                      {"outcome", outcome_name(static_cast<Outcome>(outcome))}},
                     total);
      }
    }
  }
}

void MetricsPage::latencies() {
  text_.family("admit_request_duration_seconds", Type::histogram,
               "From the turn a request arrived to the release of its answer, the wait for "
               "the WAL included (each answer counts its flush's oldest request).");
  for (std::uint32_t shard = 0; shard < metrics_.size(); ++shard) {
    const std::string label = std::to_string(shard);
    for (std::size_t p = 0; p < protocol_count; ++p) {
      histogram(metrics_[shard].latency[p],
                {{"shard", label}, {"protocol", protocol_name(static_cast<Protocol>(p))}});
    }
  }
}

void MetricsPage::turns() {
  text_.family("admit_reactor_turn_seconds", Type::histogram,
               "Wall time of each reactor turn: its completions handled, its batch sealed, "
               "its answers released (requests wait for the turn they arrive in).");
  for (std::uint32_t shard = 0; shard < metrics_.size(); ++shard) {
    histogram(metrics_[shard].turn, {{"shard", std::to_string(shard)}});
  }
  text_.family("admit_reactor_turn_max_seconds", Type::gauge,
               "The longest reactor turn since admitd started.");
  for (std::uint32_t shard = 0; shard < metrics_.size(); ++shard) {
    const auto max_ns = static_cast<double>(metrics_[shard].turn_max_ns.load(relaxed));
    text_.sample({{"shard", std::to_string(shard)}}, max_ns / 1e9);
  }
}

void MetricsPage::wal() {
  if (shared_.options.durability == Durability::off) return;
  per_shard(metrics_, "admit_wal_records_total", Type::counter,
            "WAL records committed (records per commit: this rate over the commits').",
            [](const ShardMetrics& m) { return m.wal_records.load(relaxed); });
  per_shard(metrics_, "admit_wal_commits_total", Type::counter, "WAL write transactions committed.",
            [](const ShardMetrics& m) { return m.wal_commits.load(relaxed); });
  per_shard(metrics_, "admit_wal_syncs_total", Type::counter, "WAL flushes to disk.",
            [](const ShardMetrics& m) { return m.wal_syncs.load(relaxed); });
  text_.family("admit_wal_sync_seconds", Type::histogram,
               "Duration of each durable WAL commit (strict: commit and fsync; batched: "
               "each flush).");
  for (std::uint32_t shard = 0; shard < metrics_.size(); ++shard) {
    histogram(metrics_[shard].wal_sync, {{"shard", std::to_string(shard)}});
  }
}

void MetricsPage::shard_counters() {
  per_shard(stats_, "admit_forwarded_total", Type::counter,
            "Requests forwarded to the shard owning their event.",
            [](const ShardStatsCounters& c) { return c.forwarded.load(relaxed); });
  per_shard(stats_, "admit_overloaded_total", Type::counter,
            "Requests and connections refused OVERLOADED.",
            [](const ShardStatsCounters& c) { return c.overloaded.load(relaxed); });
  text_.family("admit_connections", Type::gauge, "Open connections by protocol.");
  for (std::uint32_t shard = 0; shard < stats_.size(); ++shard) {
    const std::string label = std::to_string(shard);
    const std::uint64_t all = stats_[shard].connections.load(relaxed);
    const std::uint64_t http = stats_[shard].http_connections.load(relaxed);
    text_.sample({{"shard", label}, {"protocol", "binary"}}, all - std::min(all, http));
    text_.sample({{"shard", label}, {"protocol", "http"}}, http);
  }
  per_shard(stats_, "admit_events", Type::gauge, "Events owned.",
            [](const ShardStatsCounters& c) { return c.events.load(relaxed); });
  per_shard(stats_, "admit_live_bookings", Type::gauge, "Held and confirmed bookings.",
            [](const ShardStatsCounters& c) { return c.live_bookings.load(relaxed); });
}

void MetricsPage::process() {
  text_.family("admit_resident_memory_bytes", Type::gauge, "Resident memory of admitd.");
  text_.sample({}, resident_bytes());
  const ProcessCpu cpu = process_cpu();
  text_.family("admit_cpu_seconds_total", Type::counter,
               "CPU time of admitd, all threads, by mode (user space or kernel).");
  text_.sample({{"mode", "user"}}, static_cast<double>(cpu.user_us) / 1e6);
  text_.sample({{"mode", "system"}}, static_cast<double>(cpu.system_us) / 1e6);
}

void MetricsPage::events() {
  bool more = false;
  const std::uint32_t count = shared_.options.metrics_events;
  const std::vector<EventSnapshot> events =
      count == 0 ? std::vector<EventSnapshot>{} : shared_.directory.list({}, count, &more);
  const auto per_event = [&](std::string_view name, std::string_view help, auto value_of) {
    text_.family(name, Type::gauge, help);
    for (const EventSnapshot& event : events) {
      text_.sample({{"event", event.id.view()}}, std::uint64_t{value_of(event)});
    }
  };
  per_event("admit_event_available_seats", "Seats available (first --metrics-events events).",
            [](const EventSnapshot& e) { return e.available; });
  per_event("admit_event_held_seats", "Seats held.", [](const EventSnapshot& e) { return e.held; });
  per_event("admit_event_confirmed_seats", "Seats confirmed.",
            [](const EventSnapshot& e) { return e.confirmed; });
  per_event("admit_event_waitlisted", "Users in the waitlist.",
            [](const EventSnapshot& e) { return e.waitlisted; });
}

}  // namespace

void render_metrics(const SharedState& shared, std::string* out) {
  MetricsPage page(shared, out);
  page.requests();
  page.latencies();
  page.turns();
  page.wal();
  page.shard_counters();
  page.process();
  page.events();
}

}  // namespace admit::server
