// Mapping calls on served ranges, and giving ranges back (revocation).
// Giving back is one mmap(MAP_FIXED) of the file over the served piece, with
// the protection and sharing the program asked for: afterwards the range is
// exactly the ordinary file mapping the kernel would have made, and the CMB
// pages return to the pool as the kernel unmaps them.
#include <cerrno>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <fcntl.h>

#include "../real.h"
#include "core.h"
#include "dirty.h"
#include "fill.h"
#include "lease.h"
#include "log.h"
#include "openfiles.h"
#include "policy.h"
#include "registry.h"
#include "serial.h"
#include "stats.h"
#include "writeback.h"

namespace cmbmap::core {
namespace {

constexpr size_t kBatch = 64;

// Changes of files by this process (see file_changing in core.h).
uint64_t g_change_epoch;  // bumped as each change starts
int g_changes_running;
void change_starts() {
  __atomic_fetch_add(&g_changes_running, 1, __ATOMIC_SEQ_CST);
  __atomic_fetch_add(&g_change_epoch, 1, __ATOMIC_SEQ_CST);
  // Pairs with serve's fence between registering a range and looking here:
  // either the serve sees this change, or this change sees its range.
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

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
    if (!seen_fd && !registry::uses_fd(pieces[i].fd)) syscall(SYS_close, pieces[i].fd);
    if (!seen_file) lease::release_if_unused(pieces[i].dev, pieces[i].ino);
  }
}

const char* cause_name(int cause) { return cmbmap_reason_name(cause); }

// ours[i]: pieces[i] is still wholly the CMB mapping it was served as, by
// /proc/self/maps (one read for the batch).
void still_cmb(const registry::Range* pieces, size_t n, bool* ours) {
  struct Check { const registry::Range* pieces; size_t n; size_t covered[kBatch]; } c{pieces, n, {}};
  const bool read = openfiles::for_each_mapping(
      [](const openfiles::Mapping& m, void* ctx) {
        auto* c = static_cast<Check*>(ctx);
        for (size_t i = 0; i < c->n; ++i) {
          const registry::Range& p = c->pieces[i];
          if (m.dev != p.cmb_dev || m.ino != p.cmb_ino || m.end <= p.start || m.start >= p.end) continue;
          c->covered[i] += (m.end < p.end ? m.end : p.end) - (m.start > p.start ? m.start : p.start);
        }
        return true;
      },
      &c);
  // Unreadable maps (fd limit, no /proc): give back as before, unchecked.
  for (size_t i = 0; i < n; ++i) ours[i] = !read || c.covered[i] == pieces[i].end - pieces[i].start;
}

// The kernel refuses unaligned addresses with EINVAL before touching
// anything: such calls go straight to it, and cmbmap changes nothing.
bool aligned(const void* addr) { return openfiles::page_aligned(addr); }
using openfiles::page_round_up;

}  // namespace

