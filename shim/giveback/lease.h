// File leases: the filesystem's permission to serve a file (F_SETLEASE).
// No range is served without one. The kernel breaks a lease before anyone
// else may change the file's blocks (another process opens it for writing,
// truncates it); the watcher thread then gives the file's ranges back and
// releases, so the opener waits milliseconds, not lease-break-time.
//   - the program's fd is read-only: a read lease on a private read-only
//     (O_DIRECT where possible) open of the file, which also serves as the
//     fill's source;
//   - the program's fd is read-write (sqlite3, LMDB): a write lease on the
//     program's own open file, granted only while it is the file's only open,
//     so any other open breaks it; the fill must then not open the file.
// Break signals go to the watcher thread alone (F_SETOWN_EX, F_OWNER_TID).
// The lease table changes only under the served-ranges lock (acquire,
// settle, release, relocate_fd, before_fork). held() and any_write_lease()
// are read without it: hints that decide whether a hook looks further. The
// own-open bitmap (note_*) and never_write_lease are lock-free.
#pragma once

#include <sys/types.h>

namespace cmbmap::lease {

struct Grant {
  int reason;      // CMBMAP_ELIGIBLE, CMBMAP_LEASE_DENIED or CMBMAP_NO_FD
  int direct_fd;   // O_DIRECT read-only fd of the file to fill from, or -1
  bool write;      // a write lease on the program's open file
};

// Takes (or reuses) the lease for the file behind the program's fd, for a
// serve that is about to start; the lease stays pinned until settle().
// signal and tid: where breaks are to be delivered.
Grant acquire(int fd, dev_t dev, ino_t ino, int signal, pid_t tid);
// The serve is over: release the lease if no range of the file is served.
void settle(dev_t dev, ino_t ino);
// Releases the lease if the file has no served range and no serve running.
void release_if_unused(dev_t dev, ino_t ino);
// Releases it now (after a break, once the ranges are given back).
void release(dev_t dev, ino_t ino);

// True if the kernel is breaking the lease of (dev, ino).
bool breaking_now(dev_t dev, ino_t ino);
// Files whose lease the kernel is breaking (for a lost break signal).
size_t breaking(dev_t* devs, ino_t* inos, size_t cap);
// Files with a write lease.
size_t write_leased(dev_t* devs, ino_t* inos, size_t cap);
bool is_write_leased(dev_t dev, ino_t ino);
bool any_write_lease();
size_t held();

bool uses_fd(int fd);
// Files whose lease fd lies in [first, last].
size_t files_with_fd_in(unsigned first, unsigned last, dev_t* devs, ino_t* inos, size_t cap);
void relocate_fd(int from, int to);

// Which of the program's fds this image opened read-write itself (through
// the open hook, since the last fork or spawn): only such an open file
// can hold a write lease that means anything. An inherited or shared one may
// be written by another process without breaking the lease.
void note_open(int fd, int flags);
void note_closed(int fd);
void note_closed_range(unsigned first, unsigned last);

// The file may be written where no hook sees it (stdio): no write lease on
// it again in this process.
void never_write_lease(dev_t dev, ino_t ino);

// While set (exec or exit under way), no new lease is taken.
void refuse_new(bool refuse);

// fork: every fd is now shared with the child (it may write through them);
// the caller has given back the write leases first.
void before_fork();
// The child holds no lease: its copies of cmbmap's lease fds are closed
// without releasing (the leases are the parent's).
void after_fork_child();

}  // namespace cmbmap::lease
