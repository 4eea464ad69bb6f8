// MetricsText: exact text for a small family set, and promtool's verdict.
#include "server/http/metrics_text.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace admit::server::http {
namespace {

std::string sample_text() {
  std::string out;
  MetricsText metrics(&out);
  metrics.family("admit_requests_total", MetricsText::Type::counter,
                 "Requests answered, by protocol, operation and outcome.");
  metrics.sample({{"protocol", "http"}, {"op", "book"}, {"outcome", "BOOKED"}}, std::uint64_t{3});
  metrics.sample({{"protocol", "binary"}, {"op", "book"}, {"outcome", "SOLD_OUT"}},
                 std::uint64_t{18446744073709551615ull});
  metrics.family("admit_event_available", MetricsText::Type::gauge,
                 "Seats available.\nPer event, \\ bounded.");
  metrics.sample({{"event", "tour \"vip\"\n\\x"}}, std::uint64_t{7});
  metrics.family("admit_resident_bytes", MetricsText::Type::gauge, "Resident memory.");
  metrics.sample({}, 1.5e9);
  const std::array<double, 3> bounds = {0.0005, 0.001, 0.25};
  const std::array<std::uint64_t, 4> counts = {1, 2, 0, 4};
  metrics.family("admit_request_seconds", MetricsText::Type::histogram, "Arrival to answer sent.");
  metrics.histogram({{"protocol", "http"}}, bounds, counts, 1.25);
  return out;
}

TEST(MetricsText, ExactText) {
  EXPECT_EQ(sample_text(),
            "# HELP admit_requests_total Requests answered, by protocol, operation and outcome.\n"
            "# TYPE admit_requests_total counter\n"
            "admit_requests_total{protocol=\"http\",op=\"book\",outcome=\"BOOKED\"} 3\n"
            "admit_requests_total{protocol=\"binary\",op=\"book\",outcome=\"SOLD_OUT\"} "
            "18446744073709551615\n"
            "# HELP admit_event_available Seats available.\\nPer event, \\\\ bounded.\n"
            "# TYPE admit_event_available gauge\n"
            "admit_event_available{event=\"tour \\\"vip\\\"\\n\\\\x\"} 7\n"
            "# HELP admit_resident_bytes Resident memory.\n"
            "# TYPE admit_resident_bytes gauge\n"
            "admit_resident_bytes 1500000000\n"
            "# HELP admit_request_seconds Arrival to answer sent.\n"
            "# TYPE admit_request_seconds histogram\n"
            "admit_request_seconds_bucket{protocol=\"http\",le=\"0.0005\"} 1\n"
            "admit_request_seconds_bucket{protocol=\"http\",le=\"0.001\"} 3\n"
            "admit_request_seconds_bucket{protocol=\"http\",le=\"0.25\"} 3\n"
            "admit_request_seconds_bucket{protocol=\"http\",le=\"+Inf\"} 7\n"
            "admit_request_seconds_sum{protocol=\"http\"} 1.25\n"
            "admit_request_seconds_count{protocol=\"http\"} 7\n");
}

TEST(MetricsText, PromtoolAcceptsIt) {
  const char* promtool = std::getenv("PROMTOOL");
  ASSERT_NE(promtool, nullptr) << "PROMTOOL must name promtool (meson sets it)";
  const std::string path = ::testing::TempDir() + "admit-metrics.txt";
  {
    std::FILE* file = std::fopen(path.c_str(), "w");
    ASSERT_NE(file, nullptr);
    const std::string text = sample_text();
    std::fwrite(text.data(), 1, text.size(), file);
    std::fclose(file);
  }
  const std::string command = std::string(promtool) + " check metrics < " + path + " 2>&1";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char chunk[256];
  while (std::fgets(chunk, sizeof chunk, pipe) != nullptr) output += chunk;
  const int status = ::pclose(pipe);
  std::remove(path.c_str());
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "") << "promtool's lint findings";
}

}  // namespace
}  // namespace admit::server::http
