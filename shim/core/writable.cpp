// Writable served mappings, the parts the hooks ask for: msync, reads of a
// file with stores in CMB memory, fsync and friends, the program's SIGSEGV
// disposition (the mechanism: giveback/dirty.h, writeback.h, commit.h).
#include <cerrno>
#include <climits>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "prim/prim.h"
#include "shim/core/core.h"
#include "shim/core/internal.h"
#include "shim/core/policy.h"
#include "shim/giveback/commit.h"
#include "shim/giveback/dirty.h"
#include "shim/giveback/watcher.h"
#include "shim/real.h"
#include "shim/tier/registry.h"
#include "shim/tier/served_lock.h"

namespace cmbmap::core {

bool writable_served() { return dirty::any() || writeback::any_error(); }

namespace {
void written_back_before_reading(int fd) {
  struct stat st;
  if (fd >= 0 && served_file(fd, &st)) commit::file(st.st_dev, st.st_ino, writeback::Mode::Current);
}
}  // namespace

void reading_into(int fd, void* buf, size_t len) {
  prim::KeepErrno keep;
  written_back_before_reading(fd);
  dirty::prepare_store(buf, len);
}

bool read_program_memory(void* dst, const void* src, size_t len) {
  if (prim::copy_from_self(dst, src, len)) return true;
  registry::Range r;
  const uintptr_t a = (uintptr_t)src;
  if (registry::collect(a, len, &r, 1) != 1 || r.start > a || r.end < a + len || !(r.prot & PROT_READ)) return false;
  __builtin_memcpy(dst, src, len);
  return true;
}

void reading(int fd, const struct iovec* iov, int cnt) {
  prim::KeepErrno keep;
  written_back_before_reading(fd);
  // The program's array, not trusted: a bad pointer is the kernel's EFAULT
  // to give, more than IOV_MAX entries its EINVAL.
  if (!iov || cnt <= 0 || cnt > IOV_MAX || !dirty::any()) return;
  struct iovec chunk[16];
  for (int i = 0; i < cnt;) {
    const int n = cnt - i < 16 ? cnt - i : 16;
    if (!read_program_memory(chunk, iov + i, (size_t)n * sizeof *iov)) return;
    for (int k = 0; k < n; ++k) dirty::prepare_store(chunk[k].iov_base, chunk[k].iov_len);
    i += n;
  }
}

int syncing(int fd) {
  prim::KeepErrno keep;
  struct stat st;
  if (fd < 0) return commit::all(writeback::Mode::Durable).err ? EIO : 0;
  if (prim::fstat_fd(fd, &st) != 0) return 0;
  const bool failed = registry::has_file(st.st_dev, st.st_ino) &&
                      commit::file(st.st_dev, st.st_ino, writeback::Mode::Durable).err;
  // An earlier failure of the file's writeback is reported once, whatever
  // this one did (the program may have to write again).
  const bool failed_before = writeback::take_error(st.st_dev, st.st_ino) != 0;
  return failed || failed_before ? EIO : 0;
}

namespace {

// Whether the writeback of a file served in [addr, addr+len) failed since
// its errors were last reported; reports them (they are reported once).
bool failed_earlier(void* addr, size_t len) {
  if (!writeback::any_error()) return false;
  bool failed = false;
  const uintptr_t lo = (uintptr_t)addr;
  registry::for_each_batch(lo, lo + len, [&](const registry::Range* r, size_t n) {
    for (size_t i = 0; i < n; ++i) failed |= writeback::take_error(r[i].dev, r[i].ino) != 0;
    return true;
  });
  return failed;
}

// msync(MS_SYNC) syncs the file under a shared mapping (vfs_fsync_range)
// and reports its errors: the CMB mapping's file is p2pmem's, whose fsync
// does nothing, so the served files there are synced here. 0 or an errno.
int sync_served_files(void* addr, size_t len) {
  int err = 0, last_fd = -1;
  const uintptr_t lo = (uintptr_t)addr;
  registry::for_each_batch(lo, lo + prim::page_round_up(len), [&](const registry::Range* r, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (!policy::shared(r[i].flags) || r[i].fd == last_fd) continue;
      last_fd = r[i].fd;
      const int synced = prim::fdatasync_fd(r[i].fd);
      if (synced < 0 && !err) err = -synced;
    }
    return true;
  });
  return err;
}

}  // namespace

int sync_range(void* addr, size_t len, int flags) {
  // Arguments the kernel refuses are refused by it, before anything is written.
  const bool valid = prim::page_aligned(addr) && !(flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) &&
                     !((flags & MS_ASYNC) && (flags & MS_SYNC));
  // The kernel refuses MS_INVALIDATE on locked memory (EBUSY), but it never
  // locks a CMB mapping (VM_MIXEDMAP): the request's flag answers for it.
  if (valid && (flags & MS_INVALIDATE) && registry::any_locked((uintptr_t)addr, prim::page_round_up(len))) {
    errno = EBUSY;
    return -1;
  }
  if (valid && (flags & MS_SYNC) && !dirty::tracks((uintptr_t)addr, len)) {
    const int r = real::msync(addr, len, flags);
    if (r != 0) return r;
    served_lock::Hold hold;  // the ranges' fds stay theirs meanwhile
    const int err = sync_served_files(addr, len);
    if (err) errno = err;
    return err ? -1 : 0;
  }
  if (!valid || !dirty::tracks((uintptr_t)addr, len)) return real::msync(addr, len, flags);
  len = prim::page_round_up(len);
  if (flags & MS_SYNC) {
    const writeback::Outcome o = commit::range(addr, len, writeback::Mode::Durable);
    // The kernel answers for the range (ENOMEM for a gap) and syncs the
    // ordinary pages in it; a failed writeback is an I/O error, as it is
    // for the page cache, and so is an earlier one of a file mapped there
    // (the kernel's msync reports the file's writeback errors), once.
    int r = real::msync(addr, len, flags);
    const bool failed_before = failed_earlier(addr, len);
    if (r == 0 && (o.err || failed_before)) {
      errno = EIO;
      return -1;
    }
    return r;
  }
  // MS_ASYNC: the watcher writes back; with no watcher to hand it to, now.
  if ((flags & MS_ASYNC) && !watcher::request_writeback()) commit::all(writeback::Mode::Current);
  return real::msync(addr, len, flags);
}

bool segv_handler_installed() { return dirty::installed(); }

int program_segv_action(const struct sigaction* act, struct sigaction* old) {
  return dirty::program_sigaction(act, old);
}

}  // namespace cmbmap::core
