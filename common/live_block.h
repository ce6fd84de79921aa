// Another running process's statistics block (common/stats.h), as a reader
// sees it: `cmbmap stat` and `cmbmap reclaim`, and a mapping that finds the
// CMB full and asks other processes for room (shim/giveback/share.h). Never
// allocates: the library reads blocks inside the program's mmap calls.
#pragma once

#include <cstdint>
#include <sys/types.h>

#include "cmbmap/cmbmap.h"

namespace cmbmap::live_block {

// Reads the block at path; false if it is gone, short, not a block or not
// a regular file (anyone may create entries in /run/cmbmap: a FIFO there
// must not block the reader). *owner: the file's owner, from the open file
// (a symlink swapped in later cannot lend it another's).
bool read(const char* path, cmbmap_stats* out, uid_t* owner = nullptr);
// The block names a watcher thread of that very process (a thread other
// than its main one, named cmbmap-watch, owned by the block's owner) waiting
// on a real-time signal: anything else is never signalled, so a forged block
// cannot aim a signal (whose default is to kill) at another task. Checked
// again just before each signal (the task may have exited and its number
// been reused meanwhile).
bool watcher_plausible(uid_t owner, uint64_t pid, uint64_t tid, uint64_t signal);
// The block's slot for controller name ("nvme0"), -1 if it has none.
int slot_of(const cmbmap_stats& s, const char* controller);
// CMB the process holds now on controller name ("" or null: on all).
uint64_t held_on(const cmbmap_stats& s, const char* controller);
// The process still runs (or its pid was reused: watcher_plausible tells).
bool alive(uint64_t pid);

}  // namespace cmbmap::live_block
