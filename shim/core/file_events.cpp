// The program's fds and files: opens, closes, dup2 over cmbmap's fds, and
// the calls that change a file (write, truncate, fallocate, open for
// writing). What cmbmap serves of a file never outlives a change to it, and
// cmbmap's own fds stay out of the program's way.
#include <fcntl.h>
#include <sys/stat.h>

#include "cmbmap/cmbmap.h"
#include "common/log.h"
#include "prim/prim.h"
#include "shim/core/core.h"
#include "shim/core/internal.h"
#include "shim/giveback/changes.h"
#include "shim/giveback/commit.h"
#include "shim/giveback/dirty.h"
#include "shim/giveback/lease.h"
#include "shim/giveback/revoke.h"
#include "shim/giveback/writeback.h"
#include "shim/tier/io_cache.h"
#include "shim/tier/registry.h"
#include "shim/tier/served_lock.h"

namespace cmbmap::core {
namespace {

// cmbmap's fds in the program's way: moved above the floor (or, for a
// wholesale close, given up with what they hold).
bool holds_fds() { return !registry::empty() || lease::held() || io_cache::holds_fds(); }

// Gives up cmbmap's fds in [first, last] with what they hold: rings and
// device fds, the ranges that map their file back through one (to file
// pages), the leases held through one.
void give_up_fds_in(unsigned first, unsigned last) {
  served_lock::Hold hold;
  prim::KeepErrno keep;  // io_uring's teardown is not ours to vouch for
  io_cache::release_fds_in(first, last);
  registry::for_each_batch(0, UINTPTR_MAX, [&](const registry::Range* r, size_t n) {
    for (size_t i = 0; i < n; ++i)
      if ((unsigned)r[i].fd >= first && (unsigned)r[i].fd <= last) revoke::file(r[i].dev, r[i].ino, CMBMAP_REMAPPED);
    return true;
  });
  dev_t devs[64];
  ino_t inos[64];
  for (size_t n; (n = lease::files_with_fd_in(first, last, devs, inos, 64)) > 0;)
    for (size_t i = 0; i < n; ++i) revoke::file_and_lease(devs[i], inos[i], CMBMAP_REMAPPED);
}

// Moves fd out of the way if it is one of cmbmap's (the program is about
// to close or reuse the number). Where it cannot move (no number free above
// the floor), what it holds is given up first: the number will be another
// file's, and a give-back through it would map that file, a lease through
// it guard nothing.
void keep_own_fd(int fd) {
  if (!holds_fds() || in_vfork_child()) return;
  served_lock::Hold hold;
  if (!registry::uses_fd(fd) && !lease::uses_fd(fd) && !io_cache::uses_fd(fd)) return;
  // A writeback in another thread may be writing through it right now.
  writeback::wait_for_writes(0, 0, fd);
  int moved = prim::dup_above_floor(fd);
  if (moved >= 0) {
    registry::relocate_fd(fd, moved);
    lease::relocate_fd(fd, moved);
    io_cache::relocate_fd(fd, moved);
    return;
  }
  log::Line(LogLevel::Info).s("fd ").i(fd).s(" of cmbmap's is being closed by the program and cannot move (errno ")
      .i(-moved).s("): giving up what it holds").emit();
  give_up_fds_in((unsigned)fd, (unsigned)fd);
}

}  // namespace

bool fd_is_ours(int fd) { return fd >= 0 && fd == log::fd() && fd != 2; }

void opened(int fd, int flags) {
  if (!in_vfork_child()) lease::note_open(fd, flags);
}

void fd_written_elsewhere(int fd) {
  if (in_vfork_child()) return;
  // Other fds of the same open file (a dup) could still look like the
  // program's own: the file itself gets no write lease any more.
  struct stat st;
  if (prim::fstat_fd(fd, &st) == 0) lease::never_write_lease(st.st_dev, st.st_ino);
  lease::note_closed(fd);
  file_changing(fd);
  file_changed();
}

void fd_read_elsewhere(int fd) {
  if (dirty::any()) mapping_again(fd);
}

void fd_replaced(int fd) {
  lease::note_closed(fd);
  if (fd_is_ours(fd)) log::forget_fd();
  keep_own_fd(fd);
}

bool served_file(int fd, struct stat* st) {
  return fd >= 0 && !registry::empty() && prim::fstat_fd(fd, st) == 0 && registry::has_file(st->st_dev, st->st_ino);
}

void file_changing(int fd) {
  changes::starting();
  struct stat st;
  if (!in_vfork_child() && served_file(fd, &st)) revoke::file(st.st_dev, st.st_ino, CMBMAP_FILE_CHANGED);
}

void file_changed() { changes::finished(); }

void resizing(int fd, off_t len) {
  changes::starting();
  struct stat st;
  if (in_vfork_child() || !served_file(fd, &st)) return;
  // Growing: the served blocks stay the file's, the new part is a hole
  // (ordinary pages wherever it is mapped). Stores past the old end of
  // file are written back now, which clears them as the kernel's
  // writeback of a partial page does, so the page reads as the file will.
  if (len >= 0 && len >= st.st_size) commit::file(st.st_dev, st.st_ino, writeback::Mode::Current);
  else revoke::file(st.st_dev, st.st_ino, CMBMAP_FILE_CHANGED);
}

void mapping_again(int fd) {
  struct stat st;
  if (in_vfork_child() || !served_file(fd, &st)) return;
  served_lock::Hold hold;
  bool writable = false;
  registry::for_each_batch_of_file(st.st_dev, st.st_ino, [&](const registry::Range* r, size_t n) {
    for (size_t i = 0; i < n; ++i) writable |= dirty::tracks(r[i].start, r[i].end - r[i].start);
    return !writable;
  });
  if (writable) revoke::file(st.st_dev, st.st_ino, CMBMAP_MAPPED_TWICE);
}

void path_changing(int dirfd, const char* path) {
  changes::starting();
  if (registry::empty() || !path || in_vfork_child()) return;
  struct stat st;
  if (prim::fstat_at(dirfd, path, &st) == 0 && registry::has_file(st.st_dev, st.st_ino))
    revoke::file(st.st_dev, st.st_ino, CMBMAP_FILE_CHANGED);
}

bool opening(int dirfd, const char* path, int flags) {
  const bool writing = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
  const bool truncating = (flags & O_TRUNC) != 0;  // the open itself changes the file
  if (truncating) changes::starting();
  // A vfork child shares the parent's memory, not its fds: what it gave
  // back the parent would find gone with its fds still open. The kernel's
  // lease break reaches the parent's watcher instead.
  if (in_vfork_child()) return truncating;
  if (registry::empty() || !path || (!writing && !lease::any_write_lease())) return truncating;
  struct stat st;
  if (prim::fstat_at(dirfd, path, &st) != 0) return truncating;
  // Writing: its own writes must be seen. Any open of a file with a write
  // lease breaks the lease; giving it back first spares the open the wait.
  served_lock::Hold hold;
  if (writing || lease::is_write_leased(st.st_dev, st.st_ino))
    revoke::file_and_lease(st.st_dev, st.st_ino, writing ? CMBMAP_OPEN_FOR_WRITE : CMBMAP_LEASE_BROKEN);
  return truncating;
}

bool fds_closing(unsigned first, unsigned last) {
  if (in_vfork_child()) return false;
  // From here until the close is done no fd of cmbmap's is made there
  // (the rings and device fds are reopened on demand, without the lock).
  prim::fds_closing(first, last);
  lease::note_closed_range(first, last);
  // The log's own fd goes too: forget it, or a later fd of cmbmap's own
  // (a dup of one of the program's files) could get its number and the log.
  if (log::fd() >= 0 && (unsigned)log::fd() >= first && (unsigned)log::fd() <= last) log::forget_fd();
  if (holds_fds()) give_up_fds_in(first, last);
  return true;
}

void fds_closed() { prim::fds_closed(); }  // atomics only: errno stays the close's

}  // namespace cmbmap::core
