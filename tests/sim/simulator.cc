#include "tests/sim/simulator.h"

#include <malloc.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <vector>

#include "protocol/booking_ref.h"
#include "protocol/framing.h"
#include "server/shard_core_impl.h"
#include "tests/sim/sim_log.h"

namespace admit::sim {
namespace {

using server::ShardCommand;
using server::ShardResult;
using Core = server::ShardCore<SimLog>;

constexpr std::uint32_t shards_most = 4;
constexpr std::uint32_t events_count = 3;
constexpr std::uint32_t users_count = 12;
constexpr std::uint32_t client_outstanding_max = 6;
constexpr std::uint32_t sealed_batches_max = 8;
constexpr std::uint32_t ring_slots = server::ring_slots_min;
constexpr std::uint32_t settle_rounds_max = 200;
constexpr std::int64_t start_ms = 1'700'000'000'000;

// The wire table's name ("CreateEvent"), as the trace shows it.
const char* trace_name(Op op) { return wire::EnumNameOp(op_info(op).wire); }

// One answer, from the request that asks for it to its release.
struct Answer {
  std::uint32_t client = 0;
  ShardCommand command;
  std::uint32_t owner = 0;
  std::uint64_t lsn = 0;  // records of the owner's log the answer may reflect
  bool served = false;    // the owner applied it (or the edge refused it): lsn is set
  bool acknowledged = false;
  Outcome outcome = Outcome::invalid;
  BookingRef ref;
  // A BookBatch: its items as the Books they are, and each one's answer.
  std::vector<ShardCommand> books;
  std::vector<Outcome> book_outcomes;
  std::vector<BookingRef> book_refs;
};

struct Client {
  std::uint32_t shard = 0, slot = 0, generation = 0;
  bool reflects_turn = false;
  std::deque<std::uint64_t> stream;   // answers given, not yet released
  std::uint32_t outstanding = 0;      // forwarded, not yet answered
  std::vector<ShardCommand> retries;  // lost to a crash, sent again with their request id
};

// A BookBatch's record of `books` (one event), as a decoder would make it.
server::BookBatchRecord* batch_record_of(const std::vector<ShardCommand>& books) {
  std::vector<wire::BookItem> items;
  std::string texts;
  for (const ShardCommand& book : books) {
    items.emplace_back(book.seats, static_cast<std::uint8_t>(book.user.size),
                       static_cast<std::uint8_t>(book.request_id.size), book.hold,
                       to_wire(book.waitlist));
    texts.append(book.user.view()).append(book.request_id.view());
  }
  return server::BookBatchRecord::copy_of(
      items, {reinterpret_cast<const std::uint8_t*>(texts.data()), texts.size()});
}

// What an acknowledged Book with a request id was answered, for retries.
struct Decision {
  Outcome outcome;
  BookingRef ref;
};

class World {
 public:
  explicit World(const RunOptions& options);
  ~World();
  RunReport run();

  // DurabilityLedger's sink, for shard `releasing_`.
  bool release_client(std::uint32_t slot, std::uint32_t generation, std::size_t count);
  bool fail_client(std::uint32_t slot, std::uint32_t generation, std::size_t count,
                   std::string_view message);

 private:
  int pick(int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng_); }
  std::uint32_t pick_shard() {
    return static_cast<std::uint32_t>(pick(0, static_cast<int>(shards_) - 1));
  }
  std::ostream* trace() { return options_.trace; }
  void fail(const std::string& what);

  void start_process();
  void crash();
  void check_recovered(std::uint32_t shard);
  void step();
  void client_sends(Client& client, std::uint32_t index);
  ShardCommand next_command(std::uint32_t client);
  std::vector<ShardCommand> next_batch(std::uint32_t client, const ShardCommand& first);
  void record(Answer& answer, const ShardResult& result);
  void end_turn(std::uint32_t shard);
  void complete_batch(std::uint32_t shard);
  void acknowledge(std::uint64_t id);
  void acknowledge_book(const ShardCommand& book, Outcome outcome, const BookingRef& ref);
  bool settle();

  RunOptions options_;
  RunReport report_;
  std::mt19937_64 rng_;
  std::uint32_t shards_;
  server::ServerOptions server_options_;
  std::int64_t now_ms_ = start_ms;
  std::uint64_t step_ = 0;

  std::vector<std::unique_ptr<SimLog>> logs_;
  std::unique_ptr<server::SharedState> shared_;
  std::vector<std::unique_ptr<Core>> cores_;
  std::vector<std::vector<std::uint64_t>> in_ring_;  // per owner: forwarded, not yet served

