// Interposers for the calls that open, change or release a file that may be
// mapped: open/creat, write family, truncate, fallocate, copy_file_range,
// sendfile, fdopen/fclose, close, close_range/closefrom, dup2/dup3. Each tells the core, then forwards.
#include <cstdarg>
#include <cstdio>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shim/core/core.h"
#include "common/export.h"
#include "shim/real.h"

using namespace cmbmap;

namespace {

// open's mode argument exists only when the flags ask for one.
bool wants_mode(int flags) { return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE; }

int do_openat(int dirfd, const char* path, int flags, mode_t mode) {
  core::Scope scope;
  if (!scope.on()) return real::openat(dirfd, path, flags, mode);
  const bool changes = core::opening(dirfd, path, flags);
  int fd = real::openat(dirfd, path, flags, mode);
  if (fd >= 0) core::opened(fd, flags);
  if (changes) core::file_changed();
  return fd;
}

// Around a call that changes fd's file: the core gives back what it serves
// of the file first, and no serve may race with the call (see core.h).
class Changing {
 public:
  explicit Changing(int fd) {
    core::Scope scope;
    on_ = scope.on();
    if (on_) core::file_changing(fd);
  }
  ~Changing() {
    if (on_) core::file_changed();
  }

 private:
  bool on_;
};

// The source of a copy: its stores still in CMB memory go to the file first.
void reading_file(int fd) {
  if (!core::writable_served()) return;
  core::Scope scope;
  if (scope.on()) core::reading(fd, nullptr, 0);
}

}  // namespace

#define MODE_ARG(flags, last)                      \
  mode_t mode = 0;                                 \
  if (wants_mode(flags)) {                         \
    va_list ap;                                    \
    va_start(ap, last);                            \
    mode = (mode_t)va_arg(ap, int);                \
    va_end(ap);                                    \
  }

CMBMAP_EXPORT int open(const char* path, int flags, ...) {
  MODE_ARG(flags, flags);
  return do_openat(AT_FDCWD, path, flags, mode);
}
CMBMAP_EXPORT int open64(const char* path, int flags, ...) {
  MODE_ARG(flags, flags);
  return do_openat(AT_FDCWD, path, flags | O_LARGEFILE, mode);
}
CMBMAP_EXPORT int openat(int dirfd, const char* path, int flags, ...) {
  MODE_ARG(flags, flags);
  return do_openat(dirfd, path, flags, mode);
}
CMBMAP_EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
  MODE_ARG(flags, flags);
  return do_openat(dirfd, path, flags | O_LARGEFILE, mode);
}
CMBMAP_EXPORT int creat(const char* path, mode_t mode) {
  return do_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
CMBMAP_EXPORT int creat64(const char* path, mode_t mode) {
  return do_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC | O_LARGEFILE, mode);
}

CMBMAP_EXPORT ssize_t write(int fd, const void* buf, size_t n) {
  Changing c(fd);
  return real::write(fd, buf, n);
}
CMBMAP_EXPORT ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  Changing c(fd);
  return real::pwrite(fd, buf, n, off);
}
CMBMAP_EXPORT ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) {
  return pwrite(fd, buf, n, off);
}
CMBMAP_EXPORT ssize_t writev(int fd, const struct iovec* iov, int cnt) {
  Changing c(fd);
  return real::writev(fd, iov, cnt);
}
CMBMAP_EXPORT ssize_t pwritev(int fd, const struct iovec* iov, int cnt, off_t off) {
  Changing c(fd);
  return real::pwritev(fd, iov, cnt, off);
}
CMBMAP_EXPORT ssize_t pwritev64(int fd, const struct iovec* iov, int cnt, off_t off) {
  return pwritev(fd, iov, cnt, off);
}
CMBMAP_EXPORT ssize_t pwritev2(int fd, const struct iovec* iov, int cnt, off_t off, int flags) {
  Changing c(fd);
  return real::pwritev2(fd, iov, cnt, off, flags);
}
CMBMAP_EXPORT ssize_t pwritev64v2(int fd, const struct iovec* iov, int cnt, off_t off, int flags) {
  return pwritev2(fd, iov, cnt, off, flags);
}

