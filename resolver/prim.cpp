// Raw-syscall implementations of resolver/prim.h (see there for why).
#include "prim.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace cmbmap::prim {

// syscall() sets errno; callers of prim want -errno and an untouched errno.
static long raw(long nr, long a = 0, long b = 0, long c = 0, long d = 0) {
  int saved = errno;
  long r = syscall(nr, a, b, c, d);
  if (r < 0) r = -errno;
  errno = saved;
  return r;
}

int open_read(const char* path, int extra_flags) {
  return (int)raw(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC | extra_flags);
}
int close_fd(int fd) { return (int)raw(SYS_close, fd); }
long read_fd(int fd, void* buf, size_t len) { return raw(SYS_read, fd, (long)buf, (long)len); }
int fstat_fd(int fd, struct stat* st) { return (int)raw(SYS_fstat, fd, (long)st); }
int fstatfs_fd(int fd, struct statfs* st) { return (int)raw(SYS_fstatfs, fd, (long)st); }
int ioctl_fd(int fd, unsigned long req, void* arg) {
  return (int)raw(SYS_ioctl, fd, (long)req, (long)arg);
}

long readlink_at(const char* path, char* buf, size_t len) {
  if (len == 0) return -EINVAL;
  long n = raw(SYS_readlinkat, AT_FDCWD, (long)path, (long)buf, (long)(len - 1));
  if (n >= 0) buf[n] = '\0';
  return n;
}

long read_text(const char* path, char* buf, size_t len) {
  if (len == 0) return -EINVAL;
  int fd = open_read(path);
  if (fd < 0) return fd;
  size_t got = 0;
  while (got + 1 < len) {
    long n = read_fd(fd, buf + got, len - 1 - got);
    if (n < 0 && n != -EINTR) { close_fd(fd); return n; }
    if (n == 0) break;
    if (n > 0) got += (size_t)n;
  }
  buf[got] = '\0';
  close_fd(fd);
  return (long)got;
}

}  // namespace cmbmap::prim

#include <dirent.h>

namespace cmbmap::prim {

struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

int list_dir(const char* dir, bool (*fn)(const char*, void*), void* ctx) {
  int fd = open_read(dir, O_DIRECTORY);
  if (fd < 0) return fd;
  alignas(8) char buf[2048];
  for (;;) {
    long n = raw(SYS_getdents64, fd, (long)buf, sizeof buf);
    if (n <= 0) { close_fd(fd); return n < 0 ? (int)n : 0; }
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<linux_dirent64*>(buf + off);
      off += d->d_reclen;
      const char* nm = d->d_name;
      if (nm[0] == '.' && (nm[1] == 0 || (nm[1] == '.' && nm[2] == 0))) continue;
      if (!fn(nm, ctx)) { close_fd(fd); return 0; }
    }
  }
}

bool exists(const char* path) { return raw(SYS_faccessat, AT_FDCWD, (long)path, F_OK) == 0; }

uint64_t monotonic_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

}  // namespace cmbmap::prim
