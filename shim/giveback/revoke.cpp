// Giving served ranges back (see revoke.h).
#include "shim/giveback/revoke.h"

#include <sys/mman.h>

#include "cmbmap/cmbmap.h"
#include "common/log.h"
#include "common/stats.h"
#include "prim/prim.h"
#include "prim/procself.h"
#include "shim/giveback/dirty.h"
#include "shim/giveback/lease.h"
#include "shim/giveback/writeback.h"
#include "shim/real.h"
#include "shim/tier/registry.h"
#include "shim/tier/scrub.h"
#include "shim/tier/served_lock.h"

namespace cmbmap::revoke {
namespace {

using registry::kBatch;

void forget_served(uint64_t bytes) {
  stats::add(&cmbmap_stats::served_bytes, (uint64_t)0 - bytes);
  stats::add(&cmbmap_stats::freed_bytes, bytes);
}

// After pieces left the registry: closes cmbmap's duplicate fds no range
// uses any more, and releases the leases of files no longer served.
void after_removal(const registry::Range* pieces, size_t n) {
  for (size_t i = 0; i < n; ++i) dirty::untrack(pieces[i].start, pieces[i].end);
  writeback::forget_unused();
  for (size_t i = 0; i < n; ++i) {
    bool seen_fd = false, seen_file = false;
    for (size_t k = 0; k < i; ++k) {
      seen_fd |= pieces[k].fd == pieces[i].fd;
      seen_file |= pieces[k].dev == pieces[i].dev && pieces[k].ino == pieces[i].ino;
    }
    if (!seen_fd && !registry::uses_fd(pieces[i].fd)) {
      // A writer out of a piece unmapped or replaced behind cmbmap's back
      // (its own give-back waited, in piece()) may still be writing through
      // the fd: once closed, the program may open another file at its number.
      writeback::wait_for_writes(0, 0, pieces[i].fd);
      prim::close_fd(pieces[i].fd);
    }
    if (!seen_file) lease::release_if_unused(pieces[i].dev, pieces[i].ino);
  }
}

// ours[i]: pieces[i] is still wholly the CMB mapping it was served as, by
// /proc/self/maps (only the mappings over the pieces are looked up). Other
// threads' stores split and merge the range's mappings meanwhile (the fault
// handler's mprotect): Coverage counts a mapping listed twice once.
void still_cmb(const registry::Range* pieces, size_t n, bool* ours) {
  struct Check {
    const registry::Range* pieces;
    procself::Coverage* covered;
  };
  procself::Coverage covered[kBatch];
  procself::Span spans[kBatch] = {};
  for (size_t i = 0; i < n; ++i) {
    covered[i] = procself::Coverage(pieces[i].start, pieces[i].end);
    spans[i] = {pieces[i].start, pieces[i].end};
  }
  Check c{pieces, covered};
  const bool read = procself::for_each_mapping_over(
      spans, n,
      [](const procself::Mapping& m, size_t i, void* ctx) {
        auto* c = static_cast<Check*>(ctx);
        if (m.dev == c->pieces[i].cmb_dev && m.ino == c->pieces[i].cmb_ino) c->covered[i].add(m.start, m.end);
        return true;
      },
      &c);
  // Unreadable maps (fd limit, no /proc): give back as before, unchecked.
  for (size_t i = 0; i < n; ++i) ours[i] = !read || covered[i].whole();
}

// What the program had set on a batch's CMB mappings (read once for the
// batch: /proc/self/smaps lists every mapping of the process).
struct StickyParts {
  procself::Sticky parts[kBatch];
  size_t n;
};

// The sticky parts of the batch's own mappings, by address (not of
// whatever else lies between its pieces: other files' CMB ranges look the
// same in /proc/self/maps).
size_t read_sticky(const registry::Range* pieces, size_t n, procself::Sticky* out, size_t cap) {
  struct Batch { const registry::Range* pieces; size_t n; } b{pieces, n};
  return procself::sticky_flags(
      pieces[0].start, pieces[n - 1].end, out, cap,
      [](const procself::Mapping& m, void* ctx) {
        const auto* b = static_cast<const Batch*>(ctx);
        for (size_t i = 0; i < b->n; ++i)
          if (m.start < b->pieces[i].end && b->pieces[i].start < m.end) return true;
        return false;
      },
      &b);
}

// Puts back on piece p what the program had set on the CMB mapping there
// (the new mapping starts without it).
void restore_sticky(const registry::Range& p, const StickyParts& s) {
  for (size_t i = 0; i < s.n; ++i) {
    const uintptr_t a = s.parts[i].start > p.start ? s.parts[i].start : p.start;
    const uintptr_t b = s.parts[i].end < p.end ? s.parts[i].end : p.end;
    if (a >= b) continue;
    const unsigned flags = s.parts[i].flags;
    const int locked = flags & procself::kLocked ? prim::lock_memory((void*)a, b - a) : 0;
    if (locked < 0)
      log::Line(LogLevel::Warn).x(a).s("+").u(b - a).s(" was locked and could not be locked again (errno ")
          .i(-locked).s(")").emit();
    if (flags & procself::kDontDump) real::madvise((void*)a, b - a, MADV_DONTDUMP);
    if (flags & procself::kDontFork) real::madvise((void*)a, b - a, MADV_DONTFORK);
  }
}

// The file's mapping for p, at an address of the kernel's choice. Locked
// as the program asked (MAP_LOCKED) where the kernel can lock it: the
// served range was never locked, so it counted for nothing against
// RLIMIT_MEMLOCK, and the program may have locked other memory up to the
// limit meanwhile. Unlocked file pages then, rather than none.
void* map_file_aside(const registry::Range& p, int* err = nullptr) {
  const size_t len = p.end - p.start;
  int e = 0;
  void* f = prim::map(nullptr, len, p.prot, p.flags & ~MAP_FIXED, p.fd, (off_t)p.file_offset, &e);
  if (f == MAP_FAILED && (p.flags & MAP_LOCKED))
    f = prim::map(nullptr, len, p.prot, p.flags & ~(MAP_FIXED | MAP_LOCKED), p.fd, (off_t)p.file_offset, &e);
  if (err) *err = e;
  return f;
}

// The same moved over p (prim::move_over).
bool map_file_over(const registry::Range& p, int* err = nullptr) {
  void* f = map_file_aside(p, err);
  return f != MAP_FAILED && prim::move_over(f, (void*)p.start, p.end - p.start);
}

// What swap_in_file did.
enum class Swap {
  In,         // the file is mapped there; the CMB pages were scrubbed
  ClearedOut, // the CMB pages are out and scrubbed, but the file could not be mapped in
  Untouched,  // nothing done (no room for the file's mapping aside, no handler)
};

// Swaps the file's pages in for the CMB pages of p and scrubs those: the
// file is mapped aside, the CMB pages moved out and released (an
// inaccessible mapping keeps their place: never a hole, scrub.h), and the
// file's moved in over it (the range is hidden in between, dirty.h).
Swap swap_in_file(const registry::Range& p) {
  const size_t len = p.end - p.start;
  void* at = (void*)p.start;
  void* file = map_file_aside(p);
  bool moved_in = false;
  Swap done = Swap::Untouched;
  if (file != MAP_FAILED && dirty::hide(p.start, p.end)) {
    // No signal handler of this thread may run while the range is hidden:
    // one that touched it would wait for this give-back, which waits for
    // the handler (the thread would hang, the served-ranges lock held).
    dirty::SignalsBlocked quiet(true);
    const size_t left = scrub::clear_out(at, len, false);
    // Over the placeholders and whatever CMB pages could not move.
    moved_in = prim::remap(file, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, at) != MAP_FAILED;
    // Not moved in: the file is mapped over what is there, still hidden, so
    // no thread runs on an inaccessible range.
    const bool in = moved_in || map_file_over(p);
    // Nothing moved and nothing mapped: Untouched, the CMB pages all still
    // there with no placeholder among them, for the caller to zero in place.
    if (in || left < len) {
      done = in ? Swap::In : Swap::ClearedOut;
      // Pages that could not move hold the file's bytes among placeholders
      // that must not be touched (scrub.h): counted, not zeroed.
      if (left) scrub::unscrubbed(at, left, in ? "no room to move it aside" : "no room to move it aside or map the file");
    }
    dirty::show(p.start, p.end);
    quiet.end();
  }
  if (file != MAP_FAILED && !moved_in) prim::unmap(file, len);
  return done;
}

// Maps the file back over one piece that is still cmbmap's. False if its
// stores could not be written: then it stays served (thawed), the only
// place they are, and the failure waits for the next fsync.
bool give_back(const registry::Range& p, const StickyParts& sticky) {
  const size_t len = p.end - p.start;
  // Stores still in CMB memory reach the file before its pages replace them.
  const writeback::Outcome o = writeback::piece(p, writeback::Mode::Freeze);
  if (o.err) {
    dirty::thaw(p.start, p.end);
    log::Line(LogLevel::Error).s("keeping ").x(p.start).s("+").u(len).s(" served: its stores could not be written (errno ")
        .i(o.err).s("), giving it back would lose them").emit();
    return false;
  }
  const Swap swap = scrub::enabled() ? swap_in_file(p) : Swap::Untouched;
  bool in = swap == Swap::In;
  int err = 0;
  if (!in && (in = map_file_over(p, &err)) &&
      swap == Swap::Untouched)
    scrub::unscrubbed((void*)p.start, len, "no room to move it aside");
  if (in) restore_sticky(p, sticky);
  if (!in) {
    // The CMB copy may be stale by now, and nothing would track it:
    // better a fault on access than old bytes. Nothing will map over the
    // CMB pages either, and the program's munmap is no longer cmbmap's
    // business: they are scrubbed now, or they go back to the pool with
    // the file's bytes.
    if (swap == Swap::Untouched) scrub::clear_out((void*)p.start, len, true);
    prim::protect((void*)p.start, len, PROT_NONE);
    log::Line line(LogLevel::Error);
    line.s("could not give ").x(p.start).s("+").u(len).s(" back to the page cache (");
    if (err) line.s("mmap of fd ").i(p.fd).s(" failed, errno ").i(err);
    else line.s("moving the file's mapping in failed");
    line.s("): access to it now faults").emit();
  }
  return true;
}

// Gives back one batch of registered pieces (address order): one lookup in
// /proc/self/maps and one read of /proc/self/smaps for the whole batch,
// whatever the number of pieces (smaps lists every mapping of the process,
// so a read per piece made giving back N pieces cost N x N). Logs each
// piece given back when log_each, with its cause. Returns the bytes.
size_t give_back_batch(const registry::Range* pieces, size_t n, bool log_each, int cause) {
  bool ours[kBatch];
  still_cmb(pieces, n, ours);
  StickyParts sticky;
  sticky.n = read_sticky(pieces, n, sticky.parts, kBatch);
  // As many parts as there is room for: some may be missing, so each piece
  // reads its own (a piece split into more than that keeps the first ones).
  const bool per_piece = sticky.n == kBatch;
  registry::Range gone[kBatch];
  size_t ngone = 0, total = 0;
  for (size_t i = 0; i < n; ++i) {
    const registry::Range& p = pieces[i];
    if (ours[i] && per_piece) sticky.n = read_sticky(&p, 1, sticky.parts, kBatch);
    if (ours[i] && !give_back(p, sticky)) continue;  // kept: its stores are nowhere else
    if (ours[i]) {
      total += p.end - p.start;
      if (log_each && cause)
        log::Line(LogLevel::Info).s("revoked ").size(p.end - p.start).s(" at ").x(p.start).s(": ")
            .s(cmbmap_reason_name(cause)).emit();
    } else {
      // Unmapped or replaced behind cmbmap's back (a raw system call):
      // whatever is there now is not cmbmap's to map over. A writer out of
      // it finishes first (it makes failed pages dirty again, without the lock).
      writeback::wait_for_writes(p.start, p.end, -1);
      log::Line(LogLevel::Error).x(p.start).s("+").u(p.end - p.start)
          .s(" is no longer cmbmap's CMB mapping: left as it is").emit();
    }
    registry::remove(p.start, p.end - p.start);
    gone[ngone++] = p;
  }
  after_removal(gone, ngone);
  return total;
}

void count_given_back(size_t total, int cause) {
  if (total) forget_served(total);
  if (total && cause) stats::add_revoke(cause, total);
}

}  // namespace

size_t range(const void* addr, size_t len, int cause) {
  if (!prim::page_aligned(addr)) return 0;
  len = prim::page_round_up(len);
  served_lock::Hold hold;
  dirty::SignalsBlocked quiet(dirty::any());
  prim::KeepErrno keep;
  size_t total = 0;
  registry::for_each_batch((uintptr_t)addr, (uintptr_t)addr + len, [&](const registry::Range* pieces, size_t n) {
    total += give_back_batch(pieces, n, false, cause);
    return true;
  });
  count_given_back(total, cause);
  if (total && cause)
    log::Line(LogLevel::Info).s("revoked ").size(total).s(" at ").x((uintptr_t)addr).s(": ")
        .s(cmbmap_reason_name(cause)).emit();
  return total;
}

size_t file(dev_t dev, ino_t ino, int cause) {
  served_lock::Hold hold;
  dirty::SignalsBlocked quiet(dirty::any());
  prim::KeepErrno keep;
  size_t total = 0;
  // The file's ranges a batch at a time (other files' ranges between them
  // are not in the batch, and not touched).
  registry::for_each_batch_of_file(dev, ino, [&](const registry::Range* r, size_t n) {
    total += give_back_batch(r, n, true, cause);
    return true;
  });
  count_given_back(total, cause);
  return total;
}

size_t all(int cause) {
  served_lock::Hold hold;
  size_t total = 0;
  // A batch's span at a time: one read of /proc/self/maps per batch.
  registry::for_each_batch(0, UINTPTR_MAX, [&](const registry::Range* r, size_t n) {
    total += range((void*)r[0].start, r[n - 1].end - r[0].start, cause);
    return true;
  });
  return total;
}

size_t file_and_lease(dev_t dev, ino_t ino, int cause) {
  served_lock::Hold hold;
  const size_t given = file(dev, ino, cause);
  // A range kept (its stores could not be written) keeps its lease.
  if (!registry::has_file(dev, ino)) lease::release(dev, ino);
  return given;
}

void write_leased_files() {
  served_lock::Hold hold;
  dev_t devs[64];
  ino_t inos[64];
  for (size_t n; (n = lease::write_leased(devs, inos, 64)) > 0;)
    for (size_t i = 0; i < n; ++i) file_and_lease(devs[i], inos[i], CMBMAP_LEASE_BROKEN);
}

void scrub_before_unmap(const void* addr, size_t len) {
  if (!prim::page_aligned(addr)) return;
  served_lock::Hold hold;
  prim::KeepErrno keep;
  const uintptr_t lo = (uintptr_t)addr, hi = lo + prim::page_round_up(len);
  registry::for_each_batch(lo, hi, [&](const registry::Range* pieces, size_t n) {
    bool ours[kBatch];
    still_cmb(pieces, n, ours);
    for (size_t i = 0; i < n; ++i) {
      if (!ours[i]) continue;
      const uintptr_t a = pieces[i].start > lo ? pieces[i].start : lo, b = pieces[i].end < hi ? pieces[i].end : hi;
      // The munmap that follows removes the empty mappings left at [a, b);
      // what could not move is zeroed in place (the program is unmapping
      // it: nobody may read it now).
      if (scrub::enabled()) scrub::clear_out((void*)a, b - a, true);
      else scrub::in_place((void*)a, b - a);
    }
    return true;
  });
}

size_t forget(const void* addr, size_t len) {
  served_lock::Hold hold;
  prim::KeepErrno keep;
  size_t gone = 0;
  const uintptr_t lo = (uintptr_t)addr;
  registry::for_each_batch(lo, lo + prim::page_round_up(len), [&](const registry::Range* pieces, size_t n) {
    for (size_t i = 0; i < n; ++i) gone += registry::remove(pieces[i].start, pieces[i].end - pieces[i].start);
    after_removal(pieces, n);
    return true;
  });
  if (gone) forget_served(gone);
  return gone;
}

size_t inherited() {
  size_t total = 0;
  registry::for_each_batch(0, UINTPTR_MAX, [&](const registry::Range* pieces, size_t n) {
    // Only what the child has: a range the parent marked MADV_DONTFORK is
    // a hole here, and stays one. What the parent set sticks (DONTDUMP),
    // but for memory locks, which a fork child does not inherit.
    bool ours[kBatch];
    still_cmb(pieces, n, ours);
    StickyParts sticky;
    sticky.n = read_sticky(pieces, n, sticky.parts, kBatch);
    for (size_t i = 0; i < sticky.n; ++i) sticky.parts[i].flags &= ~procself::kLocked;
    for (size_t i = 0; i < n; ++i) {
      if (!ours[i]) continue;
      const registry::Range& p = pieces[i];
      real::mmap((void*)p.start, p.end - p.start, p.prot, (p.flags & ~MAP_LOCKED) | MAP_FIXED, p.fd,
                 (off_t)p.file_offset);
      restore_sticky(p, sticky);
      total += p.end - p.start;
    }
    return true;
  });
  // The child's copies of the fds, once every range is mapped back: ranges
  // share them. Closing one twice is harmless: nothing opens in between.
  registry::for_each_batch(0, UINTPTR_MAX, [&](const registry::Range* pieces, size_t n) {
    for (size_t i = 0; i < n; ++i) prim::close_fd(pieces[i].fd);
    return true;
  });
  registry::clear();
  return total;
}

}  // namespace cmbmap::revoke