CMBMAP_EXPORT int truncate(const char* path, off_t len) {
  core::Scope scope;
  if (!scope.on()) return real::truncate(path, len);
  core::path_changing(AT_FDCWD, path);
  int r = real::truncate(path, len);
  core::file_changed();
  return r;
}
CMBMAP_EXPORT int truncate64(const char* path, off_t len) { return truncate(path, len); }
CMBMAP_EXPORT int ftruncate(int fd, off_t len) {
  core::Scope scope;
  if (!scope.on()) return real::ftruncate(fd, len);
  core::resizing(fd, len);
  int r = real::ftruncate(fd, len);
  core::file_changed();
  return r;
}
CMBMAP_EXPORT int ftruncate64(int fd, off_t len) { return ftruncate(fd, len); }
CMBMAP_EXPORT int fallocate(int fd, int mode, off_t off, off_t len) {
  Changing c(fd);
  return real::fallocate(fd, mode, off, len);
}
CMBMAP_EXPORT int fallocate64(int fd, int mode, off_t off, off_t len) {
  return fallocate(fd, mode, off, len);
}
CMBMAP_EXPORT int posix_fallocate(int fd, off_t off, off_t len) {
  Changing c(fd);
  return real::posix_fallocate(fd, off, len);
}
CMBMAP_EXPORT int posix_fallocate64(int fd, off_t off, off_t len) {
  return posix_fallocate(fd, off, len);
}
CMBMAP_EXPORT ssize_t copy_file_range(int in, off_t* in_off, int out, off_t* out_off, size_t n,
                                      unsigned flags) {
  Changing c(out);
  reading_file(in);
  return real::copy_file_range(in, in_off, out, out_off, n, flags);
}
CMBMAP_EXPORT ssize_t sendfile(int out, int in, off_t* off, size_t n) {
  Changing c(out);
  reading_file(in);
  return real::sendfile(out, in, off, n);
}
CMBMAP_EXPORT ssize_t sendfile64(int out, int in, off_t* off, size_t n) {
  return sendfile(out, in, off, n);
}
CMBMAP_EXPORT ssize_t splice(int in, loff_t* in_off, int out, loff_t* out_off, size_t n, unsigned flags) {
  Changing c(out);  // a pipe's bytes into a file change it as a write would
  reading_file(in);
  return real::splice(in, in_off, out, out_off, n, flags);
}

// stdio reads and writes through libc's internal read and write, which no
// hook sees: a FILE that may write must not coexist with a served range of
// its file, and one that reads must not with a writable one (its stores
// would be invisible to fread).
CMBMAP_EXPORT FILE* fdopen(int fd, const char* mode) {
  {
    core::Scope scope;
    const bool writes = mode && (mode[0] != 'r' || mode[1] == '+' || (mode[1] && mode[2] == '+'));
    if (scope.on() && writes) core::fd_written_elsewhere(fd);
    else if (scope.on()) core::fd_read_elsewhere(fd);
  }
  return real::fdopen(fd, mode);
}

// fclose closes its fd inside libc: the fd number stops being the program's
// own open (which a write lease needs) here.
CMBMAP_EXPORT int fclose(FILE* f) {
  {
    core::Scope scope;
    if (scope.on() && f) core::fd_replaced(fileno(f));
  }
  return real::fclose(f);
}

CMBMAP_EXPORT int close(int fd) {
  {
    core::Scope scope;
    if (scope.on()) core::fd_replaced(fd);
  }
  return real::close(fd);
}
CMBMAP_EXPORT int close_range(unsigned first, unsigned last, int flags) {
  bool marked = false;
  {
    core::Scope scope;
    if (scope.on() && !(flags & CLOSE_RANGE_CLOEXEC)) marked = core::fds_closing(first, last);
  }
  const int r = real::close_range(first, last, flags);
  if (marked) core::fds_closed();
  return r;
}
CMBMAP_EXPORT void closefrom(int lowfd) {
  bool marked = false;
  {
    core::Scope scope;
    if (scope.on() && lowfd >= 0) marked = core::fds_closing((unsigned)lowfd, ~0u);
  }
  real::closefrom(lowfd);
  if (marked) core::fds_closed();
}
CMBMAP_EXPORT int dup2(int oldfd, int newfd) {
  {
    core::Scope scope;
    if (scope.on() && oldfd != newfd) core::fd_replaced(newfd);
  }
  return real::dup2(oldfd, newfd);
}
CMBMAP_EXPORT int dup3(int oldfd, int newfd, int flags) {
  {
    core::Scope scope;
    if (scope.on() && oldfd != newfd) core::fd_replaced(newfd);
  }
  return real::dup3(oldfd, newfd, flags);
}
