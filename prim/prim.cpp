// Raw-syscall implementations of prim/prim.h (see there for the contract).
#include "prim/prim.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

namespace cmbmap::prim {

__thread int t_inside __attribute__((tls_model("initial-exec")));

namespace {

// syscall() sets errno; callers of prim want -errno and an untouched errno.
long raw(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  const int saved = errno;
  long r = syscall(nr, a, b, c, d, e, f);
  if (r == -1) r = -errno;
  errno = saved;
  return r;
}

}  // namespace

// --- files -----------------------------------------------------------------
int open_read(const char* path, int extra_flags) {
  return (int)raw(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC | extra_flags);
}
int open_at(const char* path, int flags, mode_t mode) {
  return (int)raw(SYS_openat, AT_FDCWD, (long)path, flags, mode);
}
int close_fd(int fd) { return (int)raw(SYS_close, fd); }
long read_fd(int fd, void* buf, size_t len) { return raw(SYS_read, fd, (long)buf, (long)len); }
long write_fd(int fd, const void* buf, size_t len) { return raw(SYS_write, fd, (long)buf, (long)len); }
long pread_fd(int fd, void* buf, size_t len, uint64_t off) {
  return raw(SYS_pread64, fd, (long)buf, (long)len, (long)off);
}

namespace {
constexpr int kNoAppend = 0x20;  // RWF_NOAPPEND (Linux 6.9)

// One write at off: pwritev2(RWF_NOAPPEND) where the fd appends.
long pwrite_once(int fd, const char* p, size_t len, uint64_t off, bool append) {
  if (!append) return raw(SYS_pwrite64, fd, (long)p, (long)len, (long)off);
  iovec v{const_cast<char*>(p), len};
  // pwritev2 splits the offset in two longs (low, high) on every ABI.
  return raw(SYS_pwritev2, fd, (long)&v, 1, (long)(off & 0xffffffffu), (long)(off >> 32), kNoAppend);
}
}  // namespace

int pwrite_all(int fd, const void* buf, size_t len, uint64_t off) {
  const auto* p = static_cast<const char*>(buf);
  const long fl = raw(SYS_fcntl, fd, F_GETFL);
  const bool append = fl >= 0 && (fl & O_APPEND);
  for (size_t done = 0; done < len;) {
    long n = pwrite_once(fd, p + done, len - done, off + done, append);
    if (n == -EINTR) continue;
    if (n <= 0) return n < 0 ? (int)n : -EIO;
    done += (size_t)n;
  }
  return 0;
}

uint64_t memlock_limit() {
  uint64_t lim[2] = {~uint64_t{0}, ~uint64_t{0}};  // rlimit64: cur, max
  raw(SYS_prlimit64, 0, RLIMIT_MEMLOCK, 0, (long)lim);
  return lim[0];
}

bool kernel_at_least(int major, int minor) {
  utsname u;
  if (raw(SYS_uname, (long)&u) != 0) return false;
  const char* p = u.release;
  int ma = 0, mi = 0;
  while (*p >= '0' && *p <= '9') ma = ma * 10 + (*p++ - '0');
  if (*p == '.') ++p;
  while (*p >= '0' && *p <= '9') mi = mi * 10 + (*p++ - '0');
  return ma > major || (ma == major && mi >= minor);
}

int fstat_fd(int fd, struct stat* st) { return (int)raw(SYS_fstat, fd, (long)st); }
int fstat_at(int dirfd, const char* path, struct stat* st) {
  return (int)raw(SYS_newfstatat, dirfd, (long)path, (long)st, 0);
}
int fstatfs_fd(int fd, struct statfs* st) { return (int)raw(SYS_fstatfs, fd, (long)st); }
int statx_fd(int fd, unsigned mask, struct statx* stx) {
  return (int)raw(SYS_statx, fd, (long)"", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, mask, (long)stx);
}
int ftruncate_fd(int fd, off_t len) { return (int)raw(SYS_ftruncate, fd, (long)len); }
int fdatasync_fd(int fd) { return (int)raw(SYS_fdatasync, fd); }
int fadvise(int fd, uint64_t off, uint64_t len, int advice) {
  return (int)raw(SYS_fadvise64, fd, (long)off, (long)len, advice);
}
int sync_range(int fd, uint64_t off, uint64_t len) {
  return (int)raw(SYS_sync_file_range, fd, (long)off, (long)len,
                  SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
}
int touch_mtime(int fd) {
  timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  return (int)raw(SYS_utimensat, fd, 0, (long)ts, 0);
}
int ioctl_fd(int fd, unsigned long req, void* arg) { return (int)raw(SYS_ioctl, fd, (long)req, (long)arg); }
long fcntl_fd(int fd, int cmd, long arg) { return raw(SYS_fcntl, fd, cmd, arg); }

long readlink_at(const char* path, char* buf, size_t len) {
  if (len == 0) return -EINVAL;
  long n = raw(SYS_readlinkat, AT_FDCWD, (long)path, (long)buf, (long)(len - 1));
  buf[n >= 0 ? n : 0] = '\0';
  return n;
}
int mkdir_at(const char* path, mode_t mode) { return (int)raw(SYS_mkdirat, AT_FDCWD, (long)path, mode); }
int unlink_at(const char* path) { return (int)raw(SYS_unlinkat, AT_FDCWD, (long)path, 0); }
bool exists(const char* path) { return raw(SYS_faccessat, AT_FDCWD, (long)path, F_OK) == 0; }
bool may_read_write(const char* path) { return raw(SYS_faccessat, AT_FDCWD, (long)path, R_OK | W_OK) == 0; }

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

namespace {
struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};
}  // namespace

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

namespace {
int g_closing;  // close_range calls under way; their numbers, widened to one range
unsigned g_closing_first = ~0u, g_closing_last;
}  // namespace

void fds_closing(unsigned first, unsigned last) {
  __atomic_add_fetch(&g_closing, 1, __ATOMIC_ACQ_REL);
  unsigned f = __atomic_load_n(&g_closing_first, __ATOMIC_ACQUIRE);
  while (first < f && !__atomic_compare_exchange_n(&g_closing_first, &f, first, true, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
  }
  unsigned l = __atomic_load_n(&g_closing_last, __ATOMIC_ACQUIRE);
  while (last > l && !__atomic_compare_exchange_n(&g_closing_last, &l, last, true, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
  }
}

void fds_closed() {
  // The last one out resets the range (one starting meanwhile may lose its
  // widening: then an fd of cmbmap's may be closed, as without this).
  if (__atomic_sub_fetch(&g_closing, 1, __ATOMIC_ACQ_REL) == 0) {
    __atomic_store_n(&g_closing_first, ~0u, __ATOMIC_RELEASE);
    __atomic_store_n(&g_closing_last, 0u, __ATOMIC_RELEASE);
  }
}

int own_fd_floor() {
  rlimit64 nofile{};
  if (raw(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (long)&nofile) != 0 || nofile.rlim_cur >= 2 * (uint64_t)kOwnFdFloor)
    return kOwnFdFloor;
  const int half = (int)(nofile.rlim_cur / 2);
  return half > kLowestOwnFdFloor ? half : kLowestOwnFdFloor;
}

int dup_above_floor(int fd) {
  const int r = (int)raw(SYS_fcntl, fd, F_DUPFD_CLOEXEC, own_fd_floor());
  if (r >= 0 && __atomic_load_n(&g_closing, __ATOMIC_ACQUIRE) > 0 &&
      (unsigned)r >= __atomic_load_n(&g_closing_first, __ATOMIC_ACQUIRE) &&
      (unsigned)r <= __atomic_load_n(&g_closing_last, __ATOMIC_ACQUIRE)) {
    close_fd(r);
    return -EBUSY;
  }
  return r;
}

// --- memory ----------------------------------------------------------------
void* map(void* addr, size_t len, int prot, int flags, int fd, off_t off, int* err) {
  long r = raw(SYS_mmap, (long)addr, (long)len, prot, flags, fd, (long)off);
  // The kernel's errors are the last page of the address space.
  if ((unsigned long)r > -4096UL) {
    if (err) *err = (int)-r;
    return MAP_FAILED;
  }
  return (void*)r;
}
int unmap(void* addr, size_t len) { return (int)raw(SYS_munmap, (long)addr, (long)len); }
bool move_over(void* from, void* at, size_t len) {
  if (remap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, at) != MAP_FAILED) return true;
  unmap(from, len);
  return false;
}
bool map_over(void* at, size_t len, int prot, int flags, int fd, off_t off, int* err) {
  int e = 0;
  void* p = map(nullptr, len, prot, flags & ~MAP_FIXED, fd, off, &e);
  if (err) *err = e;
  return p != MAP_FAILED && move_over(p, at, len);
}
void* remap(void* old, size_t old_len, size_t new_len, int flags, void* new_addr) {
  long r = raw(SYS_mremap, (long)old, (long)old_len, (long)new_len, flags, (long)new_addr);
  return (unsigned long)r > -4096UL ? MAP_FAILED : (void*)r;
}
int protect(void* addr, size_t len, int prot) { return (int)raw(SYS_mprotect, (long)addr, (long)len, prot); }
int lock_memory(void* addr, size_t len) { return (int)raw(SYS_mlock, (long)addr, (long)len); }
bool copy_from_self(void* dst, const void* src, size_t len) {
  const struct iovec local{dst, len}, remote{const_cast<void*>(src), len};
  const long r = raw(SYS_process_vm_readv, pid(), (long)&local, 1, (long)&remote, 1, 0);
  if (r == (long)len) return true;
  if (r >= 0 || r == -EFAULT) return false;
  __builtin_memcpy(dst, src, len);
  return true;
}
bool mapped(void* addr, size_t len) { return raw(SYS_msync, (long)addr, (long)len, MS_ASYNC) != -ENOMEM; }

size_t page_size() {
  static size_t cached;  // every thread computes the same value: relaxed is enough
  size_t v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
  if (!v) __atomic_store_n(&cached, v = (size_t)sysconf(_SC_PAGESIZE), __ATOMIC_RELAXED);
  return v;
}
size_t page_round_up(size_t len) { return (len + page_size() - 1) / page_size() * page_size(); }
bool page_aligned(const void* addr) { return ((uintptr_t)addr & (page_size() - 1)) == 0; }

// --- threads and signals -----------------------------------------------------
pid_t pid() { return (pid_t)raw(SYS_getpid); }
pid_t tid() { return (pid_t)raw(SYS_gettid); }
uid_t uid() { return (uid_t)raw(SYS_getuid); }
void yield() { raw(SYS_sched_yield); }

int signal_mask(int how, const uint64_t* set, uint64_t* old) {
  return (int)raw(SYS_rt_sigprocmask, how, (long)set, (long)old, sizeof(uint64_t));
}
uint64_t block_all_signals() {
  const uint64_t all = ~uint64_t{0};
  uint64_t old = 0;
  signal_mask(SIG_SETMASK, &all, &old);
  return old;
}
void restore_mask(uint64_t old) { signal_mask(SIG_SETMASK, &old, nullptr); }

int wait_signal(const sigset_t* set, siginfo_t* si, long timeout_ms) {
  timespec t{timeout_ms / 1000, (timeout_ms % 1000) * 1000000};
  return (int)raw(SYS_rt_sigtimedwait, (long)set, (long)si, timeout_ms >= 0 ? (long)&t : 0, _NSIG / 8);
}
int queue_signal(pid_t p, pid_t t, int sig, siginfo_t* si) {
  return (int)raw(SYS_rt_tgsigqueueinfo, p, t, sig, (long)si);
}
int kill_thread(pid_t p, pid_t t, int sig) { return (int)raw(SYS_tgkill, p, t, sig); }
void exit_process(int status) {
  for (;;) syscall(SYS_exit_group, status);
}

// --- time ------------------------------------------------------------------
uint64_t monotonic_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}
void sleep_ns(uint64_t ns) {
  timespec t{(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
  raw(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, (long)&t, 0);
}

// --- spin lock -------------------------------------------------------------
namespace {
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield");
#endif
}
}  // namespace

bool SpinLock::try_lock() { return !__atomic_exchange_n(&word_, 1, __ATOMIC_ACQUIRE); }
void SpinLock::lock() {
  // After a short spin, give the CPU up: the holder may be a thread that was
  // preempted (more threads than CPUs, an emulated CPU the host descheduled),
  // and spinners would only burn the time it needs to finish.
  for (unsigned spins = 0; __atomic_exchange_n(&word_, 1, __ATOMIC_ACQUIRE);)
    while (__atomic_load_n(&word_, __ATOMIC_RELAXED))
      if (++spins % 64 == 0) yield();
      else cpu_relax();
}
void SpinLock::unlock() { __atomic_store_n(&word_, 0, __ATOMIC_RELEASE); }

}  // namespace cmbmap::prim
