// Committing the stores of writable served ranges: each piece is written
// back (writeback.h) and, if the commit check found its blocks moved, given
// back to file pages (revoke.h) so that further stores go through the file
// too. What msync, fsync and friends, reads of the file, exit and the
// watcher's periodic and MS_ASYNC writebacks ask for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

#include "shim/giveback/writeback.h"

namespace cmbmap::commit {

// Every served piece in [addr, addr+len), of one file, or all of them.
writeback::Outcome range(const void* addr, size_t len, writeback::Mode mode);
writeback::Outcome file(dev_t dev, ino_t ino, writeback::Mode mode);
writeback::Outcome all(writeback::Mode mode);

// The process is ending (exit, _exit, quick_exit): every store is written,
// durably, and every range becomes file pages (its CMB memory scrubbed), so
// that stores other threads make until the process is gone land in the
// page cache.
void at_exit();

// The periodic writeback (CMBMAP_WRITEBACK_MS = every_ms, 0: none): does it
// if due and returns the milliseconds until the next one (-1: none due,
// nothing tracked). Called by the watcher thread only.
long periodic(uint64_t every_ms);

}  // namespace cmbmap::commit
