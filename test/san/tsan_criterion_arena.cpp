// Linked into the unit tests only when SAN has thread (test/test.mk), so Criterion
// can start under ThreadSanitizer at all.
//
// Criterion's BoxFort puts its inheritable arena at a random candidate
//   0x200000000000 + (rand_r() & 0x3fffff) * 16 MiB
// and gives up after 10 candidates that are already mapped. ThreadSanitizer maps
// (shadow, metadata, guard areas) nearly all of that range and leaves only
// 0x550000000000-0x568000000000 to the program, so the runner aborts with "Could
// not initialize inheritable arena" (Snaipe/Criterion#274; 40 starts of 40 here).
// BoxFort's rand_r calls go through the PLT, so this definition answers them: the
// candidates are the top of the window TSan leaves, above the PIE binary and its
// brk heap, one 16 MiB step per call. Nothing under test calls rand_r.
#include <cstdint>
#include <stdlib.h>

namespace {
constexpr uint64_t kBoxfortBase = 0x200000000000;  // BoxFort's mmap_base on 64-bit
constexpr uint64_t kStep = uint64_t{1} << 24;       // its mmap_off
constexpr uint64_t kFirst = 0x566000000000;         // 128 GiB below the window's top
}  // namespace

extern "C" __attribute__((visibility("default"))) int rand_r(unsigned* seed) noexcept {
  const unsigned step = (*seed)++ % 64;  // up to 1 GiB above kFirst
  return static_cast<int>((kFirst - kBoxfortBase) / kStep + step);
}
