// Shared helpers for the admitd tests: one server per test suite, event names
// that land on a chosen shard, and short checks on replies.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "protocol/booking_ref.h"
#include "protocol/enums.h"
#include "protocol/framing.h"
#include "protocol/shard.h"
#include "tests/server/wire_client.h"
#include "tests/support/admitd_process.h"

namespace admit::test {

// An event id starting with `prefix` that shard `shard` of `shards` owns.
inline std::string event_on_shard(const std::string& prefix, std::uint32_t shard,
                                  std::uint32_t shards) {
  for (int n = 0;; ++n) {
    std::string id = prefix + "-" + std::to_string(n);
    if (owner_shard(id, shards) == shard) return id;
  }
}

// A server of `shards` shards with extra flags.
inline AdmitdOptions admitd_options(std::uint32_t shards,
                                    std::vector<std::string> extra_args = {}) {
  AdmitdOptions options;
  options.shards = shards;
  options.extra_args = std::move(extra_args);
  return options;
}

// Stops the server: exit 0 after SIGTERM, and no sanitizer report on its
// stderr (UBSan and TSan report without changing the exit code).
inline void expect_clean_stop(AdmitdProcess& server) {
  EXPECT_EQ(server.stop(), 0) << server.output();
  const std::string output = server.output();
  EXPECT_EQ(output.find("runtime error"), std::string::npos) << output;
  EXPECT_EQ(output.find("Sanitizer"), std::string::npos) << output;
}

inline Outcome outcome_of(const wire::Reply* reply) { return from_wire(reply->outcome()); }

// "BOOKED" etc., for readable failures.
inline std::string describe(const wire::Reply* reply) {
  if (reply == nullptr) return "no reply";
  return std::string(outcome_name(outcome_of(reply))) + " " +
         std::string(text_of(reply->message()));
}

// The event as GetEvent sees it, asked on `client`; fails the test when absent.
inline const wire::EventInfo* get_event(WireClient& client, std::uint64_t id,
                                        const std::string& event) {
  RequestFrame frame;
  frame.get_event(id, event);
  const wire::Reply* reply = client.call(frame, id);
  EXPECT_NE(reply, nullptr);
  if (reply == nullptr) return nullptr;
  EXPECT_EQ(outcome_of(reply), Outcome::ok) << describe(reply);
  return reply->result_as_EventInfo();
}

}  // namespace admit::test
