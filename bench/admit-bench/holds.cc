// holds: every user asks for a hold at once; the first `capacity` get one, the
// rest wait in line. Some holders confirm, the others let their hold expire,
// which promotes the head of the waitlist (FIFO). The bench confirms each
// promotion as it appears, until nothing is held any more.
#include <absl/container/flat_hash_set.h>
#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <stdexcept>
#include <thread>

#include "bench/admit-bench/scenarios.h"
#include "bench/admit-bench/wave.h"

namespace admit::bench {

namespace {

constexpr auto settle_poll_interval = std::chrono::milliseconds(20);
constexpr std::size_t holds_bookings_max = 1'000'000;

struct HoldsState {
  std::string event;
  ClientView view;
  absl::flat_hash_set<std::string> known_refs;
  absl::flat_hash_set<std::string> left_to_expire;  // refs of unconfirmed original holds
  std::uint64_t promoted = 0;
};

void count_answer(const Status& status, RunSummary* summary, ClientView* view) {
  ++summary->attempts;
  if (!status.answered()) {
    ++summary->client_errors[static_cast<int>(status.error())];
    ++view->transport_errors;
    return;
  }
  ++summary->outcomes[static_cast<int>(status.outcome())];
  ++view->outcomes[static_cast<int>(status.outcome())];
}

// Confirms the first confirm_percent of the holders; the rest are left to expire.
void confirm_some(Client& client, const HoldsOptions& options, RunSummary* summary,
                  HoldsState* state) {
  const std::size_t holders = state->view.live.size();
  const std::size_t to_confirm = (holders * options.confirm_percent + 99) / 100;
  std::vector<ClientBooking> still_live;
  for (std::size_t i = 0; i < holders; ++i) {
    const ClientBooking& hold = state->view.live[i];
    if (i >= to_confirm) {
      state->left_to_expire.insert(hold.ref);
      continue;
    }
    auto confirmed = client.confirm(hold.ref);
    count_answer(confirmed.status(), summary, &state->view);
    if (confirmed.outcome() == Outcome::booked) still_live.push_back(hold);
  }
  state->view.live = std::move(still_live);  // the client expects the others to expire
}

// One look at the server: confirms holds the client did not ask for (the
// promotions). True once every left-over hold expired and nothing is held.
bool settle_step(Client& client, RunSummary* summary, HoldsState* state) {
  ServerView server;
  std::string why;
  if (!fetch_server_view(client, state->event, holds_bookings_max, &server, &why)) {
    throw std::runtime_error("holds: " + why);
  }
  std::size_t expired = 0;
  for (const auto& booking : server.bookings) {
    if (state->left_to_expire.contains(booking.ref)) {
      expired += booking.state == BookingState::expired;
      continue;
    }
    if (booking.state != BookingState::held || state->known_refs.contains(booking.ref)) continue;
    state->known_refs.insert(booking.ref);
    auto confirmed = client.confirm(booking.ref);
    count_answer(confirmed.status(), summary, &state->view);
    if (confirmed.outcome() != Outcome::booked) continue;  // expired first: a new promotion follows
    ++state->promoted;
    state->view.live.push_back({booking.ref, booking.user, booking.seats});
    state->view.acknowledged.push_back({booking.ref, booking.user, booking.seats});
  }
  return expired == state->left_to_expire.size() && server.event.held == 0;
}

}  // namespace

RunSummary run_holds(const CommonOptions& common, const HoldsOptions& options) {
  assert(options.users > 0 && options.hold_ttl_ms > 0 && options.confirm_percent <= 100);
  RunSummary summary;
  summary.scenario = "holds";
  HoldsState state;
  state.event = unique_event_id(common.event_prefix, "holds", 0);
  summary.events.push_back(state.event);
  SuccessRecorder recorder;
  std::string why;
  if (!recorder.open(common.record_path, &why)) throw std::runtime_error(why);

  Client client(verify_options(common));
  create_event_or_throw(client, state.event, options.capacity, options.hold_ttl_ms, true);
  Fleet fleet;
  Status opened = fleet.open(common.client, options.users, 0, nullptr);
  if (!opened.answered()) throw std::runtime_error("connect: " + opened.to_string());
  std::vector<WaveRequest> requests;
  for (std::uint32_t u = 0; u < options.users; ++u) {
    requests.push_back({u, fmt::format("user-{}", u), 1, true});
  }
  const auto started = Clock::now();
  const auto deadline = started + std::chrono::seconds(common.phase_timeout_s);
  std::vector<Answer> answers = run_wave(fleet, state.event, requests, &summary.latency, deadline);
  for (auto outcome : {Outcome::held, Outcome::waitlisted, Outcome::booked}) {
    state.view.expected[static_cast<int>(outcome)] = true;
  }
  for (std::size_t i = 0; i < requests.size(); ++i) {
    account_answer(state.event, requests[i], answers[i], &summary, &state.view, &recorder);
    if (answers[i].outcome == Outcome::held) state.known_refs.insert(answers[i].ref);
  }
  confirm_some(client, options, &summary, &state);
  const std::size_t left = state.left_to_expire.size();

  const auto settle_deadline = Clock::now() + std::chrono::milliseconds(options.hold_ttl_ms) +
                               std::chrono::seconds(common.phase_timeout_s);
  while (!settle_step(client, &summary, &state)) {
    if (Clock::now() >= settle_deadline) {
      throw std::runtime_error("holds: holds did not settle before the phase timeout");
    }
    std::this_thread::sleep_for(settle_poll_interval);
  }
  summary.elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
  state.view.still_waiting =
      static_cast<std::int64_t>(state.view.waitlisted.size() - state.promoted);
  judge(client, state.event, state.view, &summary);

  const std::uint64_t promoted_expected =
      std::min<std::uint64_t>(left, state.view.waitlisted.size());
  expect(&summary, "expired_holds_promote", state.promoted == promoted_expected,
         fmt::format("{} promotions confirmed, expected min({} expired, {} waiting)",
                     state.promoted, left, state.view.waitlisted.size()));
  summary.notes.push_back(fmt::format(
      "{} held, {} confirmed, {} left to expire, {} waitlisted, {} promoted (hold ttl {} ms)",
      summary.outcomes[static_cast<int>(Outcome::held)], state.view.live.size() - state.promoted,
      left, state.view.waitlisted.size(), state.promoted, options.hold_ttl_ms));
  return summary;
}

}  // namespace admit::bench
