// Committing stores (see commit.h).
#include "shim/giveback/commit.h"

#include "cmbmap/cmbmap.h"
#include "common/log.h"
#include "prim/prim.h"
#include "shim/giveback/dirty.h"
#include "shim/giveback/revoke.h"
#include "shim/tier/registry.h"
#include "shim/tier/served_lock.h"

namespace cmbmap::commit {
namespace {

uint64_t g_next_ms;  // when the periodic writeback is next due (watcher only)

// Writes back each piece of one batch; gives back those whose blocks moved.
void batch(const registry::Range* r, size_t n, writeback::Mode mode, writeback::Outcome* total) {
  for (size_t i = 0; i < n; ++i) {
    writeback::Outcome o = writeback::piece(r[i], mode);
    if (o.moved) revoke::range((void*)r[i].start, r[i].end - r[i].start, CMBMAP_FILE_CHANGED);
    // Split or partly given back meanwhile: what is still served of the rest
    // is written too (an msync must not return with stores it covers unwritten).
    if (o.rest && o.rest < r[i].end && !o.moved) {
      const writeback::Outcome rest = range((void*)o.rest, r[i].end - o.rest, mode);
      o.bytes += rest.bytes;
      o.moved |= rest.moved;
      if (rest.err && !o.err) o.err = rest.err;
    }
    total->bytes += o.bytes;
    total->moved |= o.moved;
    if (o.err && !total->err) total->err = o.err;
  }
}

}  // namespace

// No hold of the served-ranges lock across the batches: each piece takes it
// and lets other threads in between windows of its I/O (writeback.h), so a
// long writeback does not stall the program's mapping calls. A caller that
// holds the lock (exit, a give-back) keeps the whole commit to itself.
writeback::Outcome range(const void* addr, size_t len, writeback::Mode mode) {
  writeback::Outcome total{};
  if (!dirty::any()) return total;
  registry::for_each_batch((uintptr_t)addr, (uintptr_t)addr + len, [&](const registry::Range* r, size_t n) {
    batch(r, n, mode, &total);
    return true;
  });
  return total;
}

writeback::Outcome file(dev_t dev, ino_t ino, writeback::Mode mode) {
  writeback::Outcome total{};
  if (!dirty::any()) return total;
  registry::for_each_batch_of_file(dev, ino, [&](const registry::Range* r, size_t n) {
    batch(r, n, mode, &total);
    return true;
  });
  return total;
}

writeback::Outcome all(writeback::Mode mode) { return range(nullptr, UINTPTR_MAX, mode); }

void at_exit() {
  served_lock::Hold hold;
  if (dirty::any()) {
    const writeback::Outcome o = all(writeback::Mode::Durable);
    log::Line(o.err ? LogLevel::Error : LogLevel::Debug).s("exit: wrote back ").size(o.bytes)
        .s(o.err ? " (with errors)" : "").emit();
  }
  // Then file pages everywhere: what other threads store or read until the
  // process is gone is the page cache's, and the CMB memory goes back to
  // the pool zeroed rather than with the file's bytes in it.
  revoke::all(0);
}

long periodic(uint64_t every_ms) {
  if (!every_ms || !dirty::any()) return -1;
  const uint64_t now = prim::monotonic_ns() / 1000000u;
  if (!g_next_ms) g_next_ms = now + every_ms;
  if (now >= g_next_ms) {
    all(writeback::Mode::Background);
    g_next_ms = now + every_ms;
  }
  return (long)(g_next_ms - now);
}

}  // namespace cmbmap::commit
