// The io_uring rings and NVMe char-device fds the tier keeps for the
// process: setting them up costs more than a 1 MiB read under emulation.
// Their fds live above prim::kOwnFdFloor, close-on-exec; a forked child
// never uses its parent's ring (it makes its own). Their users hold Use:
// fills run under the served-ranges lock, but a writeback's NVMe writes run
// without it (writeback.h), so the rings and the device table have a lock
// of their own (taken after the served-ranges lock, never before it).
//
// The close hooks ask about these fds: move one out of the program's way,
// or give up those in a range the program closes wholesale.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <liburing.h>

namespace cmbmap::io_cache {

constexpr unsigned kDepth = 8;  // io_uring requests in flight

// Held while using a ring or a device fd from here, and by the calls below
// that change them. Recursive.
struct Use {
  Use();
  ~Use();
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
};

enum class RingKind { Plain, NvmeCommands };
// The process's ring of that kind (NvmeCommands: SQE128|CQE32), or null if
// io_uring is unavailable (kernel.io_uring_disabled, seccomp).
io_uring* ring(RingKind kind);
// After a failed submit: what the kernel took is unknown, the ring goes.
void drop_ring(RingKind kind);
// An fd of the char device at path (read-write where allowed), or -1.
int device(const char* path);

// A forked child: the parent's rings and device fds (raw access to the
// whole namespace) are closed at once; the child opens its own if it needs
// them. Every one of them is close-on-exec too.
void after_fork_child();

bool holds_fds();
bool uses_fd(int fd);
void relocate_fd(int from, int to);
void release_fds_in(unsigned first, unsigned last);

// Submits count requests made by prep(sqe, i), kDepth in flight, and checks
// each completion with check(i, res) (0 or an errno). Waits for everything
// submitted before returning: the ring is kept for the next user. 0 or the
// first errno; *clean turns false if requests may be left in the ring.
template <typename Prep, typename Check>
int drive(io_uring* ring, size_t count, Prep prep, Check check, bool* clean) {
  size_t queued = 0, completed = 0;
  int err = 0;
  while (completed < count) {
    while (!err && queued < count && queued - completed < kDepth) {
      io_uring_sqe* sqe = io_uring_get_sqe(ring);
      if (!sqe) break;
      prep(sqe, queued);
      io_uring_sqe_set_data64(sqe, queued);
      ++queued;
    }
    if (queued == completed) break;  // nothing in flight (an error stopped queueing)
    int r = io_uring_submit_and_wait(ring, 1);
    if (r < 0 && r != -EINTR) {
      *clean = false;
      return -r;
    }
    io_uring_cqe* cqe;
    while (io_uring_peek_cqe(ring, &cqe) == 0) {
      if (!err) err = check(io_uring_cqe_get_data64(cqe), cqe->res);
      io_uring_cqe_seen(ring, cqe);
      ++completed;
    }
  }
  while (completed < queued) {
    io_uring_cqe* cqe;
    int r = io_uring_wait_cqe(ring, &cqe);
    if (r == -EINTR) continue;
    if (r < 0) { *clean = false; break; }
    io_uring_cqe_seen(ring, cqe);
    ++completed;
  }
  return err ? err : completed < count ? EIO : 0;
}

}  // namespace cmbmap::io_cache
