// The OS layer: every system call cmbmap makes outside the bootstrap
// (shim/real.cpp) goes through these, and nothing else in the tree calls
// syscall() (`make check-layout` fails if it does).
//
// The contract, once for all of them:
//   - raw system calls: never an interposed libc function (which would
//     re-enter cmbmap's own hooks), never the heap, async-signal-safe;
//   - the result is the kernel's: >= 0 on success, -errno on failure;
//   - errno is never changed (callers run inside the program's calls and
//     must leave errno as the real call set it).
#pragma once

#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>

namespace cmbmap::prim {

// --- files -----------------------------------------------------------------
int open_read(const char* path, int extra_flags = 0);  // O_RDONLY|O_CLOEXEC|extra
int open_at(const char* path, int flags, mode_t mode = 0);  // relative to the cwd
int close_fd(int fd);
long read_fd(int fd, void* buf, size_t len);
long write_fd(int fd, const void* buf, size_t len);
long pread_fd(int fd, void* buf, size_t len, uint64_t off);
// Writes all of [buf, buf+len) at off, retrying short writes and EINTR:
// 0 or -errno (-EIO if the kernel wrote nothing). At off even where fd is
// O_APPEND (pwrite alone would append there): pwritev2(RWF_NOAPPEND),
// Linux 6.9+; on an older kernel an O_APPEND fd gets -EOPNOTSUPP.
int pwrite_all(int fd, const void* buf, size_t len, uint64_t off);
// The soft RLIMIT_MEMLOCK in bytes (RLIM_INFINITY: none), read with prlimit.
uint64_t memlock_limit();
// True if the running kernel is at least major.minor (uname).
bool kernel_at_least(int major, int minor);
int fstat_fd(int fd, struct stat* st);
int fstat_at(int dirfd, const char* path, struct stat* st);
int fstatfs_fd(int fd, struct statfs* st);
// statx of the open file fd itself (AT_EMPTY_PATH): mask as statx(2).
int statx_fd(int fd, unsigned mask, struct statx* stx);  // struct statx: <sys/stat.h>, _GNU_SOURCE
int ftruncate_fd(int fd, off_t len);
int fdatasync_fd(int fd);
int fadvise(int fd, uint64_t off, uint64_t len, int advice);
// sync_file_range WAIT_BEFORE|WRITE|WAIT_AFTER: the range is on the device.
int sync_range(int fd, uint64_t off, uint64_t len);
int touch_mtime(int fd);  // utimensat: mtime now, atime untouched
int ioctl_fd(int fd, unsigned long req, void* arg);
long fcntl_fd(int fd, int cmd, long arg);
long readlink_at(const char* path, char* buf, size_t len);  // NUL-terminated
int mkdir_at(const char* path, mode_t mode);
int unlink_at(const char* path);
bool exists(const char* path);  // faccessat F_OK
bool may_read_write(const char* path);  // faccessat R_OK|W_OK

// Reads a small text file into buf (NUL-terminated, trailing newline kept).
// Returns bytes read or -errno.
long read_text(const char* path, char* buf, size_t len);
// Calls fn(name, ctx) for each entry of dir except "." and ".."; stops early
// when fn returns false. Returns 0 or -errno. Uses a stack buffer.
int list_dir(const char* dir, bool (*fn)(const char* name, void* ctx), void* ctx);

// cmbmap's own fds live at or above own_fd_floor(), out of the way of
// programs that count on low fd numbers: kOwnFdFloor, or half the soft
// RLIMIT_NOFILE when that leaves fewer numbers above it (Debian's default
// soft limit is 1024: a floor of 1000 left 24 numbers, two fds per served
// file), but never below kLowestOwnFdFloor (then, under a soft limit that
// low, cmbmap keeps no fd of its own).
constexpr int kOwnFdFloor = 1000;
constexpr int kLowestOwnFdFloor = 256;
int own_fd_floor();
// A close-on-exec duplicate of fd at or above own_fd_floor(), or -errno.
// -EBUSY if it would land in a range the program is closing wholesale.
int dup_above_floor(int fd);
// The program's close_range/closefrom of [first, last] is under way: until
// fds_closed(), dup_above_floor makes no fd there (another thread's fill or
// writeback would have it closed under its feet, and the number reused).
void fds_closing(unsigned first, unsigned last);
void fds_closed();

// --- memory ----------------------------------------------------------------
// The mapping or MAP_FAILED (never -errno: addresses may look negative).
void* map(void* addr, size_t len, int prot, int flags, int fd, off_t off, int* err = nullptr);
int unmap(void* addr, size_t len);
// mremap: the new address or MAP_FAILED.
void* remap(void* old, size_t old_len, size_t new_len, int flags, void* new_addr = nullptr);
// Moves the mapping at [from, from+len) over [at, at+len) in one mremap:
// what was at `at` stays until it is replaced. A mmap(MAP_FIXED) that fails
// after the kernel took the old mapping away (a device's mmap refusing, as
// a full p2pmem pool does) leaves a hole there, which another thread's mmap
// (malloc's, a thread stack's) is then given; cmbmap never makes one. On
// failure `from` is unmapped and `at` unchanged: false.
bool move_over(void* from, void* at, size_t len);
// A mapping of fd made elsewhere, then moved over [at, at+len) as above.
// On failure *err (if given) is mmap's errno, or 0 if the move failed.
bool map_over(void* at, size_t len, int prot, int flags, int fd, off_t off, int* err = nullptr);
int protect(void* addr, size_t len, int prot);
int lock_memory(void* addr, size_t len);  // mlock
// Copies len bytes of this process's memory at src (the program's, not
// trusted) to dst: false if src is not readable (the kernel's EFAULT to
// give, not a fault in cmbmap). Where process_vm_readv is refused (seccomp),
// a plain copy.
bool copy_from_self(void* dst, const void* src, size_t len);
// True if every page of [addr, addr+len) is mapped (msync MS_ASYNC, which
// only checks: ENOMEM for any hole).
bool mapped(void* addr, size_t len);
size_t page_size();
size_t page_round_up(size_t len);
bool page_aligned(const void* addr);

// --- threads and signals -----------------------------------------------------
pid_t pid();  // the kernel's answer, never a cached one (vfork children)
pid_t tid();
uid_t uid();
void yield();
// Blocks every signal on this thread; returns the old mask for restore_mask.
uint64_t block_all_signals();
void restore_mask(uint64_t old);
int signal_mask(int how, const uint64_t* set, uint64_t* old);
// Waits for one signal of set (timeout_ms < 0: forever): its number or -errno.
int wait_signal(const sigset_t* set, siginfo_t* si, long timeout_ms);
// Queues si to thread tid of process pid (rt_tgsigqueueinfo).
int queue_signal(pid_t pid, pid_t tid, int sig, siginfo_t* si);
int kill_thread(pid_t pid, pid_t tid, int sig);
// Ends the process (exit_group), as _exit does.
[[noreturn]] void exit_process(int status);

// --- time ------------------------------------------------------------------
uint64_t monotonic_ns();  // CLOCK_MONOTONIC (vDSO: no system call)
void sleep_ns(uint64_t ns);  // clock_nanosleep; a signal may end it early

// --- small portable pieces ---------------------------------------------------
// A spin lock that never sleeps and never allocates (it yields the CPU after
// a short spin). Holders that may be interrupted by a signal handler taking
// the same lock block signals first.
class SpinLock {
 public:
  void lock();
  bool try_lock();
  void unlock();
  void reset() { word_ = 0; }  // in a forked child: the holder is gone
 private:
  int word_ = 0;
};

struct SpinHold {
  explicit SpinHold(SpinLock& l) : l_(l) { l_.lock(); }
  ~SpinHold() { l_.unlock(); }
  SpinHold(const SpinHold&) = delete;
  SpinHold& operator=(const SpinHold&) = delete;
 private:
  SpinLock& l_;
};

// Keeps errno for a scope: what cmbmap does inside a program's call never
// shows in the errno that call returns with.
class KeepErrno {
 public:
  KeepErrno() : saved_(errno) {}
  ~KeepErrno() { errno = saved_; }
  KeepErrno(const KeepErrno&) = delete;
  KeepErrno& operator=(const KeepErrno&) = delete;
 private:
  int saved_;
};

// This thread is inside cmbmap (or is cmbmap's own thread): the hooks it
// reaches forward directly. initial-exec TLS: no __tls_get_addr, which may
// allocate, on the hot path.
extern __thread int t_inside __attribute__((tls_model("initial-exec")));

}  // namespace cmbmap::prim
