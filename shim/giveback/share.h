// One CMB shared between processes. A mapping that finds the CMB full (after
// this process gave back its own least recently used ranges) asks the other
// processes under cmbmap that hold memory there, least recently active first,
// for their least recently used ranges: the request `cmbmap reclaim` sends,
// marked as from a peer, to each one's watcher thread. Each keeps the ranges
// it used within its grace time (CMBMAP_SHARE_GRACE_MS), so busy processes do
// not take memory back and forth. The kernel lets a process signal only the
// same user's processes (root: everyone's); the others are not asked.
// Anyone may put a file in /run/cmbmap: a block is believed only as far as
// the kernel vouches for it (live_block.h), all the waiting of one mapping
// call is bounded, and a process that did not answer is not asked again for
// a while.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

#include "cmbmap/cmbmap.h"

namespace cmbmap::share {

// Another process that may be asked, from its statistics block.
struct Peer {
  uint64_t pid, tid, signal;    // its watcher thread and signal
  uid_t owner;                  // the block's owner (the task must be its)
  int slot;                     // its slot for the controller
  uint64_t last_use;            // when it last used its CMB there
  uint64_t answered, given;     // its share_answers and share_given_bytes when read
  char path[112];               // the block, read again for the answer
};
constexpr size_t kMaxPeers = 8;

// Whether the block at path (owned by owner) is a peer to ask for room on
// controller: another live process that holds CMB there, with a watcher
// thread to ask; fills *out.
bool candidate(const char* path, uid_t owner, const cmbmap_stats& s, const char* controller, pid_t self, Peer* out);
// Adds p to list (n entries, at most cap), least recently active first; when
// the list is full the most recently active one is left out.
void consider(Peer* list, size_t* n, size_t cap, const Peer& p);
// Asks other processes for bytes of CMB on controller (a name, "nvme0"),
// one at a time, calling room(ctx) after each answer until it returns true;
// returns whether it did. Waits at most about a second plus the time to zero
// `bytes` of CMB memory in all.
bool ask(const char* controller, uint64_t bytes, bool (*room)(void*), void* ctx);
// CMBMAP_SHARE: false, and this process never asks.
void set_enabled(bool on);

}  // namespace cmbmap::share
