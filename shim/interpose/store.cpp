// Interposers for system calls that store into a buffer of the program's
// other than reads of a file: recv, recvfrom, recvmsg, getdents64, and the
// FIEMAP ioctl (its extent array). A clean page of a writable served
// mapping is write-protected, and the kernel cannot fault on the program's
// behalf inside a call: such a buffer is made dirty and writable first, as
// a store would make it (docs/dirty-tracking.md says why the kernel's own
// tracking cannot do this on p2pmem).
#include <cstdarg>
#include <dirent.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/export.h"
#include "shim/core/core.h"
#include "shim/real.h"

using namespace cmbmap;

namespace {

void storing(const struct iovec* iov, int cnt) {
  if (!core::writable_served()) return;
  core::Scope scope;
  if (scope.on()) core::reading(-1, iov, cnt);
}

void storing(void* buf, size_t len) {
  if (!core::writable_served()) return;
  core::Scope scope;
  if (scope.on()) core::reading_into(-1, buf, len);
}

}  // namespace

CMBMAP_EXPORT ssize_t recv(int fd, void* buf, size_t n, int flags) {
  storing(buf, n);
  return real::recv(fd, buf, n, flags);
}
CMBMAP_EXPORT ssize_t recvfrom(int fd, void* buf, size_t n, int flags, struct sockaddr* from, socklen_t* len) {
  storing(buf, n);
  return real::recvfrom(fd, buf, n, flags, from, len);
}
CMBMAP_EXPORT ssize_t recvmsg(int fd, struct msghdr* msg, int flags) {
  // The program's header, not trusted (the kernel answers EFAULT for it).
  struct msghdr h;
  if (msg && core::writable_served() && core::read_program_memory(&h, msg, sizeof h)) storing(h.msg_iov, (int)h.msg_iovlen);
  return real::recvmsg(fd, msg, flags);
}
CMBMAP_EXPORT ssize_t getdents64(int fd, void* buf, size_t n) {
  storing(buf, n);
  return real::getdents64(fd, buf, n);
}

// ioctl's third argument is untyped; FIEMAP's is a struct fiemap followed by
// fm_extent_count extents, all written by the kernel.
CMBMAP_EXPORT int ioctl(int fd, unsigned long req, ...) {
  va_list ap;
  va_start(ap, req);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  struct fiemap fm;
  if (req == FS_IOC_FIEMAP && arg && core::writable_served() && core::read_program_memory(&fm, arg, sizeof fm))
    storing(arg, sizeof fm + (size_t)fm.fm_extent_count * sizeof(struct fiemap_extent));
  return real::ioctl(fd, req, arg);
}
