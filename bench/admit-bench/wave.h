// A "wave": one booking per listed request, every one submitted first, then
// all flushed back to back (the barrier), then drained. Used by the
// contention scenarios (flash-sale, last-seat, rsvp, holds).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/admit-bench/fleet.h"
#include "bench/admit-bench/histogram.h"
#include "bench/admit-bench/report.h"
#include "bench/admit-bench/verdict.h"

namespace admit::bench {

struct WaveRequest {
  std::size_t client = 0;  // index into the fleet
  std::string user;
  std::uint32_t seats = 1;
  bool hold = false;
};

struct Answer {
  bool done = false;
  ClientError error = ClientError::none;
  Outcome outcome = Outcome::invalid;
  std::string ref;
  std::uint32_t seats = 0;
  std::uint32_t position = 0;
};

// Sends `requests` for `event` and fills `answers` (same indexes); latencies
// go to `latency`, measured from each client's flush. Throws when the wave
// does not finish before `deadline`.
std::vector<Answer> run_wave(Fleet& fleet, const std::string& event,
                             const std::vector<WaveRequest>& requests, LatencyHistogram* latency,
                             Clock::time_point deadline);

// Counts one answer into the summary (outcome or client error) and the
// client's view (live bookings, waitlist positions, ALREADY_BOOKED refs), and
// records a success.
void account_answer(const std::string& event, const WaveRequest& request, const Answer& answer,
                    RunSummary* summary, ClientView* view, SuccessRecorder* recorder);

// Runs check_invariants for one event and fills seats_booked; `view`'s
// expected outcomes must be set. Appends to summary->invariants.
void judge(Client& client, const std::string& event, const ClientView& view, RunSummary* summary);

// Adds a scenario-specific invariant.
void expect(RunSummary* summary, std::string name, bool pass, std::string detail);

// The sync client for setup and verification, on the same server.
ClientOptions verify_options(const CommonOptions& common);

}  // namespace admit::bench
