// Writing the stores of writable served ranges to the file: the commit
// step of the map/commit model. Dirty pages go to their blocks straight
// from CMB memory as NVMe write commands (io_uring passthrough: the drive
// DMAs them, host RAM is not touched), once the commit check has confirmed
// the blocks are still where the plan found them. An O_DIRECT open of the
// file would break the write lease that guards the mapping, so passthrough
// is the only DMA path. Without it (no access to /dev/ngXnY), or if the
// blocks moved, the pages are written through the program's own open file
// (pwrite: the page cache), and blocks that moved are reported (Outcome::moved)
// so the caller gives the range back (commit.h does).
// piece() takes the served-ranges lock itself; the others need no lock.
// Outside a give-back, piece() takes a window (1 MiB) of dirty pages at a
// time under the lock and writes them without it, unless its caller holds
// the lock too: a long writeback does not stall the mapping calls of other
// threads. A window being written is pinned: a give-back, munmap or fd move
// of its range waits until its writes are done (their pages stay dirty if
// they failed), so nothing is lost; the piece goes on with what is left of
// its range, and stops if the range is gone or changed meanwhile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

#include "resolver/types.h"
#include "shim/tier/registry.h"

namespace cmbmap::writeback {

enum class Mode {
  Current,  // the file has the stores (the drive may still cache them)
  Durable,  // and they are on stable media: msync(MS_SYNC), munmap, exit
  Freeze,   // before the range stops being CMB: stores wait until it has
  // The periodic writeback: as Current, but what another writer is writing
  // now is left to it (waiting would only add a thread that competes for
  // the lock and the CPU; the next period sees what is left).
  Background,
};

// Remembers the blocks behind a writable served run [start, end) starting
// at file_offset (from the serve's plan). False if the table is full.
bool remember(uintptr_t start, uintptr_t end, uint64_t file_offset, dev_t dev, ino_t ino, const NvmeTarget& target,
              const Segment* segs, size_t nsegs);
// Drops what no served range uses any more (after ranges left the registry).
void forget_unused();

struct Outcome {
  int err;          // 0, or the errno of a write that failed (stores lost)
  bool moved;       // the commit check failed: give the range back
  uint64_t bytes;   // bytes written
  uintptr_t rest;   // nonzero: the range changed part-way; [rest, its end) is the caller's to write
};

// Writes back the dirty pages of one served piece (a registry range).
// Pages that could not be written stay dirty (frozen ones too: the caller
// must not replace the range then, see revoke.cpp), and the file's error is
// kept for take_error().
Outcome piece(const registry::Range& p, Mode mode);

// A writeback of (dev, ino) failed since the last call: the errno, once
// (fsync and friends report it, as the page cache reports its writeback
// errors); 0 if none. any_error() is one load.
int take_error(dev_t dev, ino_t ino);
bool any_error();

void after_fork_child();
// Under the served-ranges lock, before [lo, hi) stops being a registered
// range, or before cmbmap moves, closes or gives up its fd fd: waits for
// writes from another thread out of the range (lo == hi: none) or through
// fd (-1: none) to finish.
void wait_for_writes(uintptr_t lo, uintptr_t hi, int fd);

}  // namespace cmbmap::writeback
