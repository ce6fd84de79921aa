// Served-range registry (see registry.h).
#include "shim/tier/registry.h"

#include "common/stats.h"
#include "prim/prim.h"

namespace cmbmap::registry {
namespace {

Range g_ranges[kCapacity];
size_t g_count;  // read racily only through empty()
uint64_t g_clock;  // use stamps
constexpr size_t kSplitReserve = 64;
prim::SpinLock g_lock;

struct Guard : prim::SpinHold {
  Guard() : prim::SpinHold(g_lock) {}
};

void insert_at(size_t i, const Range& r) {
  for (size_t k = g_count; k > i; --k) g_ranges[k] = g_ranges[k - 1];
  g_ranges[i] = r;
  __atomic_store_n(&g_count, g_count + 1, __ATOMIC_RELEASE);
}

void erase_at(size_t i) {
  for (size_t k = i; k + 1 < g_count; ++k) g_ranges[k] = g_ranges[k + 1];
  __atomic_store_n(&g_count, g_count - 1, __ATOMIC_RELEASE);
}

}  // namespace

bool empty() { return __atomic_load_n(&g_count, __ATOMIC_ACQUIRE) == 0; }

size_t count() {
  Guard g;
  return g_count;
}

bool overlaps(uintptr_t start, size_t len) {
  if (empty()) return false;
  uintptr_t end = start + len;
  Guard g;
  for (size_t i = 0; i < g_count; ++i)
    if (g_ranges[i].start < end && start < g_ranges[i].end) return true;
  return false;
}

bool has_file(dev_t dev, ino_t ino) {
  if (empty()) return false;
  Guard g;
  for (size_t i = 0; i < g_count; ++i)
    if (g_ranges[i].dev == dev && g_ranges[i].ino == ino) return true;
  return false;
}

bool add(const Range& r) {
  if (r.start >= r.end) return false;
  Guard g;
  // Headroom: unmapping the middle of a range splits it in two.
  if (g_count + kSplitReserve >= kCapacity) return false;
  size_t i = 0;
  while (i < g_count && g_ranges[i].end <= r.start) ++i;
  if (i < g_count && g_ranges[i].start < r.end) return false;
  insert_at(i, r);
  g_ranges[i].stamp = ++g_clock;
  stats::add_held(r.ctrl, (int64_t)(r.end - r.start));
  return true;
}

size_t remove(uintptr_t start, size_t len) {
  if (empty()) return 0;
  uintptr_t end = start + len;
  size_t removed = 0;
  Guard g;
  for (size_t i = 0; i < g_count;) {
    Range& cur = g_ranges[i];
    if (cur.end <= start || cur.start >= end) { ++i; continue; }
    uintptr_t cut_lo = cur.start > start ? cur.start : start;
    uintptr_t cut_hi = cur.end < end ? cur.end : end;
    if (cut_lo > cur.start && cut_hi < cur.end && g_count == kCapacity)
      return removed;  // cannot split: keep it whole (conservative)
    removed += cut_hi - cut_lo;
    stats::add_held(cur.ctrl, -(int64_t)(cut_hi - cut_lo));
    if (cut_lo > cur.start && cut_hi < cur.end) {
      // A hole in the middle: keep both sides.
      Range right = cur;
      right.start = cut_hi;
      right.file_offset += cut_hi - cur.start;
      cur.end = cut_lo;
      insert_at(i + 1, right);
      i += 2;
    } else if (cut_lo > cur.start) {
      cur.end = cut_lo;
      ++i;
    } else if (cut_hi < cur.end) {
      cur.file_offset += cut_hi - cur.start;
      cur.start = cut_hi;
      ++i;
    } else {
      erase_at(i);
    }
  }
  return removed;
}

size_t collect(uintptr_t start, size_t len, Range* out, size_t cap) {
  if (empty()) return 0;
  uintptr_t end = start + len;
  size_t n = 0;
  Guard g;
  for (size_t i = 0; i < g_count && n < cap; ++i) {
    const Range& r = g_ranges[i];
    if (r.end <= start || r.start >= end) continue;
    Range c = r;
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
  for (size_t i = 0; i < g_count && n < cap; ++i)
    if (g_ranges[i].end > from && g_ranges[i].dev == dev && g_ranges[i].ino == ino) out[n++] = g_ranges[i];
  return n;
}

bool uses_fd(int fd) {
  if (empty()) return false;
  Guard g;
  for (size_t i = 0; i < g_count; ++i)
    if (g_ranges[i].fd == fd) return true;
  return false;
}

bool covers_whole(uintptr_t start, size_t len) {
  uintptr_t end = start + len;
  Guard g;
  for (size_t i = 0; i < g_count; ++i) {
    const Range& r = g_ranges[i];
    if (r.end <= start || r.start >= end) continue;
    if (r.start < start || r.end > end) return false;
  }
  return true;
}

void relocate_fd(int from, int to) {
  Guard g;
  for (size_t i = 0; i < g_count; ++i)
    if (g_ranges[i].fd == from) g_ranges[i].fd = to;
}

void set_prot(uintptr_t start, size_t len, int prot) {
  // Only whole ranges carry one prot; callers split first (mprotect on
  // part of a range is rare: the range is then given back instead).
  uintptr_t end = start + len;
  Guard g;
  for (size_t i = 0; i < g_count; ++i)
    if (g_ranges[i].start >= start && g_ranges[i].end <= end) g_ranges[i].prot = prot;
}

void touch(uintptr_t start, size_t len) {
  uintptr_t end = start + len;
  Guard g;
  ++g_clock;
  for (size_t i = 0; i < g_count; ++i)
    if (g_ranges[i].start < end && start < g_ranges[i].end) g_ranges[i].stamp = g_clock;
}

bool oldest(int ctrl, uintptr_t keep, size_t keep_len, Range* out) {
  uintptr_t keep_end = keep + keep_len;
  Guard g;
  const Range* best = nullptr;
  for (size_t i = 0; i < g_count; ++i) {
    const Range& r = g_ranges[i];
    if ((ctrl >= 0 && r.ctrl != ctrl) || (r.start < keep_end && keep < r.end)) continue;
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
  __atomic_store_n(&g_count, 0, __ATOMIC_RELEASE);
}

}  // namespace cmbmap::registry
