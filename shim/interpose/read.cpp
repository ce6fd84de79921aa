// Interposers for the read family: read, pread, readv, preadv, preadv2 and
// the fortified __read_chk, __pread_chk.
// Only writable served mappings make them the core's business: the file's
// stores still in CMB memory are written back before the file is read (the
// page cache would have shown them), and a buffer inside such a mapping is
// made writable first (the kernel does not fault on the program's behalf:
// a write-protected page would fail the call with EFAULT).
#include <sys/uio.h>
#include <unistd.h>

#include "shim/core/core.h"
#include "common/export.h"
#include "shim/real.h"

using namespace cmbmap;

namespace {

void reading(int fd, const struct iovec* iov, int cnt) {
  if (!core::writable_served()) return;
  core::Scope scope;
  if (scope.on()) core::reading(fd, iov, cnt);
}
void reading(int fd, void* buf, size_t n) {
  if (!core::writable_served()) return;
  core::Scope scope;
  if (scope.on()) core::reading_into(fd, buf, n);
}

}  // namespace

CMBMAP_EXPORT ssize_t read(int fd, void* buf, size_t n) {
  reading(fd, buf, n);
  return real::read(fd, buf, n);
}
CMBMAP_EXPORT ssize_t pread(int fd, void* buf, size_t n, off_t off) {
  reading(fd, buf, n);
  return real::pread(fd, buf, n, off);
}
CMBMAP_EXPORT ssize_t pread64(int fd, void* buf, size_t n, off_t off) { return pread(fd, buf, n, off); }
CMBMAP_EXPORT ssize_t readv(int fd, const struct iovec* iov, int cnt) {
  reading(fd, iov, cnt);
  return real::readv(fd, iov, cnt);
}
CMBMAP_EXPORT ssize_t preadv(int fd, const struct iovec* iov, int cnt, off_t off) {
  reading(fd, iov, cnt);
  return real::preadv(fd, iov, cnt, off);
}
CMBMAP_EXPORT ssize_t preadv64(int fd, const struct iovec* iov, int cnt, off_t off) {
  return preadv(fd, iov, cnt, off);
}
CMBMAP_EXPORT ssize_t preadv2(int fd, const struct iovec* iov, int cnt, off_t off, int flags) {
  reading(fd, iov, cnt);
  return real::preadv2(fd, iov, cnt, off, flags);
}
CMBMAP_EXPORT ssize_t preadv64v2(int fd, const struct iovec* iov, int cnt, off_t off, int flags) {
  return preadv2(fd, iov, cnt, off, flags);
}

// The fortified entry points (-D_FORTIFY_SOURCE with a buffer of known
// size), which distributions build most programs to call instead.
CMBMAP_EXPORT ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
  reading(fd, buf, n < buflen ? n : buflen);
  return real::read_chk(fd, buf, n, buflen);
}
CMBMAP_EXPORT ssize_t __pread_chk(int fd, void* buf, size_t n, off_t off, size_t buflen) {
  reading(fd, buf, n < buflen ? n : buflen);
  return real::pread_chk(fd, buf, n, off, buflen);
}
CMBMAP_EXPORT ssize_t __pread64_chk(int fd, void* buf, size_t n, off_t off, size_t buflen) {
  return __pread_chk(fd, buf, n, off, buflen);
}
