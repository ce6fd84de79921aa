// Real-symbol resolution and raw-syscall bootstrap (see real.h).
#include "shim/real.h"

#include "prim/prim.h"

#include <cerrno>
#include <dlfcn.h>
#include <csignal>
#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

extern "C" int __sigaction(int, const struct sigaction*, struct sigaction*);
extern "C" sighandler_t __sysv_signal(int, sighandler_t);

namespace cmbmap::real {
namespace {

// One pointer per function; null means "use the raw system call".
struct Table {
  void* (*mmap)(void*, size_t, int, int, int, off_t);
  int (*munmap)(void*, size_t);
  void* (*mremap)(void*, size_t, size_t, int, ...);
  int (*mprotect)(void*, size_t, int);
  int (*pkey_mprotect)(void*, size_t, int, int);
  int (*madvise)(void*, size_t, int);
  int (*mlock2)(const void*, size_t, unsigned);
  int (*munlock)(const void*, size_t);
  int (*msync)(void*, size_t, int);
  int (*openat)(int, const char*, int, ...);
  int (*close)(int);
  int (*dup2)(int, int);
  int (*dup3)(int, int, int);
  int (*close_range)(unsigned, unsigned, int);
  void (*closefrom)(int);
  FILE* (*fdopen)(int, const char*);
  int (*fclose)(FILE*);
  ssize_t (*write)(int, const void*, size_t);
  ssize_t (*pwrite)(int, const void*, size_t, off_t);
  ssize_t (*writev)(int, const struct iovec*, int);
  ssize_t (*pwritev)(int, const struct iovec*, int, off_t);
  ssize_t (*pwritev2)(int, const struct iovec*, int, off_t, int);
  int (*truncate)(const char*, off_t);
  int (*ftruncate)(int, off_t);
  int (*fallocate)(int, int, off_t, off_t);
  int (*posix_fallocate)(int, off_t, off_t);
  ssize_t (*copy_file_range)(int, off_t*, int, off_t*, size_t, unsigned);
  ssize_t (*sendfile)(int, int, off_t*, size_t);
  ssize_t (*read)(int, void*, size_t);
  ssize_t (*pread)(int, void*, size_t, off_t);
  ssize_t (*readv)(int, const struct iovec*, int);
  ssize_t (*preadv)(int, const struct iovec*, int, off_t);
  ssize_t (*preadv2)(int, const struct iovec*, int, off_t, int);
  int (*sigaction)(int, const struct sigaction*, struct sigaction*);
  sighandler_t (*signal)(int, sighandler_t);
  int (*fsync)(int);
  int (*fdatasync)(int);
  int (*sync_file_range)(int, off_t, off_t, unsigned);
  int (*syncfs)(int);
  void (*sync)();
  sighandler_t (*sysv_signal)(int, sighandler_t);
  int (*sigprocmask)(int, const sigset_t*, sigset_t*);
  int (*pthread_sigmask)(int, const sigset_t*, sigset_t*);
  int (*posix_spawn)(pid_t*, const char*, const posix_spawn_file_actions_t*, const posix_spawnattr_t*,
                     char* const[], char* const[]);
  int (*posix_spawnp)(pid_t*, const char*, const posix_spawn_file_actions_t*, const posix_spawnattr_t*,
                      char* const[], char* const[]);
  int (*system)(const char*);
  FILE* (*popen)(const char*, const char*);
  int (*execve)(const char*, char* const[], char* const[]);
  int (*execvpe)(const char*, char* const[], char* const[]);
  int (*fexecve)(int, char* const[], char* const[]);
  void (*quick_exit)(int);
  int (*posix_spawn_compat)(pid_t*, const char*, const posix_spawn_file_actions_t*, const posix_spawnattr_t*,
                            char* const[], char* const[]);
  int (*posix_spawnp_compat)(pid_t*, const char*, const posix_spawn_file_actions_t*, const posix_spawnattr_t*,
                             char* const[], char* const[]);
  void (*quick_exit_compat)(int);
  ssize_t (*read_chk)(int, void*, size_t, size_t);
  ssize_t (*pread_chk)(int, void*, size_t, off_t, size_t);
  ssize_t (*splice)(int, loff_t*, int, loff_t*, size_t, unsigned);
  int (*unshare)(int);
  ssize_t (*recv)(int, void*, size_t, int);
  ssize_t (*recvfrom)(int, void*, size_t, int, struct sockaddr*, socklen_t*);
  ssize_t (*recvmsg)(int, struct msghdr*, int);
  ssize_t (*getdents64)(int, void*, size_t);
  int (*ioctl)(int, unsigned long, ...);
  int (*setns)(int, int);
};
Table t;

template <typename F>
void load(F*& slot, const char* name) {
  slot = reinterpret_cast<F*>(dlsym(RTLD_NEXT, name));
}
// An older version of name, or the current one where there is none.
template <typename F>
void load_version(F*& slot, const char* name, const char* version) {
  slot = reinterpret_cast<F*>(dlvsym(RTLD_NEXT, name, version));
  if (!slot) load(slot, name);
}

// Raw fallback: the syscall() wrapper sets errno like libc would.
inline long sys(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  return syscall(nr, a, b, c, d, e, f);
}

}  // namespace

namespace {

void load_mapping_and_file_calls(Table& n) {
  load(n.mmap, "mmap");
  load(n.munmap, "munmap");
  load(n.mremap, "mremap");
  load(n.mprotect, "mprotect");
  load(n.pkey_mprotect, "pkey_mprotect");
  load(n.madvise, "madvise");
  load(n.mlock2, "mlock2");
  load(n.munlock, "munlock");
  load(n.msync, "msync");
  load(n.openat, "openat");
  load(n.close, "close");
  load(n.dup2, "dup2");
  load(n.dup3, "dup3");
  load(n.close_range, "close_range");
  load(n.closefrom, "closefrom");
  load(n.fdopen, "fdopen");
  load(n.fclose, "fclose");
  load(n.write, "write");
  load(n.pwrite, "pwrite");
  load(n.writev, "writev");
  load(n.pwritev, "pwritev");
  load(n.pwritev2, "pwritev2");
  load(n.truncate, "truncate");
  load(n.ftruncate, "ftruncate");
  load(n.fallocate, "fallocate");
  load(n.posix_fallocate, "posix_fallocate");
  load(n.copy_file_range, "copy_file_range");
  load(n.sendfile, "sendfile");
}

void load_read_signal_and_process_calls(Table& n) {
  load(n.read, "read");
  load(n.pread, "pread");
  load(n.readv, "readv");
  load(n.preadv, "preadv");
  load(n.preadv2, "preadv2");
  load(n.sigaction, "sigaction");
  load(n.signal, "signal");
  load(n.fsync, "fsync");
  load(n.fdatasync, "fdatasync");
  load(n.sync_file_range, "sync_file_range");
  load(n.syncfs, "syncfs");
  load(n.sync, "sync");
  load(n.sysv_signal, "sysv_signal");
  load(n.sigprocmask, "sigprocmask");
  load(n.pthread_sigmask, "pthread_sigmask");
  load(n.posix_spawn, "posix_spawn");
  load(n.posix_spawnp, "posix_spawnp");
  load(n.system, "system");
  load(n.popen, "popen");
  load(n.execve, "execve");
  load(n.execvpe, "execvpe");
  load(n.fexecve, "fexecve");
  load(n.quick_exit, "quick_exit");
  load_version(n.posix_spawn_compat, "posix_spawn", "GLIBC_2.2.5");
  load_version(n.posix_spawnp_compat, "posix_spawnp", "GLIBC_2.2.5");
  load_version(n.quick_exit_compat, "quick_exit", "GLIBC_2.10");
  load(n.read_chk, "__read_chk");
  load(n.pread_chk, "__pread_chk");
  load(n.splice, "splice");
  load(n.unshare, "unshare");
  load(n.recv, "recv");
  load(n.recvfrom, "recvfrom");
  load(n.recvmsg, "recvmsg");
  load(n.getdents64, "getdents64");
  load(n.ioctl, "ioctl");
  load(n.setns, "setns");
}

}  // namespace

void resolve() {
  // Resolve into a local table, then publish: a hook running meanwhile (in
  // another thread, or inside dlsym) keeps using raw syscalls.
  Table n{};
  load_mapping_and_file_calls(n);
  load_read_signal_and_process_calls(n);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  t = n;
}

void* mmap(void* a, size_t l, int p, int f, int fd, off_t o) {
  if (auto fn = t.mmap) return fn(a, l, p, f, fd, o);
  return (void*)sys(SYS_mmap, (long)a, (long)l, p, f, fd, o);
}
int munmap(void* a, size_t l) {
  if (auto fn = t.munmap) return fn(a, l);
  return (int)sys(SYS_munmap, (long)a, (long)l);
}
void* mremap(void* o, size_t ol, size_t nl, int f, void* na) {
  if (auto fn = t.mremap) return fn(o, ol, nl, f, na);
  return (void*)sys(SYS_mremap, (long)o, (long)ol, (long)nl, f, (long)na);
}
int mprotect(void* a, size_t l, int p) {
  if (auto fn = t.mprotect) return fn(a, l, p);
  return (int)sys(SYS_mprotect, (long)a, (long)l, p);
}
int pkey_mprotect(void* a, size_t l, int p, int k) {
  if (k == -1) return mprotect(a, l, p);
  if (auto fn = t.pkey_mprotect) return fn(a, l, p, k);
  return (int)sys(SYS_pkey_mprotect, (long)a, (long)l, p, k);
}
int madvise(void* a, size_t l, int adv) {
  if (auto fn = t.madvise) return fn(a, l, adv);
  return (int)sys(SYS_madvise, (long)a, (long)l, adv);
}
int mlock2(const void* a, size_t l, unsigned f) {
  if (auto fn = t.mlock2) return fn(a, l, f);
  return (int)sys(SYS_mlock2, (long)a, (long)l, (long)f);
}
int munlock(const void* a, size_t l) {
  if (auto fn = t.munlock) return fn(a, l);
  return (int)sys(SYS_munlock, (long)a, (long)l);
}
int msync(void* a, size_t l, int f) {
  if (auto fn = t.msync) return fn(a, l, f);
  return (int)sys(SYS_msync, (long)a, (long)l, f);
}
int openat(int d, const char* p, int f, mode_t m) {
  if (auto fn = t.openat) return fn(d, p, f, m);
  return (int)sys(SYS_openat, d, (long)p, f, m);
}
int close(int fd) {
  if (auto fn = t.close) return fn(fd);
  return (int)sys(SYS_close, fd);
}
int dup2(int o, int n) {
  if (auto fn = t.dup2) return fn(o, n);
  // dup2 with equal fds only validates oldfd; dup3 would fail with EINVAL.
  if (o == n) return fcntl(o, F_GETFD) < 0 ? -1 : n;
  return (int)sys(SYS_dup3, o, n, 0);
}
int dup3(int o, int n, int f) {
  if (auto fn = t.dup3) return fn(o, n, f);
  return (int)sys(SYS_dup3, o, n, f);
}
int close_range(unsigned first, unsigned last, int f) {
  if (auto fn = t.close_range) return fn(first, last, f);
  return (int)sys(SYS_close_range, first, last, f);
}
void closefrom(int lowfd) {
  if (auto fn = t.closefrom) return fn(lowfd);
  sys(SYS_close_range, lowfd, ~0u, 0);
}
FILE* fdopen(int fd, const char* mode) {
  // Only ever called after start-up, when dlsym has run.
  return t.fdopen ? t.fdopen(fd, mode) : nullptr;
}
int fclose(FILE* f) {
  // Only ever called after start-up, when dlsym has run.
  return t.fclose ? t.fclose(f) : EOF;
}
ssize_t write(int fd, const void* b, size_t n) {
  if (auto fn = t.write) return fn(fd, b, n);
  return sys(SYS_write, fd, (long)b, (long)n);
}
ssize_t pwrite(int fd, const void* b, size_t n, off_t o) {
  if (auto fn = t.pwrite) return fn(fd, b, n, o);
  return sys(SYS_pwrite64, fd, (long)b, (long)n, o);
}
ssize_t writev(int fd, const struct iovec* v, int c) {
  if (auto fn = t.writev) return fn(fd, v, c);
  return sys(SYS_writev, fd, (long)v, c);
}
ssize_t pwritev(int fd, const struct iovec* v, int c, off_t o) {
  if (auto fn = t.pwritev) return fn(fd, v, c, o);
  return sys(SYS_pwritev, fd, (long)v, c, o, 0);
}
ssize_t pwritev2(int fd, const struct iovec* v, int c, off_t o, int f) {
  if (auto fn = t.pwritev2) return fn(fd, v, c, o, f);
  return sys(SYS_pwritev2, fd, (long)v, c, o, 0, f);
}
int truncate(const char* p, off_t l) {
  if (auto fn = t.truncate) return fn(p, l);
  return (int)sys(SYS_truncate, (long)p, l);
}
int ftruncate(int fd, off_t l) {
  if (auto fn = t.ftruncate) return fn(fd, l);
  return (int)sys(SYS_ftruncate, fd, l);
}
int fallocate(int fd, int m, off_t o, off_t l) {
  if (auto fn = t.fallocate) return fn(fd, m, o, l);
  return (int)sys(SYS_fallocate, fd, m, o, l);
}
int posix_fallocate(int fd, off_t o, off_t l) {
  if (auto fn = t.posix_fallocate) return fn(fd, o, l);
  // posix_fallocate returns the error number instead of setting errno.
  int saved = errno;
  int r = (int)sys(SYS_fallocate, fd, 0, o, l) < 0 ? errno : 0;
  errno = saved;
  return r;
}
ssize_t copy_file_range(int i, off_t* io, int o, off_t* oo, size_t n, unsigned f) {
  if (auto fn = t.copy_file_range) return fn(i, io, o, oo, n, f);
  return sys(SYS_copy_file_range, i, (long)io, o, (long)oo, (long)n, f);
}
ssize_t sendfile(int o, int i, off_t* off, size_t n) {
  if (auto fn = t.sendfile) return fn(o, i, off, n);
  return sys(SYS_sendfile, o, i, (long)off, (long)n);
}
ssize_t read(int fd, void* b, size_t n) {
  if (auto fn = t.read) return fn(fd, b, n);
  return sys(SYS_read, fd, (long)b, (long)n);
}
ssize_t pread(int fd, void* b, size_t n, off_t o) {
  if (auto fn = t.pread) return fn(fd, b, n, o);
  return sys(SYS_pread64, fd, (long)b, (long)n, o);
}
ssize_t readv(int fd, const struct iovec* v, int c) {
  if (auto fn = t.readv) return fn(fd, v, c);
  return sys(SYS_readv, fd, (long)v, c);
}
ssize_t preadv(int fd, const struct iovec* v, int c, off_t o) {
  if (auto fn = t.preadv) return fn(fd, v, c, o);
  return sys(SYS_preadv, fd, (long)v, c, o, 0);
}
ssize_t preadv2(int fd, const struct iovec* v, int c, off_t o, int f) {
  if (auto fn = t.preadv2) return fn(fd, v, c, o, f);
  return sys(SYS_preadv2, fd, (long)v, c, o, 0, f);
}
// Before dlsym has run (another library's constructor), glibc's other
// names for the same functions, which cmbmap does not interpose.
int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  if (auto fn = t.sigaction) return fn(sig, act, old);
  return __sigaction(sig, act, old);
}
sighandler_t signal(int sig, sighandler_t h) {
  if (auto fn = t.signal) return fn(sig, h);
  return ssignal(sig, h);
}
sighandler_t sysv_signal(int sig, sighandler_t h) {
  if (auto fn = t.sysv_signal) return fn(sig, h);
  return __sysv_signal(sig, h);
}
// The spawn family needs libc: only reachable after start-up.
int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* fa, const posix_spawnattr_t* at,
                char* const a[], char* const e[]) {
  return t.posix_spawn ? t.posix_spawn(pid, path, fa, at, a, e) : ENOSYS;
}
int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* fa, const posix_spawnattr_t* at,
                 char* const a[], char* const e[]) {
  return t.posix_spawnp ? t.posix_spawnp(pid, file, fa, at, a, e) : ENOSYS;
}
int system(const char* cmd) { return t.system ? t.system(cmd) : -1; }
FILE* popen(const char* cmd, const char* mode) { return t.popen ? t.popen(cmd, mode) : nullptr; }
int fsync(int fd) {
  if (auto fn = t.fsync) return fn(fd);
  return (int)sys(SYS_fsync, fd);
}
int fdatasync(int fd) {
  if (auto fn = t.fdatasync) return fn(fd);
  return (int)sys(SYS_fdatasync, fd);
}
int sync_file_range(int fd, off_t off, off_t len, unsigned flags) {
  if (auto fn = t.sync_file_range) return fn(fd, off, len, flags);
  return (int)sys(SYS_sync_file_range, fd, off, len, flags);
}
int syncfs(int fd) {
  if (auto fn = t.syncfs) return fn(fd);
  return (int)sys(SYS_syncfs, fd);
}
void sync() {
  if (auto fn = t.sync) return fn();
  sys(SYS_sync);
}
int sigprocmask(int how, const sigset_t* set, sigset_t* old) {
  if (auto fn = t.sigprocmask) return fn(how, set, old);
  return (int)sys(SYS_rt_sigprocmask, how, (long)set, (long)old, _NSIG / 8);
}
int pthread_sigmask(int how, const sigset_t* set, sigset_t* old) {
  if (auto fn = t.pthread_sigmask) return fn(how, set, old);
  return sys(SYS_rt_sigprocmask, how, (long)set, (long)old, _NSIG / 8) < 0 ? errno : 0;
}
int execve(const char* p, char* const a[], char* const e[]) {
  if (auto fn = t.execve) return fn(p, a, e);
  return (int)sys(SYS_execve, (long)p, (long)a, (long)e);
}
int execvpe(const char* f, char* const a[], char* const e[]) {
  if (auto fn = t.execvpe) return fn(f, a, e);
  errno = ENOSYS;  // PATH search needs libc; only reachable before the constructor ran
  return -1;
}
int fexecve(int fd, char* const a[], char* const e[]) {
  if (auto fn = t.fexecve) return fn(fd, a, e);
  return (int)sys(SYS_execveat, fd, (long)"", (long)a, (long)e, AT_EMPTY_PATH);
}

