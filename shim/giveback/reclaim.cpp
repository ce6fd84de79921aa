// Giving CMB back on demand (see reclaim.h).
#include "shim/giveback/reclaim.h"

#include "cmbmap/cmbmap.h"
#include "common/log.h"
#include "common/stats.h"
#include "common/watcher_message.h"
#include "prim/prim.h"
#include "shim/giveback/lease.h"
#include "shim/giveback/revoke.h"
#include "shim/tier/registry.h"
#include "shim/tier/served_lock.h"

namespace cmbmap::reclaim {

namespace {
bool g_share = true;
uint64_t g_grace_ns = 1000ull * 1000 * 1000;
}  // namespace

// Set at start-up (tests change them while the watcher runs: atomics).
void set_share(bool enabled, uint64_t grace_ms) {
  __atomic_store_n(&g_share, enabled, __ATOMIC_RELAXED);
  __atomic_store_n(&g_grace_ns, grace_ms < UINT64_MAX / 1000000 ? grace_ms * 1000000 : UINT64_MAX, __ATOMIC_RELAXED);
}

size_t evict(int ctrl, uint64_t bytes, uintptr_t keep, size_t keep_len, int cause, uint64_t used_before) {
  served_lock::Hold hold;
  size_t freed = 0;
  registry::Range r;
  // Each range once at most. One that gives nothing back is forgotten (no
  // longer cmbmap's mapping) or kept (its stores could not be written):
  // a kept one is stamped as used, so the next oldest comes next.
  for (size_t tries = registry::count(); tries > 0 && freed < bytes; --tries) {
    if (!registry::oldest(ctrl, keep, keep_len, &r, used_before)) break;
    const size_t n = revoke::range((void*)r.start, r.end - r.start, cause);
    if (n == 0 && registry::overlaps(r.start, r.end - r.start)) registry::touch(r.start, r.end - r.start);
    freed += n;
  }
  return freed;
}

void lease_breaks() {
  const uint64_t t0 = prim::monotonic_ns();
  served_lock::Hold hold;
  // Which lease the kernel is breaking, from the kernel itself: a signal's
  // si_fd names the fd the lease was set on, which may have moved since.
  dev_t devs[64];
  ino_t inos[64];
  size_t n = lease::breaking(devs, inos, 64);
  for (size_t i = 0; i < n; ++i) {
    size_t given = revoke::file_and_lease(devs[i], inos[i], CMBMAP_LEASE_BROKEN);
    const uint64_t ns = prim::monotonic_ns() - t0;
    stats::add(&cmbmap_stats::lease_breaks, 1);
    stats::add(&cmbmap_stats::lease_break_ns, ns);
    log::Line(LogLevel::Info).s("lease broken on inode ").u((uint64_t)inos[i]).s(": gave back ").size(given)
        .s(" and released in ").u(ns / 1000).s(" us").emit();
  }
}

void requested(uint64_t message, pid_t from) {
  const uint64_t want = watcher_message::bytes_wanted(message, prim::page_size());
  const int slot = watcher_message::slot(message);
  if (watcher_message::from_peer(message)) {
    // Another process's mapping found the CMB full: what this one used
    // within its grace time stays (no ping-pong between busy processes).
    // Counted apart from `cmbmap reclaim`'s requests, so neither asker takes
    // the other's answer for its own.
    const uint64_t now = prim::monotonic_ns(), grace = __atomic_load_n(&g_grace_ns, __ATOMIC_RELAXED);
    const bool share = __atomic_load_n(&g_share, __ATOMIC_RELAXED);
    const size_t freed = share ? evict(slot, want, 0, 0, CMBMAP_TAKEN_BY_PEER, now > grace ? now - grace : 0) : 0;
    stats::add(&cmbmap_stats::share_given_bytes, freed);
    if (freed) __atomic_store_n(&stats::get()->share_given_to_pid, (uint64_t)from, __ATOMIC_RELAXED);
    log::Line(LogLevel::Info).s("process ").i(from).s(" found the CMB full: gave it ").size(freed)
        .s(" of ranges unused for ").u(grace / 1000000).s(" ms").emit();
    // Last: the asker waits for this count to move.
    stats::add(&cmbmap_stats::share_answers, 1);
    return;
  }
  const size_t freed = evict(slot, want, 0, 0, CMBMAP_RECLAIMED);
  log::Line(LogLevel::Info).s("reclaim request: gave back ").size(freed).emit();
  stats::add(&cmbmap_stats::reclaimed_bytes, freed);
  // Last: `cmbmap reclaim` waits for this count to move.
  stats::add(&cmbmap_stats::reclaim_requests, 1);
}

}  // namespace cmbmap::reclaim
