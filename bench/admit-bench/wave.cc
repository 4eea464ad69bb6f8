#include "bench/admit-bench/wave.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <stdexcept>

namespace admit::bench {

namespace {

// Bookings a scenario event may hold for the verdict to list them all.
constexpr std::size_t contention_bookings_max = 1'000'000;

}  // namespace

std::vector<Answer> run_wave(Fleet& fleet, const std::string& event,
                             const std::vector<WaveRequest>& requests, LatencyHistogram* latency,
                             Clock::time_point deadline) {
  std::vector<Answer> answers(requests.size());
  std::vector<std::uint64_t> flushed_ns(fleet.size(), 0);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const WaveRequest& request = requests[i];
    assert(request.client < fleet.size());
    BookRequest book;
    book.event = event;
    book.user = request.user;
    book.seats = request.seats;
    book.hold = request.hold;
    Answer* answer = &answers[i];
    const std::uint64_t* flushed = &flushed_ns[request.client];
    Status submitted =
        fleet[request.client].submit_book(book, [answer, flushed, latency](const ReplyView& reply) {
          latency->record(now_ns() - *flushed);
          answer->done = true;
          answer->error = reply.error();
          if (reply.error() != ClientError::none) return;
          answer->outcome = reply.outcome();
          const BookReplyView data = reply.book_view();
          answer->ref = data.ref;
          answer->seats = data.seats;
          answer->position = data.position;
        });
    if (submitted.error() != ClientError::none) {
      answers[i] = {true, submitted.error(), Outcome::invalid, {}, 0, 0};
    }
  }
  // The barrier: everything is encoded; now every connection writes at once.
  for (std::size_t c = 0; c < fleet.size(); ++c) {
    flushed_ns[c] = now_ns();
    fleet[c].flush();
  }
  Progress progress("wave");
  const std::size_t missing =
      fleet.drain(deadline, [&] { progress.update(requests.size() - fleet.in_flight(), 0); });
  if (missing > 0) {
    throw std::runtime_error(fmt::format("{} of {} answers still missing at the phase timeout",
                                         missing, requests.size()));
  }
  assert(std::all_of(answers.begin(), answers.end(), [](const Answer& a) { return a.done; }));
  return answers;
}

void account_answer(const std::string& event, const WaveRequest& request, const Answer& answer,
                    RunSummary* summary, ClientView* view, SuccessRecorder* recorder) {
  ++summary->attempts;
  if (answer.error != ClientError::none) {
    ++summary->client_errors[static_cast<int>(answer.error)];
    ++view->transport_errors;
    return;
  }
  ++summary->outcomes[static_cast<int>(answer.outcome)];
  ++view->outcomes[static_cast<int>(answer.outcome)];
  switch (answer.outcome) {
    case Outcome::booked:
    case Outcome::held:
      view->live.push_back({answer.ref, request.user, answer.seats});
      view->acknowledged.push_back({answer.ref, request.user, answer.seats});
      recorder->record(event, answer.ref, request.user, answer.seats, answer.outcome);
      break;
    case Outcome::waitlisted:
      view->waitlisted.push_back({request.user, answer.position});
      break;
    case Outcome::already_booked:
      view->already_booked.push_back({request.user, answer.ref});
      break;
    default:
      break;
  }
}

void judge(Client& client, const std::string& event, const ClientView& view, RunSummary* summary) {
  ServerView server;
  std::string why;
  if (!fetch_server_view(client, event, contention_bookings_max, &server, &why)) {
    throw std::runtime_error("verify: " + why);
  }
  summary->seats_booked += std::uint64_t{server.event.held} + server.event.confirmed;
  for (auto& invariant : check_invariants(view, server)) {
    summary->invariants.push_back(std::move(invariant));
  }
}

void expect(RunSummary* summary, std::string name, bool pass, std::string detail) {
  summary->invariants.push_back({std::move(name), pass, pass ? std::string{} : std::move(detail)});
}

ClientOptions verify_options(const CommonOptions& common) {
  ClientOptions options = common.client;
  options.auto_request_ids = true;
  return options;
}

}  // namespace admit::bench
