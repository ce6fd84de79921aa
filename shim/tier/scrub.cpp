// Scrubbing CMB memory on release (see scrub.h).
#include "shim/tier/scrub.h"

#include <sys/mman.h>

#include "common/log.h"
#include "common/stats.h"
#include "prim/prim.h"
#include "prim/procself.h"
#include "shim/tier/fill.h"

namespace cmbmap::scrub {
namespace {

bool g_enabled = true;
// Moves pages and leaves an empty mapping in their place (scrub.h).
constexpr int kAside = MREMAP_MAYMOVE | MREMAP_DONTUNMAP;

// Zeroes [p, p+len) as the program's protection left it (read-only when
// served read-only or write-protected for dirty tracking). Every page's
// entry was written once when it was allocated (p2pmem::allocate), so making it
// writable here never takes a write fault.
bool zero(void* p, size_t len) {
  if (prim::protect(p, len, PROT_READ | PROT_WRITE) != 0) return false;
  const uint64_t t0 = prim::monotonic_ns();
  fill::zero(p, len);
  stats::add(&cmbmap_stats::scrub_ns, prim::monotonic_ns() - t0);
  stats::add(&cmbmap_stats::scrubbed_bytes, len);
  return true;
}

}  // namespace

void set_enabled(bool on) { g_enabled = on; }
bool enabled() { return g_enabled; }

namespace {

// Moves the CMB pages of one mapping [at, at+len) to an address of the
// kernel's choice, leaving an empty mapping in their place, and releases
// them there. No MREMAP_FIXED: a fixed target is unmapped by the kernel
// before it checks the source, so a move that then fails (Linux before 6.17
// cannot move a range that spans mappings) would leave a hole for another
// thread's mmap, which the next move would replace.
bool move_one(void* at, size_t len) {
  void* moved = prim::remap(at, len, len, kAside, nullptr);
  if (moved == MAP_FAILED) return false;
  release(moved, len);
  return true;
}

}  // namespace

size_t clear_out(void* at, size_t len, bool zero_left_in_place) {
  // Inaccessible before the pages go, so that the empty mapping left in
  // their place faults (SIGSEGV, which cmbmap's handler can hold) rather
  // than ask the device file for pages it does not have (SIGBUS).
  prim::protect(at, len, PROT_NONE);
  if (move_one(at, len)) return 0;
  // Dirty tracking's mprotects split a writable range into several mappings
  // that the kernel never merges again (device mappings are special): each
  // piece moves on its own.
  struct Move {
    uintptr_t at, end;
    bool zero_left;
    size_t moved, left;
  } m{(uintptr_t)at, (uintptr_t)at + len, zero_left_in_place, 0, 0};
  const procself::Span span{m.at, m.end};
  const bool read = procself::for_each_mapping_over(&span, 1, [](const procself::Mapping& piece, size_t, void* ctx) {
    auto* mv = static_cast<Move*>(ctx);
    const uintptr_t lo = piece.start > mv->at ? piece.start : mv->at;
    const uintptr_t hi = piece.end < mv->end ? piece.end : mv->end;
    if (move_one((void*)lo, hi - lo)) {
      mv->moved += hi - lo;
    } else if (mv->zero_left) {
      // Still the CMB pages themselves (an empty mapping is never zeroed:
      // touching one asks the device file for pages it does not have).
      in_place((void*)lo, hi - lo);
      prim::protect((void*)lo, hi - lo, PROT_NONE);
    } else {
      mv->left += hi - lo;
    }
    return true;
  }, &m);
  if (read) return m.left;
  // /proc/self/maps unreadable: what did not move is not known piece by
  // piece; it stays as it is (reported here on munmap, else by the caller).
  const size_t left = len - m.moved;
  if (!zero_left_in_place) return left;
  if (left) unscrubbed(at, left, "its mappings could not be read");
  return 0;
}

void release(void* aside, size_t len) {
  if (!g_enabled) unscrubbed(aside, len, "CMBMAP_SCRUB=0");
  else if (!zero(aside, len)) unscrubbed(aside, len, "it could not be made writable");
  prim::unmap(aside, len);
}

void in_place(void* at, size_t len) {
  if (!g_enabled) unscrubbed(at, len, "CMBMAP_SCRUB=0");
  else if (!zero(at, len)) unscrubbed(at, len, "it could not be made writable");
}

void unscrubbed(const void* at, size_t len, const char* why) {
  stats::add(&cmbmap_stats::unscrubbed_bytes, len);
  if (g_enabled)
    log::Line(LogLevel::Warn).size(len).s(" of CMB at ").x((uintptr_t)at).s(" went back to the pool unscrubbed: ")
      .s(why).emit();
}

}  // namespace cmbmap::scrub
