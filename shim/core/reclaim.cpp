// Giving CMB back when someone else needs it: the filesystem (a lease
// break), another user of the device (`cmbmap reclaim`), or a new mapping of
// this process (CMBMAP_BUDGET, a full CMB). Whatever the cause, ranges go back
// to ordinary file pages in place, least recently used first (serve.cpp
// stamps a range when it is served, the mapping calls when they touch it).
#include <cerrno>
#include <sys/types.h>

#include "../../resolver/prim.h"
#include "core.h"
#include "lease.h"
#include "log.h"
#include "openfiles.h"
#include "reclaim_request.h"
#include "registry.h"
#include "serial.h"
#include "stats.h"

namespace cmbmap::core {
namespace {

}  // namespace

size_t evict(int ctrl, uint64_t bytes, uintptr_t keep, size_t keep_len, int cause) {
  serial::Hold hold;
  size_t freed = 0;
  registry::Range r;
  while (freed < bytes && registry::oldest(ctrl, keep, keep_len, &r)) {
    size_t n = revoke_range((void*)r.start, r.end - r.start, cause);
    if (n == 0) break;
    freed += n;
  }
  return freed;
}

void on_lease_break() {
  const uint64_t t0 = prim::monotonic_ns();
  serial::Hold hold;
  // Which lease the kernel is breaking, from the kernel itself: a signal's
  // si_fd names the fd the lease was set on, which may have moved since.
  dev_t devs[64];
  ino_t inos[64];
  size_t n = lease::breaking(devs, inos, 64);
  for (size_t i = 0; i < n; ++i) {
    size_t given = revoke_file(devs[i], inos[i], CMBMAP_LEASE_BROKEN);
    lease::release(devs[i], inos[i]);
    const uint64_t ns = prim::monotonic_ns() - t0;
    stats::add(&cmbmap_stats::lease_breaks, 1);
    stats::add(&cmbmap_stats::lease_break_ns, ns);
    log::Line(LogLevel::Info).s("lease broken on inode ").u((uint64_t)inos[i]).s(": gave back ").size(given)
        .s(" and released in ").u(ns / 1000).s(" us").emit();
  }
}

void on_reclaim(uint64_t request) {
  const uint64_t pages = reclaim_request::pages(request);
  const uint64_t want = pages == reclaim_request::kAllPages ? UINT64_MAX : pages * openfiles::page_size();
  size_t freed = evict(reclaim_request::slot(request), want, 0, 0, CMBMAP_RECLAIMED);
  stats::add(&cmbmap_stats::reclaimed_bytes, freed);
  log::Line(LogLevel::Info).s("reclaim request: gave back ").size(freed).emit();
  // Last: `cmbmap reclaim` waits for this count to move.
  stats::add(&cmbmap_stats::reclaim_requests, 1);
}

}  // namespace cmbmap::core
