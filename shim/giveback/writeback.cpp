// Writing stores back (see writeback.h).
#include "shim/giveback/writeback.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "resolver/fiemap.h"
#include "prim/prim.h"
#include "prim/stable_table.h"
#include "shim/giveback/dirty.h"
#include "shim/tier/io_cache.h"
#include "shim/tier/nvme.h"
#include "common/log.h"
#include "shim/tier/served_lock.h"
#include "common/stats.h"

namespace cmbmap::writeback {
namespace {

constexpr size_t kSegs = 64;

// The blocks behind one writable served range, as its serve planned them.
struct Blocks {
  uintptr_t start, end;  // 0, 0: free
  uint64_t file_offset;
  dev_t dev;
  ino_t ino;
  NvmeTarget target;
  Segment segs[kSegs];
  size_t nsegs;
  int unflushed;  // NVMe writes went to the drive since its cache was last flushed (atomic)
};
// One entry per writable served range, without a fixed limit; a writer
// outside the lock keeps a pointer to its entry, so they never move.
// Changed and searched under the served-ranges lock.
prim::StableTable<Blocks, 256, 4096> g_blocks;  // a million: past any vm.max_map_count in use

// Files whose writeback failed, until an fsync reports it (under the
// served-ranges lock; the oldest is forgotten when full).
struct Failed { dev_t dev; ino_t ino; int err; };
Failed g_failed[32];
unsigned g_failed_count;  // entries in use (read racily by any_error)

void note_error(const registry::Range& p, int err) {
  for (unsigned i = 0; i < g_failed_count; ++i)
    if (g_failed[i].dev == p.dev && g_failed[i].ino == p.ino) return;
  if (g_failed_count == sizeof g_failed / sizeof g_failed[0]) --g_failed_count;
  g_failed[g_failed_count] = Failed{p.dev, p.ino, err};
  __atomic_store_n(&g_failed_count, g_failed_count + 1, __ATOMIC_RELEASE);
}

// The blocks p's serve remembered: the entry that covers p for p's file at
// p's offset. (Another entry may cover p's addresses: a range given back in
// part keeps its entry while the rest is served, and the part given back
// may be served again for another file.)
Blocks* blocks_of(const registry::Range& p) {
  return g_blocks.find([&p](const Blocks& l) {
    return l.start <= p.start && p.end <= l.end && l.dev == p.dev && l.ino == p.ino &&
           l.file_offset + (p.start - l.start) == p.file_offset;
  });
}

// The last block of a file that ends inside one, bounced: past EOF it must
// hold zeros (as the kernel's writeback of a partial page leaves it), and
// cmbmap never stores into a page it has write-protected.
alignas(4096) uint8_t g_tail[4096];

// NVMe writes of the file bytes [off, off+len) from CMB memory at src.
int write_blocks(const Blocks* l, uintptr_t src, uint64_t off, size_t len) {
  io_cache::Use use;  // g_tail too: writebacks of two threads may run at once
  const size_t lba = l->target.lba_size ? l->target.lba_size : 512;
  const size_t whole = len / lba * lba;
  if (whole) {
    const int err = nvme::write_blocks(l->target, l->segs, l->nsegs, (const void*)src, off, whole);
    if (err || whole == len) return err;
  }
  if (lba > sizeof g_tail) return ENODEV;  // through the file instead
  const auto* from = reinterpret_cast<const volatile uint8_t*>(src + whole);
  for (size_t i = 0; i < lba; ++i) g_tail[i] = i < len - whole ? from[i] : 0;
  return nvme::write_blocks(l->target, l->segs, l->nsegs, g_tail, off + whole, lba);
}

// Writes one run of dirty pages [run.start, run.end) at file offset off.
// *direct: by NVMe command (else through the page cache).
int write_run(const registry::Range& p, Blocks* l, bool in_place, const dirty::Run& run, uint64_t size,
              bool* direct) {
  const uint64_t off = p.file_offset + (run.start - p.start);
  if (off >= size) return 0;  // wholly past EOF: the kernel drops such stores too
  const size_t len = run.end - run.start;
  const size_t in_file = size - off < len ? (size_t)(size - off) : len;
  *direct = false;
  if (in_place && l) {
    const int err = write_blocks(l, run.start, off, in_file);
    if (!err) {
      *direct = true;
      // Until a durable commit flushes the drive's cache, whoever's it is.
      __atomic_store_n(&l->unflushed, 1, __ATOMIC_RELEASE);
      stats::add(&cmbmap_stats::writeback_direct_bytes, in_file);
      return 0;
    }
    if (err != ENODEV)
      log::Line(LogLevel::Warn).s("NVMe write of ").u(in_file).s(" bytes at file offset ").u(off)
          .s(" failed (errno ").i(err).s("): writing through the file instead").emit();
  }
  int err = prim::pwrite_all(p.fd, (const void*)run.start, in_file, off);
  // On to the blocks at once: a later writeback of these pages may go by
  // NVMe command, and the page cache must not hold a dirty older copy then.
  if (!err) err = prim::sync_range(p.fd, off, in_file);
  if (!err) stats::add(&cmbmap_stats::writeback_file_bytes, in_file);
  return -err;
}

}  // namespace

bool remember(uintptr_t start, uintptr_t end, uint64_t file_offset, dev_t dev, ino_t ino, const NvmeTarget& target,
              const Segment* segs, size_t nsegs) {
  if (nsegs > kSegs) return false;
  Blocks* l = g_blocks.free_entry([](const Blocks& b) { return b.start == b.end; });
  if (!l) return false;
  l->file_offset = file_offset;
  l->dev = dev;
  l->ino = ino;
  l->target = target;
  for (size_t i = 0; i < nsegs; ++i) l->segs[i] = segs[i];
  l->nsegs = nsegs;
  l->unflushed = 0;
  l->start = start;
  l->end = end;
  return true;
}

void forget_unused() {
  for (size_t i = 0; i < g_blocks.size(); ++i) {
    Blocks& l = g_blocks[i];
    if (l.start != l.end && !registry::overlaps(l.start, l.end - l.start)) l.start = l.end = 0;
  }
}

namespace {

// The commit check: NVMe writes go to the blocks the plan found, so they
// must still be the file's (and written, unshared).
bool blocks_in_place(const registry::Range& p, const Blocks* l, Outcome* o) {
  if (!l) return false;
  if (segments_in_place(p.fd, l->segs, l->nsegs)) return true;
  o->moved = true;
  stats::add(&cmbmap_stats::commit_check_failures, 1);
  log::Line(LogLevel::Info).s("commit check: the blocks behind ").x(p.start).s(" moved; writing through the file")
      .emit();
  return false;
}

// What one window's runs came to.
struct Written {
  bool direct = false;
  dirty::Run failed[64];
  size_t nfailed = 0;
  bool unfrozen = false;  // freezing: a dirty page could not be write-protected
};

// The file's size, which tells the runs past EOF: false (the error noted
// and logged) if it cannot be had, and then nothing may be written.
bool file_size(const registry::Range& p, uintptr_t at, Outcome* o, uint64_t* size) {
  struct stat st;
  const int stat_err = prim::fstat_fd(p.fd, &st);
  if (stat_err == 0) {
    *size = (uint64_t)st.st_size;
    return true;
  }
  o->err = -stat_err;
  stats::add(&cmbmap_stats::writeback_errors, 1);
  log::Line(LogLevel::Error).s("writing back ").x(at).s(": the file's size is unknown (errno ").i(-stat_err).s(")")
      .emit();
  return false;
}

// Writes one run: its bytes counted, or its error noted and logged.
bool write_one(const registry::Range& p, Blocks* l, bool in_place, const dirty::Run& run, uint64_t size,
               Outcome* o, bool* direct) {
  const int err = write_run(p, l, in_place, run, size, direct);
  if (!err) {
    o->bytes += run.end - run.start;
    return true;
  }
  o->err = err;
  stats::add(&cmbmap_stats::writeback_errors, 1);
  log::Line(LogLevel::Error).s("writing back ").x(run.start).s("+").u(run.end - run.start).s(" failed (errno ")
      .i(err).s(")").emit();
  return false;
}

// Writes the runs taken from [lo, hi), taking more until none are left there.
void write_runs(const registry::Range& p, Blocks* l, bool in_place, bool freeze, uintptr_t hi,
                dirty::Run* runs, size_t n, Outcome* o, Written* w) {
  uint64_t size = 0;
  if (!file_size(p, runs[0].start, o, &size)) {
    // A run past EOF cannot be told from one before it: nothing is
    // written, the runs taken are dirty again.
    for (size_t i = 0; i < n; ++i) dirty::redirty(runs[i].start, runs[i].end);
    return;
  }
  for (; n > 0; n = runs[n - 1].end < hi ? dirty::take(runs[n - 1].end, hi, freeze, runs, 64, &w->unfrozen) : 0) {
    for (size_t i = 0; i < n; ++i) {
      if (write_one(p, l, in_place, runs[i], size, o, &w->direct)) {
        const uintptr_t eof = p.start + (size - p.file_offset);
        if (!freeze && size > p.file_offset && runs[i].start < eof && eof < runs[i].end)
          dirty::clear_past_eof(eof, (eof + prim::page_size() - 1) & ~(uintptr_t)(prim::page_size() - 1));
        continue;
      }
      w->failed[w->nfailed++] = runs[i];
      if (w->nfailed == sizeof w->failed / sizeof w->failed[0]) {
        // No room to note more: the runs taken and not tried yet are dirty
        // again now (not taken again by this call), the rest of the window
        // stays untaken, and the caller makes the noted ones dirty again.
        for (size_t k = i + 1; k < n; ++k) dirty::redirty(runs[k].start, runs[k].end);
        return;
      }
    }
  }
}

// A window's worth of a writeback: its pages are taken under the
// served-ranges lock, then written without it.
constexpr uintptr_t kWindow = 1 << 20;

// Windows being taken and written without the served-ranges lock (and
// ranges being synced). Their pages are being write-protected or are, and
// their stores on the way to the file; a give-back,
// munmap or fd move of their range waits until the writes are done
// (wait_for_io), so the CMB pages, the fd and the blocks they are written
// from stay where they are meanwhile. Slots are claimed under the lock; the
// writer alone clears busy, without it. A waiter may read them without the
// lock (wait_for_windows), so every field is read and written atomically; a
// waiter looks again under the lock before it goes on.
struct InFlight {
  uintptr_t lo, hi;
  int fd;
  int busy;
};
InFlight g_inflight[8];

InFlight* claim(uintptr_t lo, uintptr_t hi, int fd) {
  for (InFlight& f : g_inflight)
    if (!__atomic_load_n(&f.busy, __ATOMIC_ACQUIRE)) {
      __atomic_store_n(&f.lo, lo, __ATOMIC_RELAXED);
      __atomic_store_n(&f.hi, hi, __ATOMIC_RELAXED);
      __atomic_store_n(&f.fd, fd, __ATOMIC_RELAXED);
      __atomic_store_n(&f.busy, 1, __ATOMIC_RELEASE);
      return &f;
    }
  return nullptr;  // all in use: this window is written under the lock
}

// Lets the served-ranges lock go for its lifetime, with [lo, hi) and fd
// pinned (a give-back, munmap or fd move of them waits): when may_let_go
// (the caller holds the lock once) and a slot is free. Else nothing: the
// work is done under the lock.
class Unlocked {
 public:
  Unlocked(bool may_let_go, uintptr_t lo, uintptr_t hi, int fd) : pin_(may_let_go ? claim(lo, hi, fd) : nullptr) {
    if (pin_) served_lock::unlock();
  }
  ~Unlocked() {
    if (!pin_) return;
    __atomic_store_n(&pin_->busy, 0, __ATOMIC_RELEASE);
    served_lock::lock();
  }
  Unlocked(const Unlocked&) = delete;
  Unlocked& operator=(const Unlocked&) = delete;
  bool let_go() const { return pin_ != nullptr; }

