// File leases (see lease.h). A table with one entry per leased file, sorted
// by (dev, ino) for a binary search, in a mapping that grows without the
// heap (prim::MappedArray): as many files as the program has served. prim's
// raw syscalls only (runs inside mmap and in the watcher thread).
#include "shim/giveback/lease.h"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

#include "cmbmap/cmbmap.h"
#include "common/log.h"
#include "prim/mapped_array.h"
#include "prim/prim.h"
#include "prim/procself.h"
#include "shim/tier/registry.h"
#include "common/stats.h"

namespace cmbmap::lease {
namespace {

struct Entry {
  dev_t dev;
  ino_t ino;
  int fd;               // cmbmap's fd the lease was set on
  bool write;           // F_WRLCK on the program's open file, else F_RDLCK on a private one
  int busy;             // serves in progress
  f_owner_ex old_owner; // the program's open file: its owner and signal, restored on release
  int old_sig;
};

prim::MappedArray<Entry> g_leases;  // [0, g_held), by (dev, ino); moves as it grows

// fds opened read-write by this image (see note_open); higher ones never qualify.
constexpr unsigned kTrackedFds = 1 << 16;
uint64_t g_own_rw[kTrackedFds / 64];
bool g_refuse;
struct FileId { dev_t dev; ino_t ino; };
FileId g_no_write[32];  // never_write_lease; the oldest is forgotten when full
unsigned g_no_write_next;
size_t g_held;        // entries (read without the lock by the close hook)
size_t g_write_held;  // of them write leases (read without the lock by hooks)

long fcntl3(int fd, int cmd, long arg) { return prim::fcntl_fd(fd, cmd, arg); }

bool before(const Entry& e, dev_t dev, ino_t ino) { return e.dev < dev || (e.dev == dev && e.ino < ino); }

// Where (dev, ino)'s entry is or would go.
size_t position(dev_t dev, ino_t ino) {
  size_t lo = 0, hi = g_held;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (before(g_leases[mid], dev, ino)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// The entry until the table next changes.
Entry* find(dev_t dev, ino_t ino) {
  const size_t i = position(dev, ino);
  return i < g_held && g_leases[i].dev == dev && g_leases[i].ino == ino ? &g_leases[i] : nullptr;
}

// Moves fd out of the program's way (>= kOwnFdFloor); closes the original.
// The new fd or -errno.
int above_floor(int fd) {
  int moved = prim::dup_above_floor(fd);
  prim::close_fd(fd);
  return moved;
}

// Breaks go to the watcher thread only. The owner must be set before the
// lease: F_SETLEASE makes the whole process the owner unless one is set.
// Then the lease of kind type: 0 or -errno.
long lease_with_breaks_to(int fd, int signal, pid_t tid, long type) {
  f_owner_ex owner{F_OWNER_TID, tid};
  long r = fcntl3(fd, F_SETSIG, signal);
  if (r == 0) r = fcntl3(fd, F_SETOWN_EX, (long)&owner);
  return r == 0 ? fcntl3(fd, F_SETLEASE, type) : r;
}

// Gives the program's open file back the owner and signal it had set.
void restore_owner(int fd, const Entry& e) {
  fcntl3(fd, F_SETOWN_EX, (long)&e.old_owner);
  fcntl3(fd, F_SETSIG, e.old_sig);
}

void log_denied(int prog_fd, int err, bool write) {
  log::Line l(LogLevel::Info);
  l.s(write ? "write" : "read").s(" lease on fd ").i(prog_fd).s(" denied (errno ").i(err).s("): ");
  if (err == EAGAIN || err == EBUSY)
    l.s(write ? "the file has other opens" : "the file is open for writing");
  else if (err == EACCES || err == EPERM)
    l.s("only the file's owner (or CAP_LEASE) may take a lease");
  else
    l.s("the filesystem or kernel refuses leases");
  l.emit();
}

// No fd number at or above cmbmap's floor was free for the lease's fd
// (RLIMIT_NOFILE): CMBMAP_NO_FD, not the filesystem's refusal.
void no_fd(int prog_fd, int err, int* why) {
  log::Line(LogLevel::Info).s("lease on fd ").i(prog_fd).s(" not taken: no fd number at or above ").i(prim::own_fd_floor())
      .s(" is free (errno ").i(err).s("; RLIMIT_NOFILE)").emit();
  *why = CMBMAP_NO_FD;
}

bool take_read(int prog_fd, int signal, pid_t tid, Entry* e, int* why) {
  char path[32];
  procself::proc_fd_path(prog_fd, path);
  int fd = prim::open_read(path, O_DIRECT);
  if (fd == -EINVAL) fd = prim::open_read(path);
  if (fd < 0) { log_denied(prog_fd, -fd, false); return false; }
  fd = above_floor(fd);
  if (fd < 0) { no_fd(prog_fd, -fd, why); return false; }
  long err = lease_with_breaks_to(fd, signal, tid, F_RDLCK);
  if (err != 0) {
    log_denied(prog_fd, (int)-err, false);
    prim::close_fd(fd);
    return false;
  }
  e->fd = fd;
  e->write = false;
  return true;
}

bool own_open(int fd) {
  return fd >= 0 && (unsigned)fd < kTrackedFds &&
         (__atomic_load_n(&g_own_rw[(unsigned)fd / 64], __ATOMIC_RELAXED) >> ((unsigned)fd % 64) & 1);
}

bool stdio_written(dev_t dev, ino_t ino) {
  for (const FileId& f : g_no_write)
    if (f.ino && f.dev == dev && f.ino == ino) return true;
  return false;
}

bool take_write(int prog_fd, dev_t dev, ino_t ino, int signal, pid_t tid, Entry* e, int* why) {
  if (stdio_written(dev, ino)) {
    log::Line(LogLevel::Info).s("write lease on fd ").i(prog_fd)
        .s(" not taken: the file is written through stdio here, which no hook sees").emit();
    return false;
  }
  if (!own_open(prog_fd)) {
    log::Line(LogLevel::Info).s("write lease on fd ").i(prog_fd)
        .s(" not taken: the open file was not opened here since the last fork or spawn, so "
           "another process may share it").emit();
    return false;
  }
  int fd = prim::dup_above_floor(prog_fd);
  if (fd < 0) { no_fd(prog_fd, -fd, why); return false; }
  // The open file is the program's: keep what it had set.
  e->old_owner = f_owner_ex{F_OWNER_PID, 0};
  fcntl3(fd, F_GETOWN_EX, (long)&e->old_owner);
  e->old_sig = (int)fcntl3(fd, F_GETSIG, 0);
  long err = lease_with_breaks_to(fd, signal, tid, F_WRLCK);
  if (err != 0) {
    restore_owner(fd, *e);
    log_denied(prog_fd, (int)-err, true);
    prim::close_fd(fd);
    return false;
  }
  e->fd = fd;
  e->write = true;
  return true;
}

void drop(Entry* e) {
  fcntl3(e->fd, F_SETLEASE, F_UNLCK);
  if (e->write) restore_owner(e->fd, *e);
  prim::close_fd(e->fd);
  if (e->write) __atomic_fetch_sub(&g_write_held, 1, __ATOMIC_RELAXED);
  g_leases.erase((size_t)(e - &g_leases[0]), g_held);
  __atomic_fetch_sub(&g_held, 1, __ATOMIC_RELAXED);
  stats::add(&cmbmap_stats::leases_held, (uint64_t)-1);
}

// A new lease for the file into the table: its entry, or null if denied
// (*why: the reason). Room is made first: a lease taken must never go
// unrecorded.
Entry* take(int prog_fd, dev_t dev, ino_t ino, int signal, pid_t tid, int* why) {
  if (!g_leases.reserve(g_held + 1)) return nullptr;
  const long mode = fcntl3(prog_fd, F_GETFL, 0);
  Entry fresh{};
  const bool ok = mode >= 0 && ((mode & O_ACCMODE) == O_RDWR ? take_write(prog_fd, dev, ino, signal, tid, &fresh, why)
                                                              : take_read(prog_fd, signal, tid, &fresh, why));
  if (!ok) return nullptr;
  fresh.dev = dev;
  fresh.ino = ino;
  const size_t i = position(dev, ino);
  g_leases.insert(i, g_held, fresh);
  __atomic_fetch_add(&g_held, 1, __ATOMIC_RELAXED);
  if (fresh.write) __atomic_fetch_add(&g_write_held, 1, __ATOMIC_RELAXED);
  stats::add(&cmbmap_stats::leases_taken, 1);
  stats::add(&cmbmap_stats::leases_held, 1);
  log::Line(LogLevel::Debug).s(fresh.write ? "write" : "read").s(" lease taken on fd ").i(fresh.fd).emit();
  return &g_leases[i];
}

}  // namespace

Grant acquire(int prog_fd, dev_t dev, ino_t ino, int signal, pid_t tid) {
  Grant g{CMBMAP_LEASE_DENIED, -1, false};
  Entry* e = find(dev, ino);
  if (!e && tid > 0 && !g_refuse) e = take(prog_fd, dev, ino, signal, tid, &g.reason);
  if (e) {
    ++e->busy;
    g = Grant{CMBMAP_ELIGIBLE, e->write ? -1 : e->fd, e->write};
  }
  return g;
}

void settle(dev_t dev, ino_t ino) {
  if (Entry* e = find(dev, ino)) {
    if (e->busy > 0) --e->busy;
    release_if_unused(dev, ino);
  }
}

void release_if_unused(dev_t dev, ino_t ino) {
  Entry* e = find(dev, ino);
  if (e && e->busy == 0 && !registry::has_file(dev, ino)) release(dev, ino);
}

void release(dev_t dev, ino_t ino) {
  if (Entry* e = find(dev, ino)) {
    log::Line(LogLevel::Debug).s(e->write ? "write" : "read").s(" lease released on fd ").i(e->fd).emit();
    drop(e);
  }
}

bool breaking_now(dev_t dev, ino_t ino) {
  const Entry* e = find(dev, ino);
  if (!e) return false;
  long now = fcntl3(e->fd, F_GETLEASE, 0);
  return now != (e->write ? F_WRLCK : F_RDLCK);
}

size_t breaking(dev_t* devs, ino_t* inos, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < g_held && n < cap; ++i) {
    const Entry& e = g_leases[i];
    // While a break is pending, F_GETLEASE reports the type it is breaking to.
    long now = fcntl3(e.fd, F_GETLEASE, 0);
    if (now != (e.write ? F_WRLCK : F_RDLCK)) { devs[n] = e.dev; inos[n] = e.ino; ++n; }
  }
  return n;
}

size_t write_leased(dev_t* devs, ino_t* inos, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < g_held && n < cap; ++i)
    if (g_leases[i].write) { devs[n] = g_leases[i].dev; inos[n] = g_leases[i].ino; ++n; }
  return n;
}

bool is_write_leased(dev_t dev, ino_t ino) {
  const Entry* e = find(dev, ino);
  return e && e->write;
}

bool any_write_lease() {
  return __atomic_load_n(&g_write_held, __ATOMIC_RELAXED) > 0;
}

size_t held() { return __atomic_load_n(&g_held, __ATOMIC_RELAXED); }

bool uses_fd(int fd) {
  for (size_t i = 0; i < g_held; ++i)
    if (g_leases[i].fd == fd) return true;
  return false;
}

size_t files_with_fd_in(unsigned first, unsigned last, dev_t* devs, ino_t* inos, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < g_held && n < cap; ++i)
    if ((unsigned)g_leases[i].fd >= first && (unsigned)g_leases[i].fd <= last) {
      devs[n] = g_leases[i].dev;
      inos[n++] = g_leases[i].ino;
    }
  return n;
}

