// How a `cmbmap reclaim` request travels in the signal's value: the
// controller's statistics slot (plus one; 0 means any controller) in the top
// byte, the pages wanted below it (all ones: everything). Shared by the
// library's watcher and the CLI.
#pragma once

#include <cstdint>

namespace cmbmap::reclaim_request {

constexpr uint64_t kAllPages = (uint64_t{1} << 56) - 1;

constexpr uint64_t encode(int slot, uint64_t pages) {
  return (uint64_t)(slot + 1) << 56 | (pages < kAllPages ? pages : kAllPages);
}
// Not a reclaim: the library's own msync(MS_ASYNC) asking for a writeback
// (slot 254 names no controller).
constexpr uint64_t kWriteback = ~uint64_t{0};
// Not a reclaim either: look at the clock again (a periodic writeback became due).
constexpr uint64_t kWake = ~uint64_t{0} - 1;

constexpr int slot(uint64_t v) { return (int)(v >> 56) - 1; }
constexpr uint64_t pages(uint64_t v) { return v & kAllPages; }

}  // namespace cmbmap::reclaim_request