size_t revoke_range(const void* addr, size_t len, int cause) {
  if (!aligned(addr)) return 0;
  len = page_round_up(len);
  serial::Hold hold;
  dirty::SignalsBlocked quiet(dirty::any());
  const int saved = errno;
  size_t total = 0;
  for (;;) {
    registry::Range pieces[kBatch];
    size_t n = registry::collect((uintptr_t)addr, len, pieces, kBatch);
    if (n == 0) break;
    bool ours[kBatch];
    still_cmb(pieces, n, ours);
    for (size_t i = 0; i < n; ++i) {
      const registry::Range& p = pieces[i];
      size_t plen = p.end - p.start;
      if (!ours[i]) {
        // Unmapped or replaced behind cmbmap's back (a raw system call):
        // whatever is there now is not cmbmap's to map over.
        log::Line(LogLevel::Error).x(p.start).s("+").u(plen)
            .s(" is no longer cmbmap's CMB mapping: left as it is").emit();
        registry::remove(p.start, plen);
        continue;
      }
      // Stores still in CMB memory reach the file before its pages replace them.
      writeback::piece(p, writeback::Mode::Freeze);
      void* r = real::mmap((void*)p.start, plen, p.prot, p.flags | MAP_FIXED, p.fd, (off_t)p.file_offset);
      if (r == MAP_FAILED) {
        // The CMB copy may be stale by now, and nothing would track it:
        // better a fault on access than old bytes.
        const int err = errno;
        real::mprotect((void*)p.start, plen, PROT_NONE);
        log::Line(LogLevel::Error).s("could not give ").x(p.start).s("+").u(plen)
            .s(" back to the page cache (errno ").i(err).s("): access to it now faults").emit();
      }
      registry::remove(p.start, plen);
      total += plen;
    }
    after_removal(pieces, n);
    if (n < kBatch) break;
  }
  if (total) {
    forget_served(total);
    stats::add_revoke(cause, total);
    log::Line(LogLevel::Info).s("revoked ").size(total).s(" at ").x((uintptr_t)addr).s(": ")
        .s(cause_name(cause)).emit();
  }
  errno = saved;
  return total;
}

size_t give_back_inherited() {
  size_t total = 0;
  registry::Range pieces[kBatch];
  uintptr_t from = 0;
  for (size_t n; (n = registry::collect(from, UINTPTR_MAX - from, pieces, kBatch)) > 0;) {
    for (size_t i = 0; i < n; ++i) {
      const registry::Range& p = pieces[i];
      real::mmap((void*)p.start, p.end - p.start, p.prot, p.flags | MAP_FIXED, p.fd, (off_t)p.file_offset);
      syscall(SYS_close, p.fd);  // the child's copy; a second close of it is harmless
      total += p.end - p.start;
    }
    from = pieces[n - 1].end;
  }
  registry::clear();
  return total;
}

size_t revoke_file(dev_t dev, ino_t ino, int cause) {
  serial::Hold hold;
  size_t total = 0;
  registry::Range r[kBatch];
  for (size_t n; (n = registry::collect_file(dev, ino, r, kBatch)) > 0;) {
    for (size_t i = 0; i < n; ++i) total += revoke_range((void*)r[i].start, r[i].end - r[i].start, cause);
  }
  return total;
}

size_t forget_range(void* addr, size_t len) {
  serial::Hold hold;
  const int saved = errno;
  size_t gone = 0;
  for (;;) {
    registry::Range pieces[kBatch];
    size_t n = registry::collect((uintptr_t)addr, page_round_up(len), pieces, kBatch);
    if (n == 0) break;
    for (size_t i = 0; i < n; ++i) gone += registry::remove(pieces[i].start, pieces[i].end - pieces[i].start);
    after_removal(pieces, n);
    if (n < kBatch) break;
  }
  if (gone) forget_served(gone);
  errno = saved;
  return gone;
}

int unmap(void* addr, size_t len) {
  // The kernel decides first (alignment, length): only a successful munmap
  // changes what cmbmap serves.
  serial::Hold hold;
  dirty::SignalsBlocked quiet(dirty::any());
  write_back_before_replacing(addr, len);
  int r = real::munmap(addr, len);
  if (r != 0) {
    replacing_failed(addr, len);
    return r;
  }
  size_t gone = forget_range(addr, len);
  log::Line(LogLevel::Debug).s("munmap ").x((uintptr_t)addr).s(" length ").u(len).s(": ")
      .size(gone).s(" of CMB released").emit();
  return 0;
}

void* map_anonymous_over(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  serial::Hold hold;
  dirty::SignalsBlocked quiet(dirty::any());
  write_back_before_replacing(addr, len);
  void* r = real::mmap(addr, len, prot, flags, fd, off);
  if (r != MAP_FAILED) forget_range(r, len);
  else replacing_failed(addr, len);
  return r;
}

