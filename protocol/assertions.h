// Assertions in two tiers, for every library of the tree (all depend on protocol/).
//
//   ADMIT_ASSERT(condition)  cheap checks (O(1): a bound, a state, a pair of
//                            counters). Compiled in every build, release
//                            included: a broken invariant stops the process
//                            naming file:line and the condition, rather than
//                            selling a seat twice.
//   ADMIT_VERIFY(condition)  expensive checks (a walk of the whole state, a
//                            value computed a second time). Run only where
//                            NDEBUG is not defined: the default build
//                            (debugoptimized, b_ndebug=false) that tests,
//                            fuzzing and `./dev serve` use; compiled out of
//                            `./dev bench`'s release build (-Db_ndebug=true).
//                            The condition is still compiled there, so it
//                            cannot rot; it is not evaluated.
//   ADMIT_UNREACHABLE("why")  a place no input reaches (the default of a switch
//                            that handles every value): as a failed ADMIT_ASSERT.
//   if constexpr (admit::verify_enabled) ...  a verify-tier statement that is
//                            not a condition, e.g. machine.check_invariants().
//
// Not named assert.h: meson puts protocol/ on the include path of its own
// files, where that name would hide the C library's <assert.h> (FlatBuffers
// includes it).
#pragma once

#include <cstdio>
#include <cstdlib>

namespace admit {

#ifdef NDEBUG
inline constexpr bool verify_enabled = false;
#else
inline constexpr bool verify_enabled = true;
#endif

// Out of line and cold, so a check costs the hot path one compare and branch.
[[noreturn, gnu::cold, gnu::noinline]] inline void assertion_failed(const char* file, int line,
                                                                    const char* condition) {
  std::fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, condition);
  std::fflush(stderr);
  std::abort();
}

}  // namespace admit

#define ADMIT_ASSERT(condition)                      \
  (__builtin_expect(static_cast<bool>(condition), 1) \
       ? static_cast<void>(0)                        \
       : ::admit::assertion_failed(__FILE__, __LINE__, #condition))

#define ADMIT_VERIFY(condition)              \
  do {                                       \
    if constexpr (::admit::verify_enabled) { \
      ADMIT_ASSERT(condition);               \
    }                                        \
  } while (false)

#define ADMIT_UNREACHABLE(why) ::admit::assertion_failed(__FILE__, __LINE__, "unreachable: " why)
