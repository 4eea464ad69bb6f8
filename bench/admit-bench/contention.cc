// flash-sale, last-seat and rsvp: one connection per user, all opened first,
// then every user's booking leaves at once (see wave.h).
#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <stdexcept>

#include "bench/admit-bench/scenarios.h"
#include "bench/admit-bench/wave.h"

namespace admit::bench {

namespace {

// Connections opened a second while setting up a wave (0: as fast as it goes).
constexpr double wave_ramp_per_s = 0;

std::string user_name(std::uint32_t index) { return fmt::format("user-{}", index); }

Clock::time_point phase_deadline(const CommonOptions& common) {
  return Clock::now() + std::chrono::seconds(common.phase_timeout_s);
}

void open_fleet(const CommonOptions& common, std::uint32_t users, Fleet* fleet) {
  Progress progress("connecting");
  Status opened = fleet->open(common.client, users, wave_ramp_per_s, &progress);
  if (!opened.answered()) throw std::runtime_error("connect: " + opened.to_string());
}

struct WaveRun {
  std::vector<WaveRequest> requests;
  std::vector<Answer> answers;
};

// One booking per user (and then `extra` requests, if any), timed.
WaveRun run_one_wave(Fleet& fleet, const CommonOptions& common, const std::string& event,
                     std::vector<WaveRequest> requests, RunSummary* summary) {
  const auto started = Clock::now();
  WaveRun run{std::move(requests), {}};
  run.answers = run_wave(fleet, event, run.requests, &summary->latency, phase_deadline(common));
  summary->elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
  return run;
}

std::vector<WaveRequest> one_per_user(std::uint32_t users, std::uint32_t seats) {
  std::vector<WaveRequest> requests;
  requests.reserve(users);
  for (std::uint32_t u = 0; u < users; ++u) requests.push_back({u, user_name(u), seats, false});
  return requests;
}

void expect_outcomes(ClientView* view, std::initializer_list<Outcome> outcomes) {
  for (Outcome outcome : outcomes) view->expected[static_cast<int>(outcome)] = true;
}

std::uint64_t count_of(const RunSummary& summary, Outcome outcome) {
  return summary.outcomes[static_cast<int>(outcome)];
}

}  // namespace

RunSummary run_flash_sale(const CommonOptions& common, const FlashSaleOptions& options) {
  assert(options.users > 0 && options.seats > 0 && options.seats <= options.capacity);
  RunSummary summary;
  summary.scenario = "flash-sale";
  const std::string event = unique_event_id(common.event_prefix, "flash-sale", 0);
  summary.events.push_back(event);
  SuccessRecorder recorder;
  std::string why;
  if (!recorder.open(common.record_path, &why)) throw std::runtime_error(why);

  Client client(verify_options(common));
  create_event_or_throw(client, event, options.capacity, 0, options.waitlist);
  Fleet fleet;
  open_fleet(common, options.users, &fleet);
  WaveRun run =
      run_one_wave(fleet, common, event, one_per_user(options.users, options.seats), &summary);

  ClientView view;
  expect_outcomes(&view, {Outcome::booked, Outcome::sold_out});
  if (options.waitlist) expect_outcomes(&view, {Outcome::waitlisted});
  for (std::size_t i = 0; i < run.requests.size(); ++i) {
    account_answer(event, run.requests[i], run.answers[i], &summary, &view, &recorder);
  }
  view.still_waiting = static_cast<std::int64_t>(view.waitlisted.size());
  judge(client, event, view, &summary);

  const std::uint64_t winners = std::min(options.users, options.capacity / options.seats);
  const std::uint64_t booked = count_of(summary, Outcome::booked);
  expect(&summary, "sells_out_exactly", booked == winners,
         fmt::format("{} users booked, expected {} ({} seats / {} each)", booked, winners,
                     options.capacity, options.seats));
  summary.notes.push_back(fmt::format("{} users x {} seats on {} seats: {} winners", options.users,
                                      options.seats, options.capacity, booked));
  return summary;
}

RunSummary run_last_seat(const CommonOptions& common, const LastSeatOptions& options) {
  assert(options.users >= 2);
  const std::uint32_t capacity = options.capacity == 0 ? options.users - 1 : options.capacity;
  RunSummary summary;
  summary.scenario = "last-seat";
  const std::string event = unique_event_id(common.event_prefix, "last-seat", 0);
  summary.events.push_back(event);
  SuccessRecorder recorder;
  std::string why;
  if (!recorder.open(common.record_path, &why)) throw std::runtime_error(why);

  Client client(verify_options(common));
  create_event_or_throw(client, event, capacity, 0, true);
  Fleet fleet;
  open_fleet(common, options.users, &fleet);
  WaveRun run = run_one_wave(fleet, common, event, one_per_user(options.users, 1), &summary);

  ClientView view;
  expect_outcomes(&view, {Outcome::booked, Outcome::waitlisted});
  for (std::size_t i = 0; i < run.requests.size(); ++i) {
    account_answer(event, run.requests[i], run.answers[i], &summary, &view, &recorder);
  }
  view.still_waiting = static_cast<std::int64_t>(view.waitlisted.size());
  judge(client, event, view, &summary);

  const std::uint64_t waiting_expected = options.users > capacity ? options.users - capacity : 0;
  const std::uint64_t waiting = count_of(summary, Outcome::waitlisted);
  const std::uint64_t booked = count_of(summary, Outcome::booked);
  expect(&summary, "losers_waitlisted",
         waiting == waiting_expected && booked == std::min(options.users, capacity),
         fmt::format("{} booked and {} waitlisted; expected {} and {}", booked, waiting,
                     std::min(options.users, capacity), waiting_expected));
  for (const auto& waiter : view.waitlisted) {
    summary.notes.push_back(
        fmt::format("waitlisted: {} at position {}", waiter.user, waiter.position));
    if (summary.notes.size() >= 5) break;
  }
  return summary;
}

RunSummary run_rsvp(const CommonOptions& common, const RsvpOptions& options) {
  assert(options.users > 0 && options.repeats <= options.users);
  RunSummary summary;
  summary.scenario = "rsvp";
  const std::string event = unique_event_id(common.event_prefix, "rsvp", 0);
  summary.events.push_back(event);
  SuccessRecorder recorder;
  std::string why;
  if (!recorder.open(common.record_path, &why)) throw std::runtime_error(why);

  Client client(verify_options(common));
  create_event_or_throw(client, event, options.capacity, 0, false);
  Fleet fleet;
  open_fleet(common, options.users, &fleet);
  // Repeaters are spread over the users; each repeat follows its first RSVP
  // on the same connection, so the server sees the first one first.
  std::vector<WaveRequest> requests = one_per_user(options.users, 1);
  std::vector<std::size_t> first_of_repeat;
  for (std::uint32_t r = 0; r < options.repeats; ++r) {
    const std::uint32_t user =
        static_cast<std::uint32_t>(std::uint64_t{r} * options.users / options.repeats);
    first_of_repeat.push_back(user);
    requests.push_back(requests[user]);
  }
  WaveRun run = run_one_wave(fleet, common, event, std::move(requests), &summary);

  ClientView view;
  expect_outcomes(&view, {Outcome::booked, Outcome::already_booked, Outcome::sold_out});
  for (std::size_t i = 0; i < run.requests.size(); ++i) {
    account_answer(event, run.requests[i], run.answers[i], &summary, &view, &recorder);
  }
  view.still_waiting = 0;
  judge(client, event, view, &summary);

  const std::uint64_t attendees = count_of(summary, Outcome::booked);
  const std::uint64_t attendees_expected = std::min(options.users, options.capacity);
  expect(&summary, "attendees_exact", attendees == attendees_expected,
         fmt::format("{} attendees, expected min(users, capacity) = {}", attendees,
                     attendees_expected));
  std::string repeat_problem;
  for (std::size_t r = 0; r < first_of_repeat.size() && repeat_problem.empty(); ++r) {
    const Answer& first = run.answers[first_of_repeat[r]];
    const Answer& repeat = run.answers[options.users + r];
    const bool booked_first = first.error == ClientError::none && first.outcome == Outcome::booked;
    const bool consistent =
        booked_first ? repeat.outcome == Outcome::already_booked && repeat.ref == first.ref
                     : repeat.outcome == Outcome::sold_out;
    if (repeat.error != ClientError::none || !consistent) {
      repeat_problem = fmt::format(
          "{}: first {} {}, repeat {} {}", run.requests[first_of_repeat[r]].user,
          outcome_name(first.outcome), first.ref, outcome_name(repeat.outcome), repeat.ref);
    }
  }
  expect(&summary, "repeats_already_booked", repeat_problem.empty(), repeat_problem);
  summary.notes.push_back(fmt::format("{} users ({} repeating) on {} places: {} attendees",
                                      options.users, options.repeats, options.capacity, attendees));
  return summary;
}

}  // namespace admit::bench
