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
constexpr int kAside = MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP;

// Zeroes [p, p+len) as the program's protection left it (read-only when
// served read-only or write-protected for dirty tracking). Every page's
// entry was written once when it was mapped (p2pmem::map_at), so making it
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

void* move_aside(void* at, size_t len) {
  // A reserved spot to move to: mremap moves only to a fixed address when
  // the length stays the same.
  void* spot = prim::map(nullptr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (spot == MAP_FAILED) return nullptr;
  // Inaccessible before the pages go, so that the empty mapping left in
  // their place faults (SIGSEGV, which cmbmap's handler can hold) rather
  // than ask the device file for pages it does not have (SIGBUS).
  prim::protect(at, len, PROT_NONE);
  if (prim::remap(at, len, len, kAside, spot) != MAP_FAILED) return spot;
  // One mremap cannot cross mappings, and dirty tracking's mprotects split a
  // writable range into several that the kernel never merges again (device
  // mappings are special): each piece moves to its place in the spot.
  struct Move {
    uintptr_t at, end, spot;
    bool ok;
  } m{(uintptr_t)at, (uintptr_t)at + len, (uintptr_t)spot, true};
  const procself::Span span{m.at, m.end};
  const bool read = procself::for_each_mapping_over(&span, 1, [](const procself::Mapping& piece, size_t, void* ctx) {
    auto* mv = static_cast<Move*>(ctx);
    const uintptr_t lo = piece.start > mv->at ? piece.start : mv->at;
    const uintptr_t hi = piece.end < mv->end ? piece.end : mv->end;
    mv->ok = prim::remap((void*)lo, hi - lo, hi - lo, kAside, (void*)(mv->spot + (lo - mv->at))) != MAP_FAILED;
    return mv->ok;
  }, &m);
  if (read && m.ok) return spot;
  // Partly moved: what did move goes back to the pool zeroed now; the rest
  // stays at `at`.
  release(spot, len);
  return nullptr;
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
