// protocol/assertions.h's two tiers. This file is built twice (meson.build): as
// the tests build it (NDEBUG not defined) and as `./dev bench`'s release
// build does (-DNDEBUG), where ADMIT_ASSERT must still stop the process and
// ADMIT_VERIFY must not evaluate its condition.
#include <gtest/gtest.h>

#include "protocol/assertions.h"

namespace admit {
namespace {

bool evaluated = false;

bool note_evaluated() {
  evaluated = true;
  return true;
}

TEST(AdmitAssert, FailureNamesFileLineAndConditionThenAborts) {
  const int seats = 3;
  EXPECT_DEATH(ADMIT_ASSERT(seats <= 2), "assert_test.cc:[0-9]+: assertion failed: seats <= 2");
}

TEST(AdmitAssert, HoldingConditionGoesOn) {
  ADMIT_ASSERT(1 + 1 == 2);
  evaluated = false;
  ADMIT_ASSERT(note_evaluated());
  EXPECT_TRUE(evaluated);
}

TEST(AdmitAssert, UnreachableAbortsSayingWhy) {
  EXPECT_DEATH(ADMIT_UNREACHABLE("every kind is handled"),
               "assertion failed: unreachable: every kind is handled");
}

TEST(AdmitVerify, RunsOnlyWhereNdebugIsNotDefined) {
  evaluated = false;
  ADMIT_VERIFY(note_evaluated());
#ifdef NDEBUG
  EXPECT_FALSE(verify_enabled);
  EXPECT_FALSE(evaluated);
  ADMIT_VERIFY(1 + 1 == 3);  // compiled, not evaluated
#else
  EXPECT_TRUE(verify_enabled);
  EXPECT_TRUE(evaluated);
  EXPECT_DEATH(ADMIT_VERIFY(1 + 1 == 3), "assertion failed: 1 \\+ 1 == 3");
#endif
}

}  // namespace
}  // namespace admit
