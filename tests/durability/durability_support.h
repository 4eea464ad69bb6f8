// Helpers of the durability tests: clients that give up fast when the server
// dies, the whole state dumped through the protocol as sorted JSON, the seat
// invariants checked from outside, admitd runs that are expected to fail.
#pragma once

#include <admit/client.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/admitd_process.h"

namespace admit::test {

AdmitdOptions admitd_options(std::uint32_t shards, const std::string& durability,
                             std::vector<std::string> extra_args = {});

// One try per call, short timeouts: a crash shows as a failed call at once.
ClientOptions crash_client_options(const AdmitdProcess& server, bool shard_aware);

// Every event (ListEvents), every booking of them (ListBookings) and the
// waitlist position of each of `users` on each event, as sorted JSON text.
// Fails the test (ADD_FAILURE) on a call that does not answer OK.
std::string dump_state(Client& client, const std::vector<std::string>& users);

// The bookings of all events, paged through ListBookings.
std::vector<BookingInfo> all_bookings(Client& client, const std::vector<EventInfo>& events);
std::vector<EventInfo> all_events(Client& client);

// Invariants 1 and 2 of DESIGN.md seen from outside: each event's counters
// equal what its listed bookings hold, held + confirmed <= capacity,
// available = capacity - held - confirmed (0 when capacity was lowered), at
// most one live booking per user and event. Failures are ADD_FAILUREs.
void expect_invariants(const std::vector<EventInfo>& events,
                       const std::vector<BookingInfo>& bookings);

// run_admitd (tests/support) for a start on a data folder and port that an
// admitd has just left: a start that finds the port still held is retried.
AdmitdRun run_admitd_after_stop(const std::string& args);

}  // namespace admit::test