// The fortified reads check the length against the buffer, then read: the
// raw fallback only runs before dlsym, where no program code runs yet.
ssize_t read_chk(int fd, void* buf, size_t n, size_t buflen) {
  if (auto fn = t.read_chk) return fn(fd, buf, n, buflen);
  return read(fd, buf, n);
}
ssize_t pread_chk(int fd, void* buf, size_t n, off_t off, size_t buflen) {
  if (auto fn = t.pread_chk) return fn(fd, buf, n, off, buflen);
  return pread(fd, buf, n, off);
}
ssize_t splice(int in, loff_t* in_off, int out, loff_t* out_off, size_t n, unsigned flags) {
  if (auto fn = t.splice) return fn(in, in_off, out, out_off, n, flags);
  return sys(SYS_splice, in, (long)in_off, out, (long)out_off, (long)n, flags);
}

ssize_t recv(int fd, void* buf, size_t n, int flags) {
  if (auto fn = t.recv) return fn(fd, buf, n, flags);
  return sys(SYS_recvfrom, fd, (long)buf, (long)n, flags, 0, 0);
}
ssize_t recvfrom(int fd, void* buf, size_t n, int flags, struct sockaddr* from, socklen_t* len) {
  if (auto fn = t.recvfrom) return fn(fd, buf, n, flags, from, len);
  return sys(SYS_recvfrom, fd, (long)buf, (long)n, flags, (long)from, (long)len);
}
ssize_t recvmsg(int fd, struct msghdr* msg, int flags) {
  if (auto fn = t.recvmsg) return fn(fd, msg, flags);
  return sys(SYS_recvmsg, fd, (long)msg, flags);
}
ssize_t getdents64(int fd, void* buf, size_t n) {
  if (auto fn = t.getdents64) return fn(fd, buf, n);
  return sys(SYS_getdents64, fd, (long)buf, (long)n);
}
int ioctl(int fd, unsigned long req, void* arg) {
  if (auto fn = t.ioctl) return fn(fd, req, arg);
  return (int)sys(SYS_ioctl, fd, (long)req, (long)arg);
}

