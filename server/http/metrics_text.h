// The Prometheus text exposition format (version 0.0.4) for GET /metrics:
// families of counters, gauges and histograms, label values escaped. What
// the metrics are is the server's business; this only writes them.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace admit::server::http {

struct Label {
  std::string_view name;   // [a-zA-Z_][a-zA-Z0-9_]*
  std::string_view value;  // any bytes: escaped
};

class MetricsText {
 public:
  enum class Type : std::uint8_t { counter, gauge, histogram };

  explicit MetricsText(std::string* out) : out_(out) {}

  // Starts a family: its # HELP and # TYPE lines. Samples that follow belong
  // to it. Counter names end in _total.
  void family(std::string_view name, Type type, std::string_view help);
  void sample(std::initializer_list<Label> labels, std::uint64_t value);
  void sample(std::initializer_list<Label> labels, double value);
  // A histogram sample: `counts[i]` observations <= bounds[i] and above the
  // bound before (not cumulative); counts has one more entry, for +Inf.
  void histogram(std::initializer_list<Label> labels, std::span<const double> bounds,
                 std::span<const std::uint64_t> counts, double sum);

 private:
  void series(std::string_view suffix, std::initializer_list<Label> labels,
              std::string_view le = {});
  void number(double value);
  void number(std::uint64_t value);

  std::string* out_;
  std::string name_;  // the current family
};

}  // namespace admit::server::http