  std::vector<Client> clients_;
  std::vector<std::vector<std::uint32_t>> clients_of_;  // per shard, by slot
  std::vector<Answer> answers_;                         // by id
  std::uint32_t releasing_ = 0;
  std::vector<BookingRef> acked_refs_;
  std::map<std::string, Decision> acked_decisions_;  // by request id
  std::uint64_t request_serial_ = 0;
};

World::World(const RunOptions& options)
    : options_(options),
      rng_(options.seed),
      shards_(1 + static_cast<std::uint32_t>(options.seed % shards_most)) {
  server_options_.shards = shards_;
  server_options_.ring_slots = ring_slots;
  report_.shards = shards_;
  for (std::uint32_t shard = 0; shard < shards_; ++shard) {
    logs_.push_back(std::make_unique<SimLog>(
        sealed_batches_max, server::shard_core_detail::machine_options(server_options_, shard)));
  }
  in_ring_.resize(shards_);
  clients_of_.resize(shards_);
  const int clients = pick(2, 8);
  for (int i = 0; i < clients; ++i) {
    Client client;
    client.shard = pick_shard();
    client.slot = static_cast<std::uint32_t>(clients_of_[client.shard].size());
    clients_of_[client.shard].push_back(static_cast<std::uint32_t>(clients_.size()));
    clients_.push_back(client);
  }
  start_process();
}

World::~World() {
  for (auto& core : cores_) core->close();
}

void World::fail(const std::string& what) {
  if (!report_.ok) return;
  report_.ok = false;
  report_.failure = "step " + std::to_string(step_) + ": " + what;
  if (trace()) *trace() << "FAILED: " << report_.failure << "\n";
}

// A fresh process: shared state and cores, each shard's machine replayed
// from its log, then checked.
void World::start_process() {
  for (auto& core : cores_) core->close();
  cores_.clear();
  shared_ = std::make_unique<server::SharedState>(server_options_);
  for (std::uint32_t shard = 0; shard < shards_; ++shard) {
    cores_.push_back(std::make_unique<Core>(*shared_, shard));
    Core& core = *cores_.back();
    std::string why;
    if (!logs_[shard]->replay(core.machine_for_replay(), &why)) {
      fail("shard " + std::to_string(shard) + ": checkpoint does not restore: " + why);
    }
    core.replayed();
    core.attach_log(logs_[shard].get());
    in_ring_[shard].clear();
    check_recovered(shard);
  }
}

void World::check_recovered(std::uint32_t shard) {
  const storage::StateMachine& machine = cores_[shard]->machine();
  machine.check_invariants();  // aborts naming the broken invariant
  storage::StateMachine history(server::shard_core_detail::machine_options(server_options_, shard));
  logs_[shard]->replay_all(history);
  // The snapshot too: byte for byte what the machine holds, not only what
  // its dump shows.
  if (history.dump() != machine.dump() || history.snapshot() != machine.snapshot()) {
    fail("shard " + std::to_string(shard) +
         ": recovered state differs from its durable history replayed from scratch");
  }
  for (const BookingRef& ref : acked_refs_) {
    if (ref.shard() != shard) continue;
    if (machine.get_booking(ref.view()).outcome != Outcome::ok) {
      fail("shard " + std::to_string(shard) + ": acknowledged booking " + std::string(ref.view()) +
           " is gone after recovery");
    }
  }
}

void World::crash() {
  ++report_.crashes;
  if (trace()) *trace() << "step " << step_ << ": crash; every shard recovers from its log\n";
  for (auto& log : logs_) log->crash();
  for (Client& client : clients_) {
    ++client.generation;
    client.reflects_turn = false;
    client.outstanding = 0;
    client.stream.clear();
  }
  for (const Answer& answer : answers_) {
    if (answer.acknowledged) continue;
    if (answer.command.request_id.size != 0)
      clients_[answer.client].retries.push_back(answer.command);
    for (const ShardCommand& book : answer.books) {  // a batch's items go again alone
      if (book.request_id.size != 0) clients_[answer.client].retries.push_back(book);
    }
  }
  answers_.clear();  // nothing in flight survives; acknowledged facts are kept apart
  start_process();
}

// Most of a run: clients pipelining requests and shards ending turns, with the
// disk completing batches in between; now and then time jumps (holds expire),
// a log fails or is repaired, a checkpoint is asked for, or the process crashes.
void World::step() {
  const int roll = pick(0, 999);
  if (roll < 420) {
    const auto index = static_cast<std::uint32_t>(pick(0, static_cast<int>(clients_.size()) - 1));
    return client_sends(clients_[index], index);
  }
  if (roll < 680) return end_turn(pick_shard());
  if (roll < 900) return complete_batch(pick_shard());
  const std::uint32_t shard = pick_shard();
  if (roll < 950) {
    now_ms_ += pick(1, 600);
    // A small bound, so that expiry spread over several calls is exercised.
    const auto steps_max = static_cast<std::uint32_t>(pick(1, 8));
    if (cores_[shard]->expire(now_ms_, steps_max) == Core::ExpireStep::refused && trace()) {
      *trace() << "step " << step_ << ": shard " << shard << ": expire refused by the log\n";
    }
    return;
  }
  if (roll < 960) {
    logs_[shard]->fail("simulated disk error");
    if (trace()) *trace() << "step " << step_ << ": shard " << shard << ": log fails\n";
    return;
  }
  if (roll < 985) {
    if (logs_[shard]->failed() && trace()) {
      *trace() << "step " << step_ << ": shard " << shard << ": log repaired\n";
    }
    return logs_[shard]->repair();
  }
  if (roll < 995) return logs_[shard]->want_checkpoint();
  crash();
}

ShardCommand World::next_command(std::uint32_t client) {
  ShardCommand command;
  const std::string event = "event-" + std::to_string(pick(0, events_count - 1));
  const std::string user = "user-" + std::to_string(pick(0, users_count - 1));
  command.event.assign(event);
  command.user.assign(user);
  const std::string request_id =
      "c" + std::to_string(client) + "-" + std::to_string(++request_serial_);
  if (pick(0, 1) == 0) command.request_id.assign(request_id);
  const int roll = pick(0, 99);
  if (roll < 8) {
    command.op = Op::create_event;
    command.config.capacity = static_cast<std::uint32_t>(pick(1, 12));
    command.config.per_user_max = static_cast<std::uint32_t>(pick(0, 3));
    command.config.hold_ttl_ms = pick(0, 1) == 0 ? 0 : static_cast<std::uint32_t>(pick(100, 2000));
    command.config.waitlist = pick(0, 1) == 1;
    command.request_id.size = 0;
  } else if (roll < 14) {
    command.op = Op::update_event;
    command.patch.capacity = static_cast<std::uint32_t>(pick(0, 12));
    command.request_id.size = 0;
  } else if (roll < 60 || acked_refs_.empty()) {
    command.op = Op::book;
    command.seats = static_cast<std::uint32_t>(pick(1, 3));
    command.hold = pick(0, 1) == 1;
    command.waitlist = static_cast<WaitlistChoice>(pick(0, 2));
    if (roll >= 50) command.op = Op::book_batch;  // client_sends() adds the items
  } else if (roll < 85) {
    const BookingRef& ref = acked_refs_[pick(0, static_cast<int>(acked_refs_.size()) - 1)];
    command.ref.assign(ref.view());
    command.op = roll < 70 ? Op::confirm : roll < 80 ? Op::cancel : Op::get_booking;
    if (command.op == Op::get_booking) command.request_id.size = 0;
  } else if (roll < 92) {
    command.op = Op::leave_waitlist;
  } else {
    command.op = Op::waitlist_position;
    command.request_id.size = 0;
  }
  return command;
}

// Up to 6 Books of `first`'s event, `first` among them, some with request ids.
std::vector<ShardCommand> World::next_batch(std::uint32_t client, const ShardCommand& first) {
  std::vector<ShardCommand> books;
  const int count = pick(1, 6);
  for (int i = 0; i < count; ++i) {
    ShardCommand book = first;
    book.op = Op::book;
    book.batch = nullptr;
    if (i > 0) {
      book.user.assign("user-" + std::to_string(pick(0, users_count - 1)));
      book.seats = static_cast<std::uint32_t>(pick(1, 3));
      book.hold = pick(0, 1) == 1;
      book.request_id.size = 0;
      if (pick(0, 1) == 0) {
        book.request_id.assign("c" + std::to_string(client) + "-" +
                               std::to_string(++request_serial_));
      }
    }
    books.push_back(book);
  }
  return books;
}

void World::record(Answer& answer, const ShardResult& result) {
  answer.outcome = result.outcome;
  if (result.kind == server::ResultKind::book) answer.ref = result.book.ref;
  if (answer.command.op != Op::book_batch) return;
  // A batch refused whole answers each item so.
  answer.book_outcomes.assign(answer.books.size(), result.outcome);
  answer.book_refs.assign(answer.books.size(), BookingRef{});
  if (result.kind != server::ResultKind::book_batch) return;
  if (result.batch->results.size() != answer.books.size()) fail("a batch lost an item's answer");
  for (std::size_t i = 0; i < answer.books.size() && i < result.batch->results.size(); ++i) {
    const wire::BookItemResult& item = result.batch->results[i];
    answer.book_outcomes[i] = from_wire(item.outcome());
    if (item.ref() != 0) {
      const auto ref = BookingRef::of_bits(item.ref());
      if (!ref) fail("a batch item's ref bits name no ref");
      answer.book_refs[i] = ref.value_or(BookingRef{});
    }
  }
}

void World::client_sends(Client& client, std::uint32_t index) {
  if (client.outstanding + client.stream.size() >= client_outstanding_max) return;
  ++report_.requests;
  Answer answer;
  answer.client = index;
  if (client.retries.empty()) {
    answer.command = next_command(index);
  } else {
    answer.command = client.retries.back();
    client.retries.pop_back();
  }
  if (answer.command.op == Op::book_batch) {
    answer.books = next_batch(index, answer.command);
    answer.command.request_id.size = 0;  // the items carry them
    answer.command.user.size = 0;
    answer.command.batch = batch_record_of(answer.books);
  }
  answer.owner = *server::owner_of(answer.command, shards_);
  const std::uint64_t id = answers_.size();
  answers_.push_back(answer);
  Answer& sent = answers_.back();
  Core& core = *cores_[client.shard];
  if (sent.owner == client.shard) {
    ShardResult result;
    core.apply(sent.command, now_ms_, &result);
    sent.lsn = logs_[client.shard]->appended();
    sent.served = true;
    record(sent, result);
    result.free_attached();  // a batch's record: the reactor's own, done with
    client.stream.push_back(id);
    client.reflects_turn = true;
  } else if (core.forward(sent.owner, index, id, sent.command)) {
    in_ring_[sent.owner].push_back(id);
    ++client.outstanding;
  } else {  // the ring is full: the edge refuses, reflecting nothing
    delete sent.command.batch;
    sent.owner = client.shard;
    sent.served = true;
    sent.outcome = Outcome::overloaded;
    client.stream.push_back(id);
  }
  if (trace()) {
    *trace() << "step " << step_ << ": client " << index << " (shard " << client.shard << ") "
             << trace_name(sent.command.op) << " " << sent.command.event.view() << " "
             << sent.command.user.view() << " " << sent.command.ref.view() << " -> shard "
             << sent.owner
             << (sent.served ? " answered " + std::string(outcome_name(sent.outcome)) : "") << "\n";
  }
}

// The reactor's end_turn(), without sockets: the same calls in the same order.
void World::end_turn(std::uint32_t shard) {
  ++report_.turns;
  Core& core = *cores_[shard];
  SimLog& log = *logs_[shard];
  core.serve_peers(now_ms_, [&](std::uint64_t client, std::uint64_t id, ShardResult& result) {
    Answer& answer = answers_[id];
    if (!answer.served) fail("an answer was delivered before its owner served it");
    record(answer, result);
    --clients_[client].outstanding;
    clients_[client].stream.push_back(id);
    if (trace()) {
      *trace() << "step " << step_ << ": client " << client << " gets shard " << answer.owner
               << "'s answer " << outcome_name(answer.outcome) << "\n";
    }
  });
  const std::uint64_t before_seal = log.appended();
  core.end_turn(now_ms_);
  for (const std::uint64_t id : in_ring_[shard]) {
    answers_[id].lsn = before_seal;
    answers_[id].served = true;
  }
  in_ring_[shard].clear();
  for (const std::uint32_t index : clients_of_[shard]) {
    Client& client = clients_[index];
    core.flush_client(client.slot, client.generation, client.stream.size(), client.reflects_turn);
    client.reflects_turn = false;
  }
  releasing_ = shard;
  const std::uint64_t acknowledged = report_.acknowledged;
  core.release(*this);
  if (trace()) {
    *trace() << "step " << step_ << ": shard " << shard << " ends a turn: " << log.appended()
             << " records appended, " << log.durable_lsn() << " durable, "
             << report_.acknowledged - acknowledged << " answers released\n";
  }
}

void World::complete_batch(std::uint32_t shard) {
  SimLog& log = *logs_[shard];
  if (log.waiting() == 0) return;
  // Mostly the oldest, sometimes a later one first: completions reorder.
  const std::size_t index =
      pick(0, 3) == 0 ? static_cast<std::size_t>(pick(0, static_cast<int>(log.waiting()) - 1)) : 0;
  log.complete(index);
  if (trace()) {
    *trace() << "step " << step_ << ": shard " << shard << ": waiting batch " << index
             << " reaches the disk; " << log.durable_lsn() << " records durable\n";
  }
}

bool World::release_client(std::uint32_t slot, std::uint32_t generation, std::size_t count) {
  Client& client = clients_[clients_of_[releasing_][slot]];
  if (client.generation != generation) return false;
  for (std::size_t i = 0; i < count; ++i) {
    acknowledge(client.stream.front());
    client.stream.pop_front();
  }
  return true;
}

// The log failed before the answers' batch was durable: they are answered
// UNAVAILABLE, which acknowledges nothing.
bool World::fail_client(std::uint32_t slot, std::uint32_t generation, std::size_t count,
                        std::string_view) {
  Client& client = clients_[clients_of_[releasing_][slot]];
  if (client.generation != generation) return false;
  for (std::size_t i = 0; i < count; ++i) {
    answers_[client.stream.front()].outcome = Outcome::unavailable;
    acknowledge(client.stream.front());
    client.stream.pop_front();
  }
  return true;
}

void World::acknowledge(std::uint64_t id) {
  Answer& answer = answers_[id];
  answer.acknowledged = true;
  ++report_.acknowledged;
  // Refusals before the machine reflect nothing (a failed log answers them at once).
  if (answer.outcome == Outcome::unavailable || answer.outcome == Outcome::overloaded) return;
  const std::uint64_t durable = logs_[answer.owner]->durable_lsn();
  if (answer.lsn > durable) {
    fail("shard " + std::to_string(releasing_) + " released an answer of shard " +
         std::to_string(answer.owner) + " reflecting record " + std::to_string(answer.lsn) +
         " while only " + std::to_string(durable) + " are durable");
  }
  if (answer.command.op == Op::book) acknowledge_book(answer.command, answer.outcome, answer.ref);
  if (answer.command.op != Op::book_batch) return;
  for (std::size_t i = 0; i < answer.books.size(); ++i) {
    acknowledge_book(answer.books[i], answer.book_outcomes[i], answer.book_refs[i]);
  }
}

// What a client told of a booking knows: it exists (checked after every
// recovery), and its request id answers the same forever.
void World::acknowledge_book(const ShardCommand& book, Outcome outcome, const BookingRef& ref) {
  if (outcome == Outcome::booked || outcome == Outcome::held) acked_refs_.push_back(ref);
  if (book.request_id.size == 0 || outcome == Outcome::overloaded ||
      outcome == Outcome::unavailable) {
    return;
  }
  const std::string request_id(book.request_id.view());
  const auto [known, inserted] = acked_decisions_.try_emplace(request_id, Decision{outcome, ref});
  if (!inserted && (known->second.outcome != outcome || !(known->second.ref == ref))) {
    fail("request id " + request_id + " answered " + std::string(outcome_name(outcome)) +
         " after " + std::string(outcome_name(known->second.outcome)) + " was acknowledged");
  }
}

// After the run: the disk repaired and every batch completed, every request
// must get its answer.
bool World::settle() {
  for (auto& log : logs_) log->repair();
  for (std::uint32_t round = 0; round < settle_rounds_max; ++round) {
    bool quiet = true;
    for (std::uint32_t shard = 0; shard < shards_; ++shard) {
      end_turn(shard);
      while (logs_[shard]->waiting() != 0) logs_[shard]->complete(0);
    }
    for (const Client& client : clients_) {
      quiet = quiet && client.outstanding == 0 && client.stream.empty();
    }
    if (quiet) return true;
  }
  return false;
}

RunReport World::run() {
  for (step_ = 1; step_ <= options_.steps && report_.ok; ++step_) step();
  if (report_.ok && !settle()) fail("answers still unreleased after the disk caught up");
  if (report_.ok) crash();  // and the final state must recover too
  return report_;
}

}  // namespace

RunReport run(const RunOptions& options) {
  // Each simulated process start allocates the event directory's tables
  // (tens of MB, mostly untouched). A fixed mmap threshold keeps glibc from
  // serving them from freed heap memory it would then have to zero.
  static const bool fixed_threshold = mallopt(M_MMAP_THRESHOLD, 1 << 20) == 1;
  (void)fixed_threshold;
  World world(options);
  return world.run();
}

}  // namespace admit::sim
