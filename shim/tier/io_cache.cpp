// Cached rings and device fds (see io_cache.h).
#include "shim/tier/io_cache.h"

#include <fcntl.h>
#include <pthread.h>

#include "prim/prim.h"
#include "prim/text.h"
#include "resolver/types.h"

namespace cmbmap::io_cache {
namespace {

// Moves fd above the floor, closing the original; -1 if no number there is
// free (RLIMIT_NOFILE below the floor): a low fd the program may close and
// reuse is never kept.
int move_high(int fd) {
  int hi = prim::dup_above_floor(fd);
  prim::close_fd(fd);
  return hi < 0 ? -1 : hi;
}

struct CachedDevice {
  char path[kPathMax];
  int fd;
};
CachedDevice g_devices[4];
unsigned g_device_next;
int g_cached_fds;  // rings and devices open (read without the lock by the close hook)

struct CachedRing {
  io_uring ring;
  pid_t owner;  // a forked child must not use its parent's ring: it makes its own
};
CachedRing g_rings[2];  // RingKind order

CachedRing& cached(RingKind kind) { return g_rings[kind == RingKind::Plain ? 0 : 1]; }

pthread_mutex_t g_use = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

// Calls fn(fd) for each fd this process holds here, by reference.
template <typename Fn>
void each_fd(Fn fn) {
  const pid_t self = prim::pid();
  for (CachedRing& c : g_rings)
    if (c.owner == self) fn(c.ring.ring_fd);
  for (CachedDevice& d : g_devices)
    if (d.path[0]) fn(d.fd);
}

// The fds above, copied after each change (under Use) for uses_fd, which the
// close hooks call for every close the program makes: they must not wait
// behind an NVMe write that holds Use for as long as the drive takes.
int g_published[sizeof g_rings / sizeof g_rings[0] + sizeof g_devices / sizeof g_devices[0]];

void publish() {
  size_t n = 0;
  each_fd([&](int& f) { __atomic_store_n(&g_published[n++], f + 1, __ATOMIC_RELEASE); });
  while (n < sizeof g_published / sizeof g_published[0]) __atomic_store_n(&g_published[n++], 0, __ATOMIC_RELEASE);
}

void drop(CachedRing& c) {
  io_uring_queue_exit(&c.ring);
  c.owner = 0;
  __atomic_fetch_sub(&g_cached_fds, 1, __ATOMIC_RELAXED);
  publish();
}

void drop(CachedDevice& d) {
  prim::close_fd(d.fd);
  d.path[0] = '\0';
  __atomic_fetch_sub(&g_cached_fds, 1, __ATOMIC_RELAXED);
  publish();
}

}  // namespace

io_uring* ring(RingKind kind) {
  CachedRing& c = cached(kind);
  const pid_t self = prim::pid();
  if (c.owner == self) return &c.ring;
  io_uring_params p{};
  if (kind == RingKind::NvmeCommands) p.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32;
  if (io_uring_queue_init_params(kDepth, &c.ring, &p) < 0) return nullptr;
  const int hi = prim::dup_above_floor(c.ring.ring_fd);
  if (hi < 0) {
    io_uring_queue_exit(&c.ring);
    return nullptr;
  }
  prim::close_fd(c.ring.ring_fd);
  c.ring.ring_fd = c.ring.enter_ring_fd = hi;
  c.owner = self;
  __atomic_fetch_add(&g_cached_fds, 1, __ATOMIC_RELAXED);
  publish();
  return &c.ring;
}

void drop_ring(RingKind kind) { drop(cached(kind)); }

int device(const char* path) {
  for (const CachedDevice& d : g_devices)
    if (d.path[0] && text::equal(d.path, path)) return d.fd;
  // Write commands need a writable open unless the caller has CAP_SYS_ADMIN.
  int fd = prim::open_at(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) fd = prim::open_read(path);
  if (fd >= 0) fd = move_high(fd);
  if (fd < 0) return -1;
  CachedDevice& d = g_devices[g_device_next++ % 4];
  if (d.path[0]) drop(d);
  d.fd = fd;
  text::copy(d.path, sizeof d.path, path);
  __atomic_fetch_add(&g_cached_fds, 1, __ATOMIC_RELAXED);
  publish();
  return d.fd;
}

Use::Use() { pthread_mutex_lock(&g_use); }
Use::~Use() { pthread_mutex_unlock(&g_use); }

void after_fork_child() {
  // A writeback in another thread of the parent may have held it.
  pthread_mutex_t fresh = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
  g_use = fresh;
  for (CachedRing& c : g_rings)
    if (c.owner) {
      // The ring's memory is the child's copy: unmap it and close the fd.
      io_uring_queue_exit(&c.ring);
      c.owner = 0;
    }
  for (CachedDevice& d : g_devices)
    if (d.path[0]) {
      prim::close_fd(d.fd);
      d.path[0] = '\0';
    }
  g_cached_fds = 0;
  publish();
}

bool holds_fds() { return __atomic_load_n(&g_cached_fds, __ATOMIC_RELAXED) > 0; }

bool uses_fd(int fd) {
  for (const int& f : g_published)
    if (fd >= 0 && __atomic_load_n(&f, __ATOMIC_ACQUIRE) == fd + 1) return true;
  return false;
}

void relocate_fd(int from, int to) {
  Use use;
  const pid_t self = prim::pid();
  for (CachedRing& c : g_rings)
    if (c.owner == self && c.ring.ring_fd == from) c.ring.ring_fd = c.ring.enter_ring_fd = to;
  for (CachedDevice& d : g_devices)
    if (d.path[0] && d.fd == from) d.fd = to;
  publish();
}

void release_fds_in(unsigned first, unsigned last) {
  Use use;
  auto in = [&](int fd) { return fd >= 0 && (unsigned)fd >= first && (unsigned)fd <= last; };
  const pid_t self = prim::pid();
  for (CachedRing& c : g_rings)
    if (c.owner == self && in(c.ring.ring_fd)) drop(c);
  for (CachedDevice& d : g_devices)
    if (d.path[0] && in(d.fd)) drop(d);
}

}  // namespace cmbmap::io_cache