void relocate_fd(int from, int to) {
  for (size_t i = 0; i < g_held; ++i)
    if (g_leases[i].fd == from) g_leases[i].fd = to;
}

void note_open(int fd, int flags) {
  if (fd < 0 || (unsigned)fd >= kTrackedFds) return;
  uint64_t bit = uint64_t{1} << ((unsigned)fd % 64);
  if ((flags & O_ACCMODE) == O_RDWR) __atomic_fetch_or(&g_own_rw[(unsigned)fd / 64], bit, __ATOMIC_RELAXED);
  else __atomic_fetch_and(&g_own_rw[(unsigned)fd / 64], ~bit, __ATOMIC_RELAXED);
}

void note_closed(int fd) { note_open(fd, O_RDONLY); }

void note_closed_range(unsigned first, unsigned last) {
  for (unsigned fd = first; fd <= last && fd < kTrackedFds;) {
    if (fd % 64 == 0 && fd + 63 <= last) { __atomic_store_n(&g_own_rw[fd / 64], 0, __ATOMIC_RELAXED); fd += 64; }
    else note_closed((int)fd++);
  }
}

void refuse_new(bool refuse) { g_refuse = refuse; }

void never_write_lease(dev_t dev, ino_t ino) {
  for (const FileId& f : g_no_write)
    if (f.dev == dev && f.ino == ino) return;
  g_no_write[g_no_write_next++ % 32] = FileId{dev, ino};
}

void before_fork() {
  for (uint64_t& w : g_own_rw) w = 0;
}

void after_fork_child() {
  for (size_t i = 0; i < g_held; ++i) prim::close_fd(g_leases[i].fd);
  g_held = 0;
  g_write_held = 0;
}

}  // namespace cmbmap::lease
