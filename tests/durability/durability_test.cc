// Durability through the real admitd: the state after a restart equals the
// acknowledged history (after SIGTERM and after kill -9), request ids answer
// the same across restarts, a full log map answers UNAVAILABLE and loses
// nothing, a corrupt record stops the start naming shard and LSN, a folder of
// another --shards is refused, and durability off writes no files.
#include <gtest/gtest.h>
#include <lmdb.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/durability/durability_support.h"

namespace admit::test {
namespace {

constexpr std::uint32_t hold_ttl_ms = 10 * 60 * 1000;  // nothing expires during a test

std::vector<std::string> make_users(int count) {
  std::vector<std::string> users;
  for (int i = 0; i < count; ++i) users.push_back("user-" + std::to_string(i));
  return users;
}

// Events with every feature the dump shows: holds, a waitlist, a closed sale.
void create_events(Client& client) {
  const EventSpec specs[] = {
      {.id = "history-open", .capacity = 50, .per_user_max = 3},
      {.id = "history-hold", .capacity = 30, .per_user_max = 2, .hold_ttl_ms = hold_ttl_ms},
      {.id = "history-waitlist", .capacity = 5, .waitlist = true},
  };
  for (const EventSpec& spec : specs) ASSERT_TRUE(client.create_event(spec).ok()) << spec.id;
  EventUpdate raise;
  raise.id = "history-open";
  raise.capacity = 60;
  ASSERT_TRUE(client.update_event(raise).ok());
}

// Books, holds, confirms, cancels, waitlists and leaves; every call answered.
void drive_load(Client& client, const std::vector<std::string>& users, const std::string& tag) {
  std::vector<std::string> held;
  for (std::size_t i = 0; i < users.size(); ++i) {
    const std::string& user = users[i];
    const std::string id = tag + "-" + std::to_string(i);
    const Result<BookReply> open = client.book({.event = "history-open",
                                                .user = user,
                                                .seats = 1 + static_cast<std::uint32_t>(i % 3),
                                                .request_id = id + "-open"});
    ASSERT_TRUE(open.answered()) << open.status().to_string();
    const Result<BookReply> hold = client.book(
        {.event = "history-hold", .user = user, .hold = true, .request_id = id + "-hold"});
    ASSERT_TRUE(hold.answered()) << hold.status().to_string();
    if (hold.outcome() == Outcome::held) held.push_back(hold->ref);
    const Result<BookReply> wait =
        client.book({.event = "history-waitlist", .user = user, .request_id = id + "-wait"});
    ASSERT_TRUE(wait.answered()) << wait.status().to_string();
    if (i % 4 == 1 && open.outcome() == Outcome::booked) {
      ASSERT_TRUE(client.cancel(open->ref, id + "-cancel").answered());
    }
  }
  for (std::size_t i = 0; i < held.size(); ++i) {
    const std::string id = tag + "-held-" + std::to_string(i);
    const auto done = i % 3 == 0 ? client.cancel(held[i], id) : client.confirm(held[i], id);
    ASSERT_TRUE(done.answered()) << done.status().to_string();
  }
  // A cancel promotes the waitlist's head; a leave takes one out.
  const Result<BookingPage> waiting = client.list_bookings("history-waitlist");
  ASSERT_TRUE(waiting.ok());
  if (!waiting->bookings.empty()) {
    ASSERT_TRUE(client.cancel(waiting->bookings.front().ref, tag + "-promote").answered());
  }
  ASSERT_TRUE(client.leave_waitlist("history-waitlist", users.back(), tag + "-leave").answered());
}

ClientOptions options_of(const AdmitdProcess& server) {
  ClientOptions options = crash_client_options(server, true);
  options.attempts_max = 3;  // the load waits for nothing here: retries are safe (request ids)
  return options;
}

TEST(RecoveryEqualsHistory, AfterStopAndAfterKillNine) {
  AdmitdProcess server(admitd_options(2, "strict"));
  const std::vector<std::string> users = make_users(24);
  std::string before_stop;
  {
    Client client(options_of(server));
    create_events(client);
    drive_load(client, users, "first");
    before_stop = dump_state(client, users);
  }
  ASSERT_EQ(server.stop(), 0) << server.output();
  server.start();
  std::string before_kill;
  {
    Client client(options_of(server));
    EXPECT_EQ(dump_state(client, users), before_stop);
    drive_load(client, users, "second");
    before_kill = dump_state(client, users);
    EXPECT_NE(before_kill, before_stop);
    expect_invariants(all_events(client), all_bookings(client, all_events(client)));
  }
  server.kill9();
  server.start();
  Client client(options_of(server));
  EXPECT_EQ(dump_state(client, users), before_kill);
  EXPECT_NE(server.output().find("recovered"), std::string::npos) << server.output();
}

TEST(RecoveryEqualsHistory, BatchedModeKeepsWhatItAnsweredAcrossStop) {
  AdmitdProcess server(admitd_options(2, "batched", {"--sync-interval-ms", "20"}));
  const std::vector<std::string> users = make_users(12);
  std::string before;
  {
    Client client(options_of(server));
    create_events(client);
    drive_load(client, users, "batched");
    before = dump_state(client, users);
  }
  EXPECT_NE(server.ready_line().find("durability batched"), std::string::npos);
  server.kill9();  // the commits are in the page cache: kill -9 loses nothing in batched either
  server.start();
  Client client(options_of(server));
  EXPECT_EQ(dump_state(client, users), before);
}

TEST(RecoveryEqualsHistory, FromCheckpointPlusLogTail) {
  AdmitdProcess server(admitd_options(2, "strict", {"--checkpoint-records", "25"}));
  const std::vector<std::string> users = make_users(24);
  std::string before;
  {
    Client client(options_of(server));
    create_events(client);
    drive_load(client, users, "checkpointed");
    before = dump_state(client, users);
  }
  server.kill9();
  server.start();
  Client client(options_of(server));
  EXPECT_EQ(dump_state(client, users), before);
  // Recovery started from a checkpoint (its LSN is not 0) on some shard.
  const std::string output = server.output();
  bool from_checkpoint = false;
  const std::string marker = "checkpoint LSN ";
  for (auto at = output.find(marker); at != std::string::npos; at = output.find(marker, at + 1)) {
    from_checkpoint = from_checkpoint || output.compare(at + marker.size(), 2, "0,") != 0;
  }
  EXPECT_TRUE(from_checkpoint) << output;
}

TEST(Idempotency, RetryAfterKillNineGetsTheSameAnswerAndChangesNothing) {
  AdmitdProcess server(admitd_options(2, "strict"));
  const std::vector<std::string> users = make_users(4);
  Result<BookReply> booked;
  Result<BookingInfo> cancelled;
  {
    Client client(options_of(server));
    create_events(client);
    booked = client.book(
        {.event = "history-open", .user = "idem-user", .seats = 2, .request_id = "idem-book"});
    ASSERT_EQ(booked.outcome(), Outcome::booked) << booked.status().to_string();
    const Result<BookReply> other = client.book(
        {.event = "history-hold", .user = "idem-other", .hold = true, .request_id = "idem-hold"});
    ASSERT_EQ(other.outcome(), Outcome::held) << other.status().to_string();
    cancelled = client.cancel(other->ref, "idem-cancel");
    ASSERT_EQ(cancelled.outcome(), Outcome::ok) << cancelled.status().to_string();
  }
  server.kill9();
  server.start();
  Client client(options_of(server));
  const std::vector<std::string> dump_users = {"idem-user", "idem-other"};
  const std::string before = dump_state(client, dump_users);
  const Result<BookReply> again = client.book(
      {.event = "history-open", .user = "idem-user", .seats = 2, .request_id = "idem-book"});
  EXPECT_EQ(again.outcome(), booked.outcome()) << again.status().to_string();
  EXPECT_EQ(again->ref, booked->ref);
  EXPECT_EQ(again->seats, booked->seats);
  const Result<BookingInfo> cancel_again = client.cancel(cancelled->ref, "idem-cancel");
  EXPECT_EQ(cancel_again.outcome(), cancelled.outcome()) << cancel_again.status().to_string();
  EXPECT_EQ(cancel_again->ref, cancelled->ref);
  EXPECT_EQ(cancel_again->state, cancelled->state);
  EXPECT_EQ(dump_state(client, dump_users), before);
}

TEST(DataFolder, AnotherShardCountIsRefusedNamingBoth) {
  AdmitdProcess server(admitd_options(2, "strict"));
  {
    Client client(options_of(server));
    create_events(client);
  }
  ASSERT_EQ(server.stop(), 0);
  const AdmitdRun run = run_admitd_after_stop("--shards 3 --data " + server.data_dir() +
                                              " --listen " + server.address());
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("--shards 2"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("--shards 3"), std::string::npos) << run.output;
  server.start();  // the right count still starts, with the state intact
  Client client(options_of(server));
  EXPECT_EQ(all_events(client).size(), 3u);
}

TEST(DataFolder, DurabilityOffWritesNoFiles) {
  AdmitdProcess server(admitd_options(2, "off"));
  {
    Client client(options_of(server));
    create_events(client);
    drive_load(client, make_users(4), "off");
  }
  ASSERT_EQ(server.stop(), 0);
  std::error_code error;
  std::vector<std::string> found;
  const auto& dir = server.data_dir();
  EXPECT_TRUE(std::filesystem::is_directory(dir));  // created, and left empty
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, error)) {
    found.push_back(entry.path().string());
  }
  EXPECT_TRUE(found.empty()) << found.front();
}

