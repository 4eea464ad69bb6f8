#include "bench/admit-bench/verdict.h"

#include <gtest/gtest.h>

#include "bench/admit-bench/mix.h"
#include "bench/admit-bench/report.h"

namespace admit::bench {
namespace {

// A clean flash sale: capacity 2, users a and b booked, c sold out.
struct CleanSale {
  ClientView client;
  ServerView server;

  CleanSale() {
    client.expected[static_cast<int>(Outcome::booked)] = true;
    client.expected[static_cast<int>(Outcome::sold_out)] = true;
    client.live = {{"BK-AAAAAAAA", "a", 1}, {"BK-BBBBBBBB", "b", 1}};
    client.acknowledged = client.live;
    client.outcomes[static_cast<int>(Outcome::booked)] = 2;
    client.outcomes[static_cast<int>(Outcome::sold_out)] = 1;
    client.still_waiting = 0;
    server.event = {2, 0, 0, 2, 0};
    server.bookings = {{"BK-AAAAAAAA", "a", 1, BookingState::confirmed},
                       {"BK-BBBBBBBB", "b", 1, BookingState::confirmed}};
  }
};

const Invariant& named(const std::vector<Invariant>& invariants, const std::string& name) {
  for (const auto& invariant : invariants) {
    if (invariant.name == name) return invariant;
  }
  throw std::runtime_error("no invariant " + name);
}

TEST(Verdict, ACleanRunPassesAllFiveInOrder) {
  CleanSale sale;
  const auto invariants = check_invariants(sale.client, sale.server);
  ASSERT_EQ(invariants.size(), 5u);
  EXPECT_EQ(invariants[0].name, "no_oversell");
  EXPECT_EQ(invariants[1].name, "no_user_twice");
  EXPECT_EQ(invariants[2].name, "waitlist_fifo");
  EXPECT_EQ(invariants[3].name, "views_agree");
  EXPECT_EQ(invariants[4].name, "no_unexpected_errors");
  for (const auto& invariant : invariants) EXPECT_TRUE(invariant.pass) << invariant.detail;
  EXPECT_TRUE(all_pass(invariants));
}

TEST(Verdict, ServerCountersAboveCapacityAreAnOversell) {
  CleanSale sale;
  sale.server.event = {2, 0, 1, 2, 0};
  sale.server.bookings.push_back({"BK-CCCCCCCC", "c", 1, BookingState::held});
  const auto invariants = check_invariants(sale.client, sale.server);
  EXPECT_FALSE(named(invariants, "no_oversell").pass);
  EXPECT_FALSE(all_pass(invariants));
}

TEST(Verdict, ClientAcknowledgedMoreSeatsThanCapacityIsAnOversell) {
  CleanSale sale;
  sale.client.live.push_back({"BK-CCCCCCCC", "c", 1});
  EXPECT_FALSE(named(check_invariants(sale.client, sale.server), "no_oversell").pass);
}

TEST(Verdict, CountersThatDoNotMatchTheBookingsFail) {
  CleanSale sale;
  sale.server.event.available = 1;
  EXPECT_FALSE(named(check_invariants(sale.client, sale.server), "no_oversell").pass);
}

TEST(Verdict, AUserWithTwoLiveBookingsOnTheServerFails) {
  CleanSale sale;
  sale.server.bookings[1].user = "a";
  sale.client.live[1].user = "a";
  const auto invariant = named(check_invariants(sale.client, sale.server), "no_user_twice");
  EXPECT_FALSE(invariant.pass);
  EXPECT_NE(invariant.detail.find("user a"), std::string::npos) << invariant.detail;
}

TEST(Verdict, ACancelledEarlierBookingDoesNotCountTwice) {
  CleanSale sale;
  sale.server.bookings.insert(sale.server.bookings.begin(),
                              {"BK-00000000", "a", 1, BookingState::cancelled});
  EXPECT_TRUE(named(check_invariants(sale.client, sale.server), "no_user_twice").pass);
}

TEST(Verdict, AlreadyBookedNamingSomeoneElsesRefFails) {
  CleanSale sale;
  sale.client.already_booked = {{"a", "BK-BBBBBBBB"}};
  EXPECT_FALSE(named(check_invariants(sale.client, sale.server), "no_user_twice").pass);
  sale.client.already_booked = {{"a", "BK-AAAAAAAA"}};
  EXPECT_TRUE(named(check_invariants(sale.client, sale.server), "no_user_twice").pass);
}

TEST(Verdict, WaitlistPositionsMustBeContiguous) {
  CleanSale sale;
  sale.client.waitlisted = {{"c", 1}, {"d", 3}};
  sale.server.event.waitlisted = 2;
  const auto invariant = named(check_invariants(sale.client, sale.server), "waitlist_fifo");
  EXPECT_FALSE(invariant.pass);
  EXPECT_NE(invariant.detail.find("contiguous"), std::string::npos) << invariant.detail;
}

TEST(Verdict, WaitlistPositionGivenTwiceFails) {
  CleanSale sale;
  sale.client.waitlisted = {{"c", 1}, {"d", 1}};
  sale.server.event.waitlisted = 2;
  EXPECT_FALSE(named(check_invariants(sale.client, sale.server), "waitlist_fifo").pass);
}

// Capacity 2: a and b held, c and d waited; a's hold expired, so c (first in
// line) must be the one promoted.
ServerView promotion_history(const std::string& promoted_user) {
  ServerView server;
  server.event = {2, 0, 0, 2, 1};
  server.bookings = {{"BK-AAAAAAAA", "a", 1, BookingState::expired},
                     {"BK-BBBBBBBB", "b", 1, BookingState::confirmed},
                     {"BK-CCCCCCCC", promoted_user, 1, BookingState::confirmed}};
  return server;
}

ClientView waiting_client(const std::string& promoted_user) {
  ClientView client;
  client.expected[static_cast<int>(Outcome::held)] = true;
  client.expected[static_cast<int>(Outcome::waitlisted)] = true;
  client.live = {{"BK-BBBBBBBB", "b", 1}, {"BK-CCCCCCCC", promoted_user, 1}};
  client.waitlisted = {{"c", 1}, {"d", 2}};
  client.still_waiting = 1;
  return client;
}

TEST(Verdict, PromotingTheHeadOfTheWaitlistIsFifo) {
  const auto invariants = check_invariants(waiting_client("c"), promotion_history("c"));
  for (const auto& invariant : invariants) EXPECT_TRUE(invariant.pass) << invariant.detail;
}

TEST(Verdict, PromotingSecondInLineBeforeTheFirstIsNotFifo) {
  const auto invariant =
      named(check_invariants(waiting_client("d"), promotion_history("d")), "waitlist_fifo");
  EXPECT_FALSE(invariant.pass);
  EXPECT_NE(invariant.detail.find("position 2"), std::string::npos) << invariant.detail;
}

TEST(Verdict, WaitlistLengthMustMatchWhatIsLeft) {
  ServerView server = promotion_history("c");
  server.event.waitlisted = 2;
  EXPECT_FALSE(named(check_invariants(waiting_client("c"), server), "waitlist_fifo").pass);
}

TEST(Verdict, ABookingTheClientNeverHeardOfMeansTheViewsDisagree) {
  CleanSale sale;
  sale.client.live.pop_back();
  const auto invariant = named(check_invariants(sale.client, sale.server), "views_agree");
  EXPECT_FALSE(invariant.pass);
}

TEST(Verdict, AnAcknowledgedBookingTheServerLostMeansTheViewsDisagree) {
  CleanSale sale;
  sale.server.bookings[1].state = BookingState::cancelled;
  sale.server.event = {2, 1, 0, 1, 0};
  EXPECT_FALSE(named(check_invariants(sale.client, sale.server), "views_agree").pass);
}

TEST(Verdict, SeatsThatDifferMeanTheViewsDisagree) {
  CleanSale sale;
  sale.client.live[0].seats = 2;
  sale.client.live[1].seats = 0;
  EXPECT_FALSE(named(check_invariants(sale.client, sale.server), "views_agree").pass);
}

TEST(Verdict, AnOutcomeTheScenarioDoesNotExpectFails) {
  CleanSale sale;
  sale.client.outcomes[static_cast<int>(Outcome::overloaded)] = 3;
  const auto invariant = named(check_invariants(sale.client, sale.server), "no_unexpected_errors");
  EXPECT_FALSE(invariant.pass);
  EXPECT_NE(invariant.detail.find("OVERLOADED x 3"), std::string::npos) << invariant.detail;
}

TEST(Verdict, TransportErrorsFail) {
  CleanSale sale;
  sale.client.transport_errors = 1;
  EXPECT_FALSE(check_no_unexpected_errors(sale.client).pass);
}

TEST(Verdict, MergeFailsANameWhenAnyEventFailsIt) {
  std::vector<std::vector<Invariant>> per_event = {
      {{"no_oversell", true, ""}, {"views_agree", true, ""}},
      {{"no_oversell", true, ""}, {"views_agree", false, "lost one"}}};
  const auto merged = merge_invariants({"e1", "e2"}, per_event);
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_TRUE(merged[0].pass);
  EXPECT_FALSE(merged[1].pass);
  EXPECT_EQ(merged[1].detail, "e2: lost one");
}

TEST(Report, JsonHasEveryFieldAndTheVerdict) {
  RunSummary summary;
  summary.scenario = "flash-sale";
  summary.attempts = 3;
  summary.outcomes[static_cast<int>(Outcome::booked)] = 2;
  summary.outcomes[static_cast<int>(Outcome::sold_out)] = 1;
  summary.seats_booked = 2;
  summary.elapsed_s = 0.5;
  summary.client_cpu_s = 0.25;
  summary.client_user_cpu_s = 0.125;
  summary.latency.record(1'500'000);
  summary.invariants = {{"no_oversell", true, ""}, {"views_agree", false, "x"}};
  const std::string json = summary_json(summary);
  for (const char* field :
       {"\"scenario\":\"flash-sale\"", "\"book_batching\":true", "\"attempts\":3", "\"BOOKED\":2",
        "\"SOLD_OUT\":1", "\"seats_booked\":2", "\"throughput_rps\":6.0", "\"client_cpu_s\":0.25",
        "\"client_user_cpu_s\":0.125", "\"p999\":", "\"max\":1500.0", "\"no_oversell\":true",
        "\"views_agree\":false", "\"verdict\":\"FAIL\""}) {
    EXPECT_NE(json.find(field), std::string::npos) << field << " in " << json;
  }
}

TEST(Report, JsonHasTheServersMemoryPerUnitOnlyWhenKnown) {
  RunSummary summary;
  summary.scenario = "connections";
  summary.server_memory = {1'000'000, 1'008'192, "connection", 4};
  std::string json = summary_json(summary);
  for (const char* field : {"\"server\":{\"resident_bytes_before\":1000000,"
                            "\"resident_bytes_after\":1008192,"
                            "\"bytes_per_connection\":2048.0}"}) {
    EXPECT_NE(json.find(field), std::string::npos) << field << " in " << json;
  }
  summary.server_memory.resident_bytes_before = 0;  // the server did not report it
  json = summary_json(summary);
  EXPECT_EQ(json.find("\"server\""), std::string::npos) << json;
}

TEST(Report, ServerMemoryGivenBackIsNegativeGrowth) {
  const ServerMemory memory{2'000'000, 1'000'000, "booking", 1000};
  EXPECT_TRUE(memory.known());
  EXPECT_DOUBLE_EQ(memory.bytes_per_unit(), -1000.0);
}

TEST(Mix, ParsesPercentagesInAnyOrder) {
  Mix mix;
  std::string why;
  ASSERT_TRUE(parse_mix("cancel=5,book=80,get=15", &mix, &why)) << why;
  EXPECT_EQ(mix.book, 80u);
  EXPECT_EQ(mix.get, 15u);
  EXPECT_EQ(mix.cancel, 5u);
  ASSERT_TRUE(parse_mix("get=100", &mix, &why)) << why;
  EXPECT_EQ(mix.book, 0u);
}

TEST(Mix, RefusesBadInputNamingTheFlag) {
  Mix mix;
  std::string why;
  for (const char* bad : {"book=80,get=10", "book=80,get=15,cancel=5,book=0", "sell=100", "book",
                          "book=x", "book=101", "book=-1"}) {
    EXPECT_FALSE(parse_mix(bad, &mix, &why)) << bad;
    EXPECT_EQ(why.rfind("--mix:", 0), 0u) << why;
  }
}

}  // namespace
}  // namespace admit::bench
