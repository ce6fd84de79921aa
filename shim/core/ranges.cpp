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
#include "log.h"
#include "openfiles.h"
#include "policy.h"
#include "registry.h"
#include "stats.h"

namespace cmbmap::core {
namespace {

constexpr size_t kBatch = 64;

void forget_served(uint64_t bytes) {
  stats::add(&cmbmap_stats::served_bytes, (uint64_t)0 - bytes);
  stats::add(&cmbmap_stats::freed_bytes, bytes);
}

// Closes cmbmap's duplicate fds that no registered range uses any more.
void close_unused(const registry::Range* pieces, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    bool seen = false;
    for (size_t k = 0; k < i; ++k) seen |= pieces[k].fd == pieces[i].fd;
    if (!seen && !registry::uses_fd(pieces[i].fd)) syscall(SYS_close, pieces[i].fd);
  }
}

const char* cause_name(int cause) { return cmbmap_reason_name(cause); }

// The kernel refuses unaligned addresses with EINVAL before touching
// anything: such calls go straight to it, and cmbmap changes nothing.
bool aligned(const void* addr) { return openfiles::page_aligned(addr); }
using openfiles::page_round_up;

}  // namespace

size_t revoke_range(const void* addr, size_t len, int cause) {
  if (!aligned(addr)) return 0;
  len = page_round_up(len);
  const int saved = errno;
  size_t total = 0;
  for (;;) {
    registry::Range pieces[kBatch];
    size_t n = registry::collect((uintptr_t)addr, len, pieces, kBatch);
    if (n == 0) break;
    for (size_t i = 0; i < n; ++i) {
      const registry::Range& p = pieces[i];
      size_t plen = p.end - p.start;
      void* r = real::mmap((void*)p.start, plen, p.prot, p.flags | MAP_FIXED, p.fd, (off_t)p.file_offset);
      if (r == MAP_FAILED) {
        // The CMB copy stays: still the file's bytes, only not revocable.
        log::Line(LogLevel::Warn).s("could not give ").x(p.start).s("+").u(plen)
            .s(" back to the page cache (errno ").i(errno).s(")").emit();
      }
      registry::remove(p.start, plen);
      total += plen;
    }
    close_unused(pieces, n);
    if (n < kBatch) break;
  }
  if (total) {
    forget_served(total);
    stats::add(&cmbmap_stats::revoked_bytes, total);
    stats::add_fallback(cause, total);
    log::Line(LogLevel::Info).s("revoked ").size(total).s(" at ").x((uintptr_t)addr).s(": ")
        .s(cause_name(cause)).emit();
  }
  errno = saved;
  return total;
}

size_t revoke_file(dev_t dev, ino_t ino, int cause) {
  size_t total = 0;
  registry::Range r[kBatch];
  for (size_t n; (n = registry::collect_file(dev, ino, r, kBatch)) > 0;) {
    for (size_t i = 0; i < n; ++i) total += revoke_range((void*)r[i].start, r[i].end - r[i].start, cause);
  }
  return total;
}

int unmap(void* addr, size_t len) {
  // The kernel decides first (alignment, length): only a successful munmap
  // changes what cmbmap serves.
  int r = real::munmap(addr, len);
  if (r != 0) return r;
  const int saved = errno;
  registry::Range pieces[kBatch];
  size_t n = registry::collect((uintptr_t)addr, page_round_up(len), pieces, kBatch);
  size_t gone = registry::remove((uintptr_t)addr, page_round_up(len));
  close_unused(pieces, n);
  if (gone) forget_served(gone);
  log::Line(LogLevel::Debug).s("munmap ").x((uintptr_t)addr).s(" length ").u(len).s(": ")
      .size(gone).s(" of CMB released").emit();
  errno = saved;
  return 0;
}

void* remap(void* old, size_t old_len, size_t new_len, int flags, void* new_addr) {
  if (!aligned(old)) return real::mremap(old, old_len, new_len, flags, new_addr);
  if (new_len <= old_len && !(flags & (MREMAP_FIXED | MREMAP_DONTUNMAP))) {
    // Shrinking in place: the kernel drops the tail; keep the registry exact.
    void* r = real::mremap(old, old_len, new_len, flags, new_addr);
    if (r != MAP_FAILED && new_len < old_len) {
      const int saved = errno;
      size_t keep = page_round_up(new_len);
      size_t gone = keep < old_len ? registry::remove((uintptr_t)old + keep, page_round_up(old_len) - keep) : 0;
      if (gone) forget_served(gone);
      errno = saved;
    }
    return r;
  }
  // Growing or moving: the range returns to the page cache first, so the
  // kernel grows or moves an ordinary file mapping; then the whole new
  // mapping is planned and served like a new one.
  registry::Range like;
  if (registry::collect((uintptr_t)old, old_len, &like, 1) == 0)
    return real::mremap(old, old_len, new_len, flags, new_addr);
  const int saved = errno;
  int fd = (int)syscall(SYS_fcntl, like.fd, F_DUPFD_CLOEXEC, openfiles::kOwnFdFloor);
  uint64_t file_off = like.file_offset - (like.start - (uintptr_t)old);
  errno = saved;
  revoke_range(old, old_len, CMBMAP_REMAPPED);
  void* r = real::mremap(old, old_len, new_len, flags, new_addr);
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
  if (policy::protect_needs_revoke(prot) || !registry::covers_whole((uintptr_t)addr, len)) {
    // Write/exec (copy-on-write, the kernel's EACCES) or part of a range:
    // the file mapping answers exactly as it would without cmbmap.
    revoke_range(addr, len, CMBMAP_REMAPPED);
    return real::mprotect(addr, len, prot);
  }
  int r = real::mprotect(addr, len, prot);
  if (r == 0) registry::set_prot((uintptr_t)addr, len, prot);
  return r;
}

int advise(void* addr, size_t len, int advice) {
  // Dropped CMB pages have nothing to fault back in from: give the range
  // back so the next read sees the file's bytes.
  if (aligned(addr) && policy::advice_needs_revoke(advice)) revoke_range(addr, len, CMBMAP_REMAPPED);
  return real::madvise(addr, len, advice);
}

int sync_range(void* addr, size_t len, int flags) { return real::msync(addr, len, flags); }

void file_changing(int fd) {
  if (registry::empty()) return;
  struct stat st;
  const int saved = errno;
  if (syscall(SYS_fstat, fd, &st) == 0 && registry::has_file(st.st_dev, st.st_ino))
    revoke_file(st.st_dev, st.st_ino, CMBMAP_OPEN_FOR_WRITE);
  errno = saved;
}

void path_changing(int dirfd, const char* path) {
  if (registry::empty() || !path) return;
  struct stat st;
  const int saved = errno;
  if (syscall(SYS_newfstatat, dirfd, path, &st, 0) == 0 && registry::has_file(st.st_dev, st.st_ino))
    revoke_file(st.st_dev, st.st_ino, CMBMAP_OPEN_FOR_WRITE);
  errno = saved;
}

void keep_own_fd(int fd) {
  if (!registry::uses_fd(fd)) return;
  const int saved = errno;
  int moved = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, openfiles::kOwnFdFloor);
  if (moved >= 0) registry::relocate_fd(fd, moved);
  errno = saved;
}

}  // namespace cmbmap::core