void write_back_before_replacing(void* addr, size_t len) {
  if (aligned(addr) && dirty::tracks((uintptr_t)addr, len))
    writeback::range(addr, page_round_up(len), writeback::Mode::Freeze);
}

void replacing_failed(void* addr, size_t len) {
  if (aligned(addr)) dirty::thaw((uintptr_t)addr, (uintptr_t)addr + page_round_up(len));
}

void* remap(void* old, size_t old_len, size_t new_len, int flags, void* new_addr) {
  if (!aligned(old)) return real::mremap(old, old_len, new_len, flags, new_addr);
  serial::Hold hold;
  if (new_len <= old_len && !(flags & (MREMAP_FIXED | MREMAP_DONTUNMAP))) {
    // Shrinking in place: the kernel drops the tail; keep the registry exact.
    const size_t keep_len = page_round_up(new_len);
    dirty::SignalsBlocked quiet(dirty::any());
    if (keep_len < old_len) write_back_before_replacing((char*)old + keep_len, page_round_up(old_len) - keep_len);
    void* r = real::mremap(old, old_len, new_len, flags, new_addr);
    if (r == MAP_FAILED && keep_len < old_len) replacing_failed((char*)old + keep_len, page_round_up(old_len) - keep_len);
    if (r != MAP_FAILED && new_len < old_len) {
      const int saved = errno;
      size_t keep = page_round_up(new_len);
      if (keep < old_len) forget_range((char*)old + keep, page_round_up(old_len) - keep);
      errno = saved;
    }
    return r;
  }
  // Growing or moving: the range returns to the page cache first, so the
  // kernel grows or moves an ordinary file mapping; then the whole new
  // mapping is planned and served like a new one.
  // A fixed destination over served ranges replaces them.
  const bool over = (flags & MREMAP_FIXED) && registry::overlaps((uintptr_t)new_addr, new_len);
  registry::Range like;
  if (registry::collect((uintptr_t)old, old_len, &like, 1) == 0) {
    void* r = real::mremap(old, old_len, new_len, flags, new_addr);
    if (r != MAP_FAILED && over) forget_range(r, new_len);
    return r;
  }
  const int saved = errno;
  int fd = openfiles::dup_above_floor(like.fd);
  uint64_t file_off = like.file_offset - (like.start - (uintptr_t)old);
  errno = saved;
  revoke_range(old, old_len, CMBMAP_REMAPPED);
  void* r = real::mremap(old, old_len, new_len, flags, new_addr);
  if (r != MAP_FAILED && over) forget_range(r, new_len);
  if (r != MAP_FAILED && fd >= 0 && !(flags & MREMAP_DONTUNMAP)) {
    const int err = errno;
    serve_existing(r, new_len, like.prot, like.flags, fd, (off_t)file_off);
    errno = err;
  }
  if (fd >= 0) {
    const int err = errno;
    syscall(SYS_close, fd);
    errno = err;
  }
  return r;
}

int protect(void* addr, size_t len, int prot) {
  if (!aligned(addr)) return real::mprotect(addr, len, prot);
  serial::Hold hold;
  // Write-protection is how stores are tracked there: a writable served
  // range goes back to file pages, whose protection the kernel keeps.
  if (dirty::tracks((uintptr_t)addr, len)) {
    revoke_range(addr, len, CMBMAP_REMAPPED);
    return real::mprotect(addr, len, prot);
  }
  if (prot & PROT_WRITE) {
    // A shared range made writable: its stores change the file, so every
    // other served range of that file goes back too.
    registry::Range pieces[kBatch];
    size_t n = registry::collect((uintptr_t)addr, page_round_up(len), pieces, kBatch);
    for (size_t i = 0; i < n; ++i)
      if ((pieces[i].flags & MAP_TYPE) == MAP_SHARED) revoke_file(pieces[i].dev, pieces[i].ino, CMBMAP_FILE_CHANGED);
  }
  if (policy::protect_needs_revoke(prot) || !registry::covers_whole((uintptr_t)addr, len)) {
    // Write/exec (copy-on-write, the kernel's EACCES) or part of a range:
    // the file mapping answers exactly as it would without cmbmap.
    revoke_range(addr, len, CMBMAP_REMAPPED);
    return real::mprotect(addr, len, prot);
  }
  int r = real::mprotect(addr, len, prot);
  if (r == 0) {
    registry::set_prot((uintptr_t)addr, len, prot);
    registry::touch((uintptr_t)addr, len);
  }
  return r;
}

