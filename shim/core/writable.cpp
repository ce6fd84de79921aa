// Writable served mappings, the parts the hooks and the watcher ask for:
// msync, reads of a file with stores in CMB memory, the program's SIGSEGV
// disposition, periodic and MS_ASYNC writeback (see core.h, dirty.h and
// writeback.h for the mechanism).
#include <cerrno>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "../../resolver/prim.h"
#include "../real.h"
#include "core.h"
#include "dirty.h"
#include "log.h"
#include "openfiles.h"
#include "registry.h"
#include "serial.h"
#include "watcher.h"
#include "writeback.h"

namespace cmbmap::core {
namespace {

uint64_t g_next_ms;  // when the periodic writeback is next due (watcher only)

}  // namespace

bool writable_served() { return dirty::any(); }

void reading(int fd, const struct iovec* iov, int cnt) {
  const int saved = errno;
  struct stat st;
  if (served_file(fd, &st)) writeback::file(st.st_dev, st.st_ino, writeback::Mode::Current);
  for (int i = 0; iov && i < cnt; ++i) dirty::prepare_store(iov[i].iov_base, iov[i].iov_len);
  errno = saved;
}

void syncing(int fd) {
  const int saved = errno;
  struct stat st;
  if (fd < 0) writeback::all(writeback::Mode::Durable);
  else if (served_file(fd, &st)) writeback::file(st.st_dev, st.st_ino, writeback::Mode::Durable);
  errno = saved;
}

int sync_range(void* addr, size_t len, int flags) {
  // Arguments the kernel refuses are refused by it, before anything is written.
  const bool valid = openfiles::page_aligned(addr) && !(flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) &&
                     !((flags & MS_ASYNC) && (flags & MS_SYNC));
  if (!valid || !dirty::tracks((uintptr_t)addr, len)) return real::msync(addr, len, flags);
  len = openfiles::page_round_up(len);
  if (flags & MS_SYNC) {
    serial::Hold hold;
    writeback::Outcome o = writeback::range(addr, len, writeback::Mode::Durable);
    // The kernel answers for the range (ENOMEM for a gap) and syncs the
    // ordinary pages in it; a failed writeback is an I/O error, as it is
    // for the page cache.
    int r = real::msync(addr, len, flags);
    if (r == 0 && o.err) {
      errno = EIO;
      return -1;
    }
    return r;
  }
  if (flags & MS_ASYNC) writeback_async();
  return real::msync(addr, len, flags);
}

bool segv_handler_installed() { return dirty::installed(); }

int program_segv_action(const struct sigaction* act, struct sigaction* old) {
  return dirty::program_sigaction(act, old);
}

long writeback_tick() {
  const uint64_t every = options().writeback_ms;
  if (!every || !dirty::any()) return -1;
  const uint64_t now = prim::monotonic_ns() / 1000000u;
  if (!g_next_ms) g_next_ms = now + every;
  if (now >= g_next_ms) {
    writeback::all(writeback::Mode::Current);
    g_next_ms = now + every;
  }
  return (long)(g_next_ms - now);
}

void writeback_async() {
  // No watcher to hand it to: write now.
  if (!watcher::request_writeback()) on_writeback_request();
}

// (writeback::all takes the serial lock itself.)
void on_writeback_request() { writeback::all(writeback::Mode::Current); }

void write_back_at_exit() {
  if (!dirty::any()) return;
  writeback::Outcome o = writeback::all(writeback::Mode::Durable);
  log::Line(o.err ? LogLevel::Error : LogLevel::Debug).s("exit: wrote back ").size(o.bytes)
      .s(o.err ? " (with errors)" : "").emit();
}

}  // namespace cmbmap::core