// Flips one byte inside the body of record `lsn` of shard 0's log.
void corrupt_record(const std::string& data_dir, std::uint64_t lsn) {
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  ASSERT_EQ(mdb_env_set_maxdbs(env, 3), 0);
  ASSERT_EQ(mdb_env_set_mapsize(env, std::size_t{1} << 30), 0);
  ASSERT_EQ(mdb_env_open(env, (data_dir + "/shard-0").c_str(), 0, 0644), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi log = 0;
  ASSERT_EQ(mdb_dbi_open(txn, "log", 0, &log), 0);
  std::uint8_t key_bytes[8];
  for (int i = 0; i < 8; ++i) key_bytes[i] = static_cast<std::uint8_t>(lsn >> (56 - 8 * i));
  MDB_val key{sizeof key_bytes, key_bytes}, value{};
  ASSERT_EQ(mdb_get(txn, log, &key, &value), 0) << "no record at LSN " << lsn;
  std::vector<std::uint8_t> bytes(static_cast<const std::uint8_t*>(value.mv_data),
                                  static_cast<const std::uint8_t*>(value.mv_data) + value.mv_size);
  ASSERT_GT(bytes.size(), 20u);
  bytes[20] ^= 0x5a;
  value = MDB_val{bytes.size(), bytes.data()};
  ASSERT_EQ(mdb_put(txn, log, &key, &value, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

TEST(Faults, CorruptRecordStopsTheStartNamingShardAndLsn) {
  AdmitdProcess server(admitd_options(1, "strict"));
  {
    Client client(options_of(server));
    create_events(client);
    drive_load(client, make_users(4), "corrupt");
  }
  ASSERT_EQ(server.stop(), 0);
  corrupt_record(server.data_dir(), 3);
  if (HasFatalFailure()) return;
  const AdmitdRun run = run_admitd_after_stop("--shards 1 --data " + server.data_dir() +
                                              " --listen " + server.address());
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("shard 0"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("LSN 3"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("admitd ready"), std::string::npos) << run.output;
}

TEST(Faults, FullMapAnswersUnavailableServesReadsAndLosesNothing) {
  const std::vector<std::string> map_flags = {"--map-size", "64KiB", "--map-size-max", "128KiB"};
  AdmitdProcess server(admitd_options(1, "strict", map_flags));
  ClientOptions options = crash_client_options(server, true);
  options.request_timeout = std::chrono::milliseconds(1500);
  std::vector<std::pair<std::string, std::string>> acknowledged;  // (ref, user)
  int unavailable = 0;
  {
    Client client(options);
    ASSERT_TRUE(client.create_event({.id = "fill", .capacity = 1'000'000}).ok());
    const std::string padding(56, 'p');  // long records fill the map sooner
    for (int i = 0; i < 20'000 && unavailable < 5; ++i) {
      const std::string user = "u" + std::to_string(i) + padding;
      const Result<BookReply> booked = client.book(
          {.event = "fill", .user = user, .request_id = "fill-" + std::to_string(i) + padding});
      if (booked.outcome() == Outcome::booked && booked.answered()) {
        acknowledged.emplace_back(booked->ref, user);
      } else if (booked.answered() && booked.outcome() == Outcome::unavailable) {
        ++unavailable;
        EXPECT_NE(booked.message().find("map"), std::string::npos) << booked.message();
      }
    }
  }
  ASSERT_GE(unavailable, 5) << "the map never filled; acknowledged " << acknowledged.size();
  ASSERT_FALSE(acknowledged.empty());
  {
    Client reader(options);  // reads go on while writes are refused
    const Result<EventInfo> event = reader.get_event("fill");
    ASSERT_TRUE(event.ok()) << event.status().to_string();
    EXPECT_GE(event->confirmed, acknowledged.size());
    const Result<BookingInfo> booking = reader.get_booking(acknowledged.front().first);
    EXPECT_TRUE(booking.ok()) << booking.status().to_string();
  }
  EXPECT_NE(server.output().find("map is nearly full"), std::string::npos) << server.output();
  server.kill9();
  server.start();
  Client client(options);
  const std::vector<EventInfo> events = all_events(client);
  const std::vector<BookingInfo> bookings = all_bookings(client, events);
  std::map<std::string, std::string> users_by_ref;
  for (const BookingInfo& b : bookings) users_by_ref[b.ref] = b.user;
  for (const auto& [ref, user] : acknowledged) {
    const auto found = users_by_ref.find(ref);
    ASSERT_NE(found, users_by_ref.end()) << "acknowledged " << ref << " lost";
    EXPECT_EQ(found->second, user);
  }
  expect_invariants(events, bookings);
}

}  // namespace
}  // namespace admit::test