void protect_other(void* addr, size_t len, int prot) {
  if (!(prot & PROT_WRITE)) return;
  // A mapping made writable lets stores change a file with no call at all.
  __atomic_fetch_add(&g_change_epoch, 1, __ATOMIC_SEQ_CST);
  if (registry::empty() || !lease::any_write_lease()) return;
  // A shared mapping of a file cmbmap serves under a write lease becomes
  // writable: stores through it would change the file behind the lease.
  struct Hit { uintptr_t lo, hi; dev_t dev[8]; ino_t ino[8]; size_t n; } h{(uintptr_t)addr, (uintptr_t)addr + len, {}, {}, 0};
  const int saved = errno;
  openfiles::for_each_mapping(
      [](const openfiles::Mapping& m, void* c) {
        auto* h = static_cast<Hit*>(c);
        if (m.shared && m.start < h->hi && h->lo < m.end && h->n < 8) {
          h->dev[h->n] = m.dev;
          h->ino[h->n++] = m.ino;
        }
        return true;
      },
      &h);
  serial::Hold hold;
  for (size_t i = 0; i < h.n; ++i)
    if (lease::is_write_leased(h.dev[i], h.ino[i])) revoke_file(h.dev[i], h.ino[i], CMBMAP_FILE_CHANGED);
  errno = saved;
}

int advise(void* addr, size_t len, int advice) {
  // Dropped CMB pages have nothing to fault back in from: give the range
  // back so the next read sees the file's bytes.
  if (aligned(addr) && policy::advice_needs_revoke(advice)) revoke_range(addr, len, CMBMAP_REMAPPED);
  // WILLNEED and the like say the range is in use: keep it longest.
  else registry::touch((uintptr_t)addr, len);
  return real::madvise(addr, len, advice);
}

void file_changed() { __atomic_fetch_sub(&g_changes_running, 1, __ATOMIC_SEQ_CST); }

void changes_after_fork_child() { g_changes_running = 0; }

uint64_t change_epoch() {
  // A change already running may be past its give-back: count it as new.
  uint64_t e = __atomic_load_n(&g_change_epoch, __ATOMIC_SEQ_CST);
  return __atomic_load_n(&g_changes_running, __ATOMIC_SEQ_CST) ? e - 1 : e;
}

bool changed_since(uint64_t epoch) {
  return __atomic_load_n(&g_changes_running, __ATOMIC_SEQ_CST) != 0 ||
         __atomic_load_n(&g_change_epoch, __ATOMIC_SEQ_CST) != epoch;
}

bool served_file(int fd, struct stat* st) {
  if (fd < 0 || registry::empty()) return false;
  const int saved = errno;
  const bool served = syscall(SYS_fstat, fd, st) == 0 && registry::has_file(st->st_dev, st->st_ino);
  errno = saved;
  return served;
}

void file_changing(int fd) {
  change_starts();
  struct stat st;
  if (served_file(fd, &st)) revoke_file(st.st_dev, st.st_ino, CMBMAP_FILE_CHANGED);
}

void resizing(int fd, off_t len) {
  change_starts();
  struct stat st;
  if (!served_file(fd, &st)) return;
  // Growing: the served blocks stay the file's, the new part is a hole
  // (ordinary pages wherever it is mapped). Stores past the old end of
  // file are written back now, which clears them as the kernel's
  // writeback of a partial page does, so the page reads as the file will.
  if (len >= 0 && len >= st.st_size) writeback::file(st.st_dev, st.st_ino, writeback::Mode::Current);
  else revoke_file(st.st_dev, st.st_ino, CMBMAP_FILE_CHANGED);
}

