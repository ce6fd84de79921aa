// Another running process's statistics block (common/stats.h), as a reader
// sees it: `cmbmap stat` and `cmbmap reclaim`, and a mapping that finds the
// CMB full and asks other processes for room (shim/giveback/share.h). Never
// allocates: the library reads blocks inside the program's mmap calls.
#pragma once

#include <cstdint>

#include "cmbmap/cmbmap.h"

namespace cmbmap::live_block {

// Reads the block at path; false if it is gone, short or not a block.
bool read(const char* path, cmbmap_stats* out);
// The block names a watcher thread of that very process (named
// cmbmap-watch, owned by the same user as the block's file) waiting on a
// real-time signal: anything else is never signalled, so a forged block
// cannot aim a signal (whose default is to kill) at another task.
bool watcher_plausible(const char* path, const cmbmap_stats& s);
// The block's slot for controller name ("nvme0"), -1 if it has none.
int slot_of(const cmbmap_stats& s, const char* controller);
// CMB the process holds now on controller name ("" or null: on all).
uint64_t held_on(const cmbmap_stats& s, const char* controller);
// The process still runs (or its pid was reused: watcher_plausible tells).
bool alive(uint64_t pid);

}  // namespace cmbmap::live_block
