// Interposers for the calls that make a file durable: fsync, fdatasync,
// sync_file_range, syncfs, sync. On Linux they also write back stores made
// through a shared mapping (the page cache is one), and programs count on
// that: stores in writable served mappings of the file reach it first.
#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

#include "shim/core/core.h"
#include "common/export.h"
#include "shim/real.h"

using namespace cmbmap;

namespace {

// fd < 0: every file. 0, or the errno the call fails with (the file's
// stores could not be written).
int syncing(int fd) {
  if (!core::writable_served()) return 0;
  core::Scope scope;
  return scope.on() ? core::syncing(fd) : 0;
}

// The real call's result, unless the stores failed: then -1 with err, as
// the kernel reports a failed writeback of the page cache.
int with(int err, int r) {
  if (r == 0 && err) {
    errno = err;
    return -1;
  }
  return r;
}

}  // namespace

CMBMAP_EXPORT int fsync(int fd) {
  const int err = syncing(fd);
  return with(err, real::fsync(fd));
}
CMBMAP_EXPORT int fdatasync(int fd) {
  const int err = syncing(fd);
  return with(err, real::fdatasync(fd));
}
CMBMAP_EXPORT int sync_file_range(int fd, off_t off, off_t len, unsigned int flags) {
  const int err = syncing(fd);
  return with(err, real::sync_file_range(fd, off, len, flags));
}
CMBMAP_EXPORT int syncfs(int fd) {
  const int err = syncing(-1);
  return with(err, real::syncfs(fd));
}
CMBMAP_EXPORT void sync() {
  syncing(-1);
  real::sync();
}