void mapping_again(int fd) {
  struct stat st;
  if (!served_file(fd, &st)) return;
  serial::Hold hold;
  registry::Range r[kBatch];
  const size_t n = registry::collect_file(st.st_dev, st.st_ino, r, kBatch);
  bool writable = false;
  for (size_t i = 0; i < n; ++i) writable |= dirty::tracks(r[i].start, r[i].end - r[i].start);
  if (writable) revoke_file(st.st_dev, st.st_ino, CMBMAP_MAPPED_TWICE);
}

void path_changing(int dirfd, const char* path) {
  change_starts();
  if (registry::empty() || !path) return;
  struct stat st;
  const int saved = errno;
  if (syscall(SYS_newfstatat, dirfd, path, &st, 0) == 0 && registry::has_file(st.st_dev, st.st_ino))
    revoke_file(st.st_dev, st.st_ino, CMBMAP_FILE_CHANGED);
  errno = saved;
}

bool opening(int dirfd, const char* path, int flags) {
  const bool writing = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
  const bool truncating = (flags & O_TRUNC) != 0;  // the open itself changes the file
  if (truncating) change_starts();
  if (registry::empty() || !path || (!writing && !lease::any_write_lease())) return truncating;
  struct stat st;
  const int saved = errno;
  if (syscall(SYS_newfstatat, dirfd, path, &st, 0) == 0) {
    serial::Hold hold;
    // Writing: its own writes must be seen. Any open of a file with a write
    // lease breaks the lease; giving it back first spares the open the wait.
    if (writing || lease::is_write_leased(st.st_dev, st.st_ino)) {
      revoke_file(st.st_dev, st.st_ino, writing ? CMBMAP_OPEN_FOR_WRITE : CMBMAP_LEASE_BROKEN);
      lease::release(st.st_dev, st.st_ino);
    }
  }
  errno = saved;
  return truncating;
}

void fds_closing(unsigned first, unsigned last) {
  if (in_vfork_child()) return;
  lease::note_closed_range(first, last);
  if (registry::empty() && !lease::held() && !fill::holds_fds()) return;
  serial::Hold hold;
  const int saved = errno;
  fill::release_fds_in(first, last);
  registry::Range r[kBatch];
  uintptr_t from = 0;
  for (size_t n; (n = registry::collect(from, UINTPTR_MAX - from, r, kBatch)) > 0;) {
    from = r[n - 1].end;
    for (size_t i = 0; i < n; ++i)
      if ((unsigned)r[i].fd >= first && (unsigned)r[i].fd <= last)
        revoke_file(r[i].dev, r[i].ino, CMBMAP_REMAPPED);
  }
  dev_t devs[64];
  ino_t inos[64];
  for (size_t n; (n = lease::files_with_fd_in(first, last, devs, inos, 64)) > 0;) {
    for (size_t i = 0; i < n; ++i) {
      revoke_file(devs[i], inos[i], CMBMAP_REMAPPED);
      lease::release(devs[i], inos[i]);
    }
  }
  errno = saved;
}

void keep_own_fd(int fd) {
  if (registry::empty() && !lease::held() && !fill::holds_fds()) return;
  if (in_vfork_child()) return;
  serial::Hold hold;
  if (!registry::uses_fd(fd) && !lease::uses_fd(fd) && !fill::uses_fd(fd)) return;
  const int saved = errno;
  int moved = openfiles::dup_above_floor(fd);
  if (moved >= 0) {
    registry::relocate_fd(fd, moved);
    lease::relocate_fd(fd, moved);
    fill::relocate_fd(fd, moved);
  }
  errno = saved;
}

}  // namespace cmbmap::core
