#include "server/http/metrics_text.h"

#include <charconv>
#include <cmath>

#include "protocol/assertions.h"

namespace admit::server::http {
namespace {

bool is_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// HELP text escapes backslash and newline; label values also the quote.
void escaped(std::string* out, std::string_view text, bool quote) {
  for (const char c : text) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '"' && quote) {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

void append_double(std::string* out, double value) {
  if (std::isinf(value)) {
    out->append(value > 0 ? "+Inf" : "-Inf");
  } else if (std::isnan(value)) {
    out->append("NaN");
  } else {
    // Plain decimals where they stay short ("0.0005", "1500000000"), else the shortest form.
    const double size = std::fabs(value);
    const bool fixed = value == 0 || (size >= 1e-9 && size < 1e18);
    char digits[64];
    const auto end =
        fixed ? std::to_chars(digits, digits + sizeof digits, value, std::chars_format::fixed)
              : std::to_chars(digits, digits + sizeof digits, value);
    out->append(digits, end.ptr);
  }
}

}  // namespace

void MetricsText::family(std::string_view name, Type type, std::string_view help) {
  ADMIT_ASSERT(is_metric_name(name));
  name_.assign(name);
  out_->append("# HELP ").append(name).push_back(' ');
  escaped(out_, help, false);
  out_->append("\n# TYPE ").append(name).push_back(' ');
  out_->append(type == Type::counter ? "counter" : type == Type::gauge ? "gauge" : "histogram");
  out_->push_back('\n');
}

void MetricsText::series(std::string_view suffix, std::initializer_list<Label> labels,
                         std::string_view le) {
  out_->append(name_).append(suffix);
  if (labels.size() == 0 && le.empty()) {
    out_->push_back(' ');
    return;
  }
  out_->push_back('{');
  bool first = true;
  const auto label = [&](std::string_view name, std::string_view value) {
    ADMIT_ASSERT(is_metric_name(name));
    if (!first) out_->push_back(',');
    first = false;
    out_->append(name).append("=\"");
    escaped(out_, value, true);
    out_->push_back('"');
  };
  for (const Label& l : labels) label(l.name, l.value);
  if (!le.empty()) label("le", le);
  out_->append("} ");
}

void MetricsText::number(std::uint64_t value) {
  char digits[24];
  out_->append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
}

void MetricsText::number(double value) { append_double(out_, value); }

void MetricsText::sample(std::initializer_list<Label> labels, std::uint64_t value) {
  series({}, labels);
  number(value);
  out_->push_back('\n');
}

void MetricsText::sample(std::initializer_list<Label> labels, double value) {
  series({}, labels);
  number(value);
  out_->push_back('\n');
}

void MetricsText::histogram(std::initializer_list<Label> labels, std::span<const double> bounds,
                            std::span<const std::uint64_t> counts, double sum) {
  ADMIT_ASSERT(counts.size() == bounds.size() + 1);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    std::string le;
    if (i < bounds.size()) {
      append_double(&le, bounds[i]);
    } else {
      le = "+Inf";
    }
    series("_bucket", labels, le);
    number(cumulative);
    out_->push_back('\n');
  }
  series("_sum", labels);
  number(sum);
  out_->push_back('\n');
  series("_count", labels);
  number(cumulative);
  out_->push_back('\n');
}

}  // namespace admit::server::http
