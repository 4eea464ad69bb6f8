// A test suite sharing one admitd (started before its first test, stopped after
// its last), and client options that point at it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>

#include "admit/client.h"
#include "tests/support/admitd_process.h"

namespace admit {

class SharedServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new test::AdmitdProcess(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  // Generous request timeout: sanitizer builds on a loaded machine are slow.
  static ClientOptions options() {
    ClientOptions o;
    o.host = server_->host();
    o.port = server_->port();
    o.request_timeout = std::chrono::milliseconds(30'000);
    return o;
  }

  static inline test::AdmitdProcess* server_ = nullptr;
};

}  // namespace admit
