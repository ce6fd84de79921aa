// The registry of served ranges: where in this process device memory is
// mapped, and the file bytes it holds. What the mmap-family hooks ask before
// forwarding ("is this address cmbmap's?") and what the file hooks ask
// ("does this file have served ranges?"). Sorted by address and indexed by
// file and by fd, so every lookup is a binary search; it grows on demand
// without the heap (no fixed limit: the CMB and vm.max_map_count bound it).
// Guarded by a spin lock; empty() is one atomic load for the common case.
// It also keeps the per-controller "held now" statistics exact, since every
// served byte enters and leaves through it.
//
// Changes (add, remove, relocate) are made under the served-ranges lock
// (served_lock.h); the spin lock only keeps readers consistent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

namespace cmbmap::registry {

struct Range {
  uintptr_t start;     // page aligned
  uintptr_t end;       // exclusive
  dev_t dev;           // the file behind the range
  ino_t ino;
  uint64_t file_offset;  // file offset of start
  int fd;              // cmbmap's duplicate of the program's fd, to map the file back
  int prot;            // as the program asked
  int flags;           // MAP_SHARED or MAP_PRIVATE (plus harmless flags)
  int ctrl;            // the controller's stats slot (stats::controller_slot), -1 none
  uint64_t stamp;      // last use (CLOCK_MONOTONIC ns), for least-recently-used eviction (set by add/touch)
  dev_t cmb_dev;       // the CMB mapping's identity in /proc/self/maps, so a
  ino_t cmb_ino;       // give-back never maps over something else
};

// Reserves the registry's first storage; at start-up, before the program's
// mappings (false if the kernel refused: add() tries again).
bool init();
bool empty();
bool overlaps(uintptr_t start, size_t len);
bool has_file(dev_t dev, ino_t ino);
bool add(const Range& r);  // false: overlapping, or no memory to grow (stamps it)
// Removes [start, start+len) from every range, splitting where needed.
// Returns the number of bytes that were registered there.
size_t remove(uintptr_t start, size_t len);
// Copies the registered pieces inside [start, start+len), clipped to it.
size_t collect(uintptr_t start, size_t len, Range* out, size_t cap);
// Copies the ranges of one file that end after `from`, in address order.
size_t collect_file(dev_t dev, ino_t ino, Range* out, size_t cap, uintptr_t from = 0);

// The one batch loop: calls fn(pieces, n) with the registered pieces inside
// [start, end) (or of one file), copied out in address order, up to kBatch
// at a time, so fn may change the registry (give back, remove) between
// batches. Each batch starts after the last one's end: a piece fn leaves in
// place is not seen twice. Stops early when fn returns false.
constexpr size_t kBatch = 64;
template <typename Fn>
void for_each_batch(uintptr_t start, uintptr_t end, Fn fn) {
  Range batch[kBatch];
  for (uintptr_t from = start; from < end;) {
    const size_t n = collect(from, end - from, batch, kBatch);
    if (n == 0 || !fn(batch, n)) return;
    from = batch[n - 1].end;
  }
}
template <typename Fn>
void for_each_batch_of_file(dev_t dev, ino_t ino, Fn fn) {
  Range batch[kBatch];
  for (uintptr_t from = 0;;) {
    const size_t n = collect_file(dev, ino, batch, kBatch, from);
    if (n == 0 || !fn(batch, n)) return;
    from = batch[n - 1].end;
  }
}
// True if a registered range, or the serve under way, uses fd (whoever
// gives a range back closes its fd only when this is false).
bool uses_fd(int fd);
// The serve under way (under the served-ranges lock) holds fd before its
// ranges are registered: room made for it may give back the ranges it shares
// the fd with. Returns the fd held before (restore it when done).
int hold_fd(int fd);
// True if every range overlapping [start, start+len) lies inside it.
bool covers_whole(uintptr_t start, size_t len);
void relocate_fd(int from, int to);   // the program is about to reuse `from`
// Changes the recorded protection of the pieces inside [start, start+len).
void set_prot(uintptr_t start, size_t len, int prot);
// Marks the ranges overlapping [start, start+len) as just used.
void touch(uintptr_t start, size_t len);
// MAP_LOCKED as the program asked for it (the kernel never locks CMB
// memory): set on any range overlapping [start, start+len); cleared on the
// ranges wholly inside (munlock).
bool any_locked(uintptr_t start, size_t len);
void set_unlocked(uintptr_t start, size_t len);
// The least recently used range on controller slot ctrl (-1: any) that lies
// outside [keep, keep+keep_len) and was last used before used_before (a
// monotonic time); false if there is none.
bool oldest(int ctrl, uintptr_t keep, size_t keep_len, Range* out, uint64_t used_before = UINT64_MAX);
size_t count();
void after_fork_child();
void clear();                             // after exec-like resets, tests

}  // namespace cmbmap::registry