 private:
  InFlight* pin_;
};

bool writing(uintptr_t lo, uintptr_t hi, int fd) {
  for (const InFlight& f : g_inflight) {
    if (!__atomic_load_n(&f.busy, __ATOMIC_ACQUIRE)) continue;
    const uintptr_t flo = __atomic_load_n(&f.lo, __ATOMIC_RELAXED), fhi = __atomic_load_n(&f.hi, __ATOMIC_RELAXED);
    if ((flo < hi && lo < fhi) || (fd >= 0 && __atomic_load_n(&f.fd, __ATOMIC_RELAXED) == fd)) return true;
  }
  return false;
}

// The same for a writer that may let the served-ranges lock go (held once,
// not freezing): it does while it waits, for mapping calls of other threads
// must not wait behind writes they have no part in (the watcher's periodic
// writeback, waiting for a program's msync, stalled every mmap of the
// process for a whole window). Returns with no window over [lo, hi) in
// flight and the lock held; true if it was let go meanwhile: the caller
// must look at its range again. (Windows are claimed under the lock, so
// none can start before the caller lets it go again.)
bool wait_for_windows(uintptr_t lo, uintptr_t hi, bool may_let_go) {
  if (!may_let_go) {
    wait_for_writes(lo, hi, -1);
    return false;
  }
  bool let_go = false;
  while (writing(lo, hi, -1)) {
    served_lock::unlock();
    wait_for_writes(lo, hi, -1);
    served_lock::lock();
    let_go = true;
  }
  return let_go;
}

// Durable: the drive's cache is flushed if any writer (this one, the
// periodic pass, another thread's) sent p's stores by NVMe command since it
// last was, and the file's data and metadata are synced, whether or not
// this call wrote anything: stores other writebacks wrote are in the file,
// not yet on stable media. I/O like the writes, so without the lock when
// the caller may let it go: p is pinned meanwhile (a give-back, munmap or fd
// move of it waits), and nothing of p is used after.
void make_durable(const registry::Range& p, Blocks* l, bool may_let_go, Outcome* o) {
  const bool flush = l && __atomic_exchange_n(&l->unflushed, 0, __ATOMIC_ACQ_REL);
  const NvmeTarget target = l ? l->target : NvmeTarget{};
  const Unlocked unlocked(may_let_go, p.start, p.end, p.fd);
  if (flush) {
    const int err = nvme::flush(target);
    if (err) {
      if (!o->err) o->err = err;
      __atomic_store_n(&l->unflushed, 1, __ATOMIC_RELEASE);  // still p's: pinned
    }
  }
  const int synced = prim::fdatasync_fd(p.fd);
  if (synced < 0 && !o->err) o->err = -synced;
}

// p is still registered as it was: same place, file and offset. Its fd may
// have moved (the program reused the number): *fd is the one to use now.
bool still_registered(const registry::Range& p, int* fd) {
  registry::Range now[2];
  const size_t n = registry::collect(p.start, p.end - p.start, now, 2);
  if (n != 1 || now[0].start != p.start || now[0].end != p.end || now[0].dev != p.dev || now[0].ino != p.ino ||
      now[0].file_offset != p.file_offset)
    return false;
  *fd = now[0].fd;
  return true;
}

// What a piece's windows have found and done so far.
struct Progress {
  bool checked = false, in_place = false, direct = false;
  Blocks* l = nullptr;
  NvmeTarget target{};  // l's, copied: l's slot may be reused once p is gone
};

// Writes the dirty pages of [lo, hi) a freeze could not take, leaving them
// dirty.
void write_unfrozen(const registry::Range& p, Progress* g, uintptr_t lo, uintptr_t hi, Outcome* o) {
  uint64_t size = 0;
  if (!file_size(p, lo, o, &size)) return;
  dirty::Run runs[64];
  for (size_t n; lo < hi && (n = dirty::dirty_runs(lo, hi, runs, 64)) > 0; lo = runs[n - 1].end)
    for (size_t i = 0; i < n; ++i) write_one(p, g->checked ? g->l : nullptr, g->in_place, runs[i], size, o, &g->direct);
}

// Takes the dirty pages of [lo, hi) and writes them; those that could not be
// written are dirty again before this returns. With unlocked (the caller
// holds the served-ranges lock once), the window is pinned and the lock let
// go for all of it, the taking of its pages too (write-protecting them is an
// mprotect and its TLB shootdown, milliseconds on a busy machine): mapping
// calls of other threads wait for none of it. True if the lock was let go:
// the caller must look at its range again.
bool write_window(const registry::Range& p, bool freeze, uintptr_t lo, uintptr_t hi, Progress* g, Outcome* o,
                  bool unlocked) {
  if (!g->checked) g->l = blocks_of(p);  // the table changes under the lock
  const Unlocked window(unlocked, lo, hi, p.fd);
  dirty::Run runs[64];
  Written w;
  const size_t n = dirty::take(lo, hi, freeze, runs, 64, &w.unfrozen);
  if (n > 0) {
    if (!g->checked) {
      g->in_place = blocks_in_place(p, g->l, o);
      if (g->l) g->target = g->l->target;
      g->checked = true;
    }
    write_runs(p, g->l, g->in_place, freeze, hi, runs, n, o, &w);
    // Pages that could not be written stay dirty, frozen ones too: a caller
    // about to replace the range must keep it (or lose the stores).
    for (size_t i = 0; i < w.nfailed; ++i) dirty::redirty(w.failed[i].start, w.failed[i].end);
    if (w.direct) {
      // The blocks changed under the page cache: drop what it may hold of
      // them (clean, unmapped pages), and stamp the change as a store would.
      prim::fadvise(p.fd, p.file_offset + (lo - p.start), hi - lo, POSIX_FADV_DONTNEED);
      prim::touch_mtime(p.fd);
    }
    g->direct |= w.direct;
  }
  if (w.unfrozen) {
    // Dirty pages a store can still reach: a give-back must not replace
    // them (the error makes it keep the range), but a munmap or mremap
    // will whatever happens, so they are written all the same (and stay
    // dirty: they may change again).
    if (!o->err) o->err = ENOMEM;
    stats::add(&cmbmap_stats::writeback_errors, 1);
    log::Line(LogLevel::Error).s("freezing ").x(lo).s("+").u(hi - lo)
        .s(": a dirty page could not be write-protected (ENOMEM)").emit();
    write_unfrozen(p, g, lo, hi, o);
  }
  return window.let_go();
}

// After the lock was let go: p is still registered (its fd may have moved),
// and its blocks are looked up again (their slot may have been reused).
bool look_again(registry::Range& p, Progress* g) {
  if (!still_registered(p, &p.fd)) return false;
  if (g->checked) g->l = blocks_of(p);
  return true;
}

// Writes p a window at a time. True if p is still registered as it was
// once all is written; false if p changed while other threads had the lock
// (given back, unmapped, split), with *stopped the address to go on from:
// the caller writes what is still served there. Even after the last window
// (*stopped == p.end): p's fd and blocks are then no longer its to use.
bool write_windows(registry::Range& p, bool freeze, bool unlocked, bool background, Progress* g, Outcome* o,
                   uintptr_t* stopped) {
  for (uintptr_t lo = p.start; lo < p.end;) {
    const uintptr_t hi = freeze || p.end - lo <= kWindow ? p.end : lo + kWindow;
    *stopped = lo;
    if (background && writing(lo, hi, -1)) {
      lo = hi;
      continue;
    }
    // Another writer's window here first: its pages are taken, not yet
    // written; once it is done they are written or dirty again.
    if (wait_for_windows(lo, hi, unlocked) && !look_again(p, g)) return false;
    const bool let_go = write_window(p, freeze, lo, hi, g, o, unlocked);
    lo = hi;
    *stopped = lo;
    if (!let_go && (lo >= p.end || !served_lock::let_others_in())) continue;
    if (!look_again(p, g)) return false;
  }
  return true;
}

}  // namespace

Outcome piece(const registry::Range& range, Mode mode) {
  Outcome o{};
  if (!dirty::tracks(range.start, range.end - range.start)) return o;
  served_lock::Hold hold;
  prim::KeepErrno keep;
  const bool freeze = mode == Mode::Freeze, background = mode == Mode::Background;
  if (background && writing(range.start, range.end, -1)) return o;
  // Written without the lock when it is held once here (a caller holding it
  // too counts on nothing changing under it), so mapping calls of other
  // threads wait for a window to be taken, not for its writes. Freezing (a
  // give-back under way) takes the whole piece at once, under the lock.
  const bool unlocked = !freeze && served_lock::held_once();
  // Another thread's windows of this range finish first: a give-back must
  // not take the pages they are written from (nor a second writer race them).
  wait_for_windows(range.start, range.end, unlocked);
  // A copy made before the lock was taken may be stale by now.
  registry::Range p = range;
  if (!still_registered(range, &p.fd)) {
    // Changed since the caller collected it (split, given back in part), or
    // while this waited: the caller writes what is served there now.
    o.rest = range.start;
    return o;
  }
  const uint64_t t0 = prim::monotonic_ns();
  Progress g;
  uintptr_t stopped = p.end;
  bool whole = write_windows(p, freeze, unlocked, background, &g, &o, &stopped);
  if (whole && !freeze) {
    // Pages another writer took while these windows ran, and could not
    // write, are dirty again: a second pass, each window after the other
    // writer's windows there are done.
    whole = write_windows(p, freeze, unlocked, background, &g, &o, &stopped);
  }
  if (o.err) note_error(p, o.err);
  if (!whole) {
    o.rest = stopped;
    // p.fd may be closed or another file's by now, and p.blocks another
    // range's; the drive's cache is flushed for what went by NVMe command
    // (the caller's own msync/fsync, which follows, syncs the file).
    if (mode == Mode::Durable && g.direct) {
      const int err = nvme::flush(g.target);
      if (err && !o.err) o.err = err;
    }
    return o;
  }
  if (mode == Mode::Durable) make_durable(p, g.checked ? g.l : blocks_of(p), unlocked, &o);
  if (o.bytes) {
    stats::add(&cmbmap_stats::writebacks, 1);
    stats::add(&cmbmap_stats::writeback_ns, prim::monotonic_ns() - t0);
  }
  return o;
}

int take_error(dev_t dev, ino_t ino) {
  served_lock::Hold hold;
  for (unsigned i = 0; i < g_failed_count; ++i) {
    if (g_failed[i].dev != dev || g_failed[i].ino != ino) continue;
    const int err = g_failed[i].err;
    g_failed[i] = g_failed[g_failed_count - 1];
    __atomic_store_n(&g_failed_count, g_failed_count - 1, __ATOMIC_RELEASE);
    return err;
  }
  return 0;
}

bool any_error() { return __atomic_load_n(&g_failed_count, __ATOMIC_ACQUIRE) != 0; }

void after_fork_child() {
  g_failed_count = 0;
  for (size_t i = 0; i < g_blocks.size(); ++i) g_blocks[i].start = g_blocks[i].end = 0;
  for (InFlight& f : g_inflight) f.busy = 0;  // the parent's writer threads are not here
}

void wait_for_writes(uintptr_t lo, uintptr_t hi, int fd) {
  while (writing(lo, hi, fd)) prim::sleep_ns(50 * 1000);
}

}  // namespace cmbmap::writeback