int unshare(int flags) {
  if (auto fn = t.unshare) return fn(flags);
  return (int)sys(SYS_unshare, flags);
}
int setns(int fd, int nstype) {
  if (auto fn = t.setns) return fn(fd, nstype);
  return (int)sys(SYS_setns, fd, nstype);
}

void quick_exit(int status) {
  if (t.quick_exit) t.quick_exit(status);
  prim::exit_process(status);  // before dlsym: no at_quick_exit handlers can exist yet
}
void quick_exit_compat(int status) {
  if (t.quick_exit_compat) t.quick_exit_compat(status);
  prim::exit_process(status);
}
int posix_spawn_compat(pid_t* pid, const char* path, const posix_spawn_file_actions_t* fa,
                       const posix_spawnattr_t* at, char* const a[], char* const e[]) {
  return t.posix_spawn_compat ? t.posix_spawn_compat(pid, path, fa, at, a, e) : ENOSYS;
}
int posix_spawnp_compat(pid_t* pid, const char* file, const posix_spawn_file_actions_t* fa,
                        const posix_spawnattr_t* at, char* const a[], char* const e[]) {
  return t.posix_spawnp_compat ? t.posix_spawnp_compat(pid, file, fa, at, a, e) : ENOSYS;
}

}  // namespace cmbmap::real
