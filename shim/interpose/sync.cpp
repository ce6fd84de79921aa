// Interposers for the calls that make a file durable: fsync, fdatasync,
// sync_file_range, syncfs, sync. On Linux they also write back stores made
// through a shared mapping (the page cache is one), and programs count on
// that: stores in writable served mappings of the file reach it first.
#include <fcntl.h>
#include <unistd.h>

#include "shim/core/core.h"
#include "common/export.h"
#include "shim/real.h"

using namespace cmbmap;

namespace {

// fd < 0: every file.
void syncing(int fd) {
  if (!core::writable_served()) return;
  core::Scope scope;
  if (scope.on()) core::syncing(fd);
}

}  // namespace

CMBMAP_EXPORT int fsync(int fd) {
  syncing(fd);
  return real::fsync(fd);
}
CMBMAP_EXPORT int fdatasync(int fd) {
  syncing(fd);
  return real::fdatasync(fd);
}
CMBMAP_EXPORT int sync_file_range(int fd, off_t off, off_t len, unsigned int flags) {
  syncing(fd);
  return real::sync_file_range(fd, off, len, flags);
}
CMBMAP_EXPORT int syncfs(int fd) {
  syncing(-1);
  return real::syncfs(fd);
}
CMBMAP_EXPORT void sync() {
  syncing(-1);
  real::sync();
}
