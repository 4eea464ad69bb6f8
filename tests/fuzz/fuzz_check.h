// A fuzz target's checks: a broken expectation is a crash libFuzzer keeps.
#pragma once

#include <cstdio>
#include <cstdlib>

// Aborts, naming the expectation, unless `ok`.
inline void fuzz_require(bool ok, const char* expectation) {
  if (ok) return;
  std::fprintf(stderr, "fuzz check failed: %s\n", expectation);
  std::abort();
}
