// Served-range registry (see registry.h).
//
// Each range lives in a slot of a pool that does not move it while it is
// registered; sorted arrays of slot numbers order them, kept in step under
// the lock, each in its own anonymous mapping (prim::MappedArray: no heap,
// no fixed limit):
//   - by address, for every question about an address range;
//   - by (dev, ino, start), for the questions about one file;
//   - and each of cmbmap's fds with the number of ranges that use it.
// Lookups are binary searches, O(log n). Inserting and erasing shift the
// slot numbers that follow: O(n), but 4 bytes a range (40 KB for 10000),
// where shifting the ranges themselves would move 88 bytes each. Lookups
// happen on every call of the program, changes only when a range is served
// or given back.
#include "shim/tier/registry.h"

#include <sys/mman.h>

#include "common/stats.h"
#include "prim/mapped_array.h"
#include "prim/prim.h"

namespace cmbmap::registry {
namespace {

struct FileKey {
  dev_t dev;
  ino_t ino;
  uintptr_t start;
};
bool operator<(const FileKey& a, const FileKey& b) {
  if (a.dev != b.dev) return a.dev < b.dev;
  if (a.ino != b.ino) return a.ino < b.ino;
  return a.start < b.start;
}
FileKey key_of(const Range& r) { return {r.dev, r.ino, r.start}; }
bool same_file(const Range& r, dev_t dev, ino_t ino) { return r.dev == dev && r.ino == ino; }

struct FdUse {
  int fd;
  uint32_t ranges;
};

prim::MappedArray<Range> g_pool;        // the ranges, in slots [0, g_slots_used)
prim::MappedArray<uint32_t> g_free;     // slots given back, [0, g_free_count)
prim::MappedArray<uint32_t> g_by_addr;  // slots by start; ranges never overlap, so also by end
prim::MappedArray<uint32_t> g_by_file;  // slots by (dev, ino, start)
prim::MappedArray<FdUse> g_fds;         // by fd; never more entries than ranges
size_t g_count;       // ranges; read racily only through empty()
size_t g_slots_used;  // slots ever handed out (their high-water mark)
size_t g_free_count;
size_t g_fd_count;    // distinct fds
uint64_t g_clock;     // the last use stamp handed out
// What the registry starts with (as many ranges as it ever held before it
// could grow), reserved at start-up: a later first mapping could land in a
// hole the program has just made and means to grow into. Doublings beyond
// it are rare (log2 of the ranges served).
constexpr size_t kInitial = 1024;
// Headroom add() leaves: unmapping the middle of a range splits it in two,
// and remove() must record the split even if the arrays cannot grow then.
constexpr size_t kSplitReserve = 64;
prim::SpinLock g_lock;

struct Guard : prim::SpinHold {
  Guard() : prim::SpinHold(g_lock) {}
};

// Room for n ranges in every array; false if the kernel refuses more memory.
bool room_for(size_t n) {
  return g_pool.reserve(n) && g_free.reserve(n) && g_by_addr.reserve(n) && g_by_file.reserve(n) && g_fds.reserve(n);
}
size_t capacity() {
  const size_t caps[] = {g_pool.capacity(), g_free.capacity(), g_by_addr.capacity(), g_by_file.capacity(),
                         g_fds.capacity()};
  size_t c = caps[0];
  for (size_t other : caps) c = other < c ? other : c;
  return c;
}

// The i-th range by address.
Range& at(size_t i) { return g_pool[g_by_addr[i]]; }

// The first range that ends after a (g_count if none): the first one that
// can overlap anything from a on.
size_t first_ending_after(uintptr_t a) {
  size_t lo = 0, hi = g_count;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (at(mid).end > a) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// The first place in the file order whose range is not below k.
size_t file_position(const FileKey& k) {
  size_t lo = 0, hi = g_count;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (key_of(g_pool[g_by_file[mid]]) < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// The fd's entry, or where it would go.
size_t fd_position(int fd) {
  size_t lo = 0, hi = g_fd_count;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (g_fds[mid].fd < fd) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
bool fd_at(size_t i, int fd) { return i < g_fd_count && g_fds[i].fd == fd; }

void count_fd(int fd, uint32_t ranges) {
  const size_t i = fd_position(fd);
  if (fd_at(i, fd)) {
    g_fds[i].ranges += ranges;
    return;
  }
  g_fds.insert(i, g_fd_count, FdUse{fd, ranges});
  ++g_fd_count;
}

// Forgets ranges uses of fd; returns how many it had.
uint32_t uncount_fd(int fd, uint32_t ranges) {
  const size_t i = fd_position(fd);
  if (!fd_at(i, fd)) return 0;
  const uint32_t had = g_fds[i].ranges;
  g_fds[i].ranges = had > ranges ? had - ranges : 0;
  if (g_fds[i].ranges == 0) {
    g_fds.erase(i, g_fd_count);
    --g_fd_count;
  }
  return had;
}

// Needs room for one more range (room_for): fewer live ranges than slots,
// so either a slot was given back or one was never used.
void insert_range(size_t i, const Range& r) {
  const uint32_t slot = g_free_count ? g_free[--g_free_count] : (uint32_t)g_slots_used++;
  g_pool[slot] = r;
  g_by_file.insert(file_position(key_of(r)), g_count, slot);
  g_by_addr.insert(i, g_count, slot);
  count_fd(r.fd, 1);
  __atomic_store_n(&g_count, g_count + 1, __ATOMIC_RELEASE);
}

void erase_range(size_t i) {
  const uint32_t slot = g_by_addr[i];
  g_by_file.erase(file_position(key_of(g_pool[slot])), g_count);
  g_by_addr.erase(i, g_count);
  uncount_fd(g_pool[slot].fd, 1);
  g_free[g_free_count++] = slot;
  __atomic_store_n(&g_count, g_count - 1, __ATOMIC_RELEASE);
}

// Range i loses its head up to new_start (inside it). Its place in the file
// order stays: no other range of the file starts inside this one.
void trim_head(size_t i, uintptr_t new_start) {
  Range& r = at(i);
  r.file_offset += new_start - r.start;
  r.start = new_start;
}

// A split needs one more slot: grow to keep the reserve if the kernel
// allows; true while at least one slot is free.
bool room_for_split() {
  room_for(g_count + 1 + kSplitReserve);
  return g_count < capacity();
}

// Cuts [start, end) out of range i; the number of ranges now at i and
// after it that the cut left (0, 1 or 2).
size_t cut(size_t i, uintptr_t start, uintptr_t end) {
  const Range cur = at(i);
  const uintptr_t lo = cur.start > start ? cur.start : start, hi = cur.end < end ? cur.end : end;
  stats::add_held(cur.ctrl, -(int64_t)(hi - lo));
  if (lo > cur.start && hi < cur.end) {  // a hole in the middle: keep both sides
    Range right = cur;
    right.start = hi;
    right.file_offset += hi - cur.start;
    at(i).end = lo;
    insert_range(i + 1, right);
    return 2;
  }
  if (lo > cur.start) at(i).end = lo;
  else if (hi < cur.end) trim_head(i, hi);
  else erase_range(i);
  return lo > cur.start || hi < cur.end ? 1 : 0;
}

}  // namespace

bool empty() { return __atomic_load_n(&g_count, __ATOMIC_ACQUIRE) == 0; }

size_t count() {
  Guard g;
  return g_count;
}

bool init() {
  Guard g;
  return room_for(kInitial);
}

bool overlaps(uintptr_t start, size_t len) {
  if (empty()) return false;
  Guard g;
  const size_t i = first_ending_after(start);
  return i < g_count && at(i).start < start + len;
}

bool has_file(dev_t dev, ino_t ino) {
  if (empty()) return false;
  Guard g;
  const size_t j = file_position({dev, ino, 0});
  return j < g_count && same_file(g_pool[g_by_file[j]], dev, ino);
}

// A use stamp: the time (CLOCK_MONOTONIC, the same in every process, so
// other processes can tell how long ago this one used its CMB), strictly
// increasing here; published per controller (cmbmap_stats.last_use_ns).
// Under the registry's lock.
static uint64_t next_stamp(int ctrl) {
  const uint64_t now = prim::monotonic_ns();
  g_clock = now > g_clock ? now : g_clock + 1;
  if (ctrl >= 0 && ctrl < 8) __atomic_store_n(&stats::get()->last_use_ns[ctrl], g_clock, __ATOMIC_RELAXED);
  return g_clock;
}

bool add(const Range& r) {
  if (r.start >= r.end) return false;
  Guard g;
  // Growing the arrays is what can fail here: the caller falls back.
  if (!room_for(g_count + 1 + kSplitReserve)) return false;
  const size_t i = first_ending_after(r.start);
  if (i < g_count && at(i).start < r.end) return false;
  Range stamped = r;
  stamped.stamp = next_stamp(r.ctrl);
  insert_range(i, stamped);
  stats::add_held(r.ctrl, (int64_t)(r.end - r.start));
  return true;
}

size_t remove(uintptr_t start, size_t len) {
  if (empty()) return 0;
  const uintptr_t end = start + len;
  size_t removed = 0;
  Guard g;
  for (size_t i = first_ending_after(start); i < g_count && at(i).start < end;) {
    const Range& cur = at(i);
    const uintptr_t lo = cur.start > start ? cur.start : start, hi = cur.end < end ? cur.end : end;
    // No room to record a split: keep the range whole (conservative: it
    // stays cmbmap's and is given back later as a whole).
    if (lo > cur.start && hi < cur.end && !room_for_split()) return removed;
    removed += hi - lo;
    i += cut(i, start, end);
  }
  return removed;
}

size_t collect(uintptr_t start, size_t len, Range* out, size_t cap) {
  if (empty()) return 0;
  const uintptr_t end = start + len;
  size_t n = 0;
  Guard g;
  for (size_t i = first_ending_after(start); i < g_count && at(i).start < end && n < cap; ++i) {
    Range c = at(i);
    if (c.start < start) { c.file_offset += start - c.start; c.start = start; }
    if (c.end > end) c.end = end;
    out[n++] = c;
  }
  return n;
}

size_t collect_file(dev_t dev, ino_t ino, Range* out, size_t cap, uintptr_t from) {
  if (empty()) return 0;
  size_t n = 0;
  Guard g;
  size_t j = file_position({dev, ino, from});
  // The file's range that starts before `from` may still end after it.
  if (j > 0 && same_file(g_pool[g_by_file[j - 1]], dev, ino) && g_pool[g_by_file[j - 1]].end > from) --j;
  for (; j < g_count && same_file(g_pool[g_by_file[j]], dev, ino) && n < cap; ++j) out[n++] = g_pool[g_by_file[j]];
  return n;
}

namespace {
int g_held_fd = -1;
}  // namespace

int hold_fd(int fd) { return __atomic_exchange_n(&g_held_fd, fd, __ATOMIC_ACQ_REL); }

bool uses_fd(int fd) {
  if (fd >= 0 && __atomic_load_n(&g_held_fd, __ATOMIC_ACQUIRE) == fd) return true;
  if (empty()) return false;
  Guard g;
  return fd_at(fd_position(fd), fd);
}

bool covers_whole(uintptr_t start, size_t len) {
  const uintptr_t end = start + len;
  Guard g;
  for (size_t i = first_ending_after(start); i < g_count && at(i).start < end; ++i)
    if (at(i).start < start || at(i).end > end) return false;
  return true;
}

void relocate_fd(int from, int to) {
  Guard g;
  const uint32_t ranges = uncount_fd(from, UINT32_MAX);
  if (ranges == 0) return;
  // Entries never outnumber ranges, so the one for `to` has room.
  count_fd(to, ranges);
  // Rare (the program reuses one of cmbmap's fd numbers): a plain pass.
  for (size_t i = 0; i < g_count; ++i)
    if (at(i).fd == from) at(i).fd = to;
}

void set_prot(uintptr_t start, size_t len, int prot) {
  // Only whole ranges carry one prot; callers split first (mprotect on
  // part of a range is rare: the range is then given back instead).
  const uintptr_t end = start + len;
  Guard g;
  for (size_t i = first_ending_after(start); i < g_count && at(i).start < end; ++i)
    if (at(i).start >= start && at(i).end <= end) at(i).prot = prot;
}

bool any_locked(uintptr_t start, size_t len) {
  const uintptr_t end = start + len;
  Guard g;
  for (size_t i = first_ending_after(start); i < g_count && at(i).start < end; ++i)
    if (at(i).flags & MAP_LOCKED) return true;
  return false;
}

void set_unlocked(uintptr_t start, size_t len) {
  const uintptr_t end = start + len;
  Guard g;
  for (size_t i = first_ending_after(start); i < g_count && at(i).start < end; ++i)
    if (at(i).start >= start && at(i).end <= end) at(i).flags &= ~MAP_LOCKED;
}

void touch(uintptr_t start, size_t len) {
  const uintptr_t end = start + len;
  Guard g;
  for (size_t i = first_ending_after(start); i < g_count && at(i).start < end; ++i)
    at(i).stamp = next_stamp(at(i).ctrl);
}

bool oldest(int ctrl, uintptr_t keep, size_t keep_len, Range* out, uint64_t used_before) {
  // A pass over all ranges: asked only to evict, once per range given back,
  // which costs far more (a give-back reads /proc/self/maps).
  const uintptr_t keep_end = keep + keep_len;
  Guard g;
  const Range* best = nullptr;
  for (size_t i = 0; i < g_count; ++i) {
    const Range& r = at(i);
    if ((ctrl >= 0 && r.ctrl != ctrl) || (r.start < keep_end && keep < r.end) || r.stamp >= used_before) continue;
    if (!best || r.stamp < best->stamp) best = &r;
  }
  if (best) *out = *best;
  return best != nullptr;
}

void after_fork_child() {
  // Changes happen under serial's lock, which the forking thread held:
  // only a reader can have held this one, and it is gone.
  g_lock.reset();
}

void clear() {
  Guard g;
  g_fd_count = 0;
  g_free_count = 0;
  g_slots_used = 0;
  __atomic_store_n(&g_count, 0, __ATOMIC_RELEASE);
}

}  // namespace cmbmap::registry
