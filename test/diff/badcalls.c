/* Calls with bad or edge-case arguments on the mapping and file APIs. Prints
 * one deterministic line per case (result and errno name, never an address),
 * so runs with and without the shim can be compared byte for byte.
 * usage: badcalls DIR   (DIR: where to create the test files) */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(int e) {
  switch (e) {
    case 0: return "0";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case EACCES: return "EACCES";
    case ENODEV: return "ENODEV";
    case EEXIST: return "EEXIST";
    case ENOMEM: return "ENOMEM";
    case ENOENT: return "ENOENT";
    case EFAULT: return "EFAULT";
    case EISDIR: return "EISDIR";
    case EOVERFLOW: return "EOVERFLOW";
    case EPERM: return "EPERM";
    case ESPIPE: return "ESPIPE";
    case EAGAIN: return "EAGAIN";
    default: { static char b[32]; snprintf(b, sizeof b, "errno%d", e); return b; }
  }
}

#define MAPCASE(name, expr)                                                           \
  do {                                                                                \
    errno = 0;                                                                        \
    void *p_ = (expr);                                                                \
    int e_ = errno;                                                                   \
    printf("%-40s %s errno=%s\n", name, p_ == MAP_FAILED ? "MAP_FAILED" : "ok", ename(p_ == MAP_FAILED ? e_ : 0)); \
    if (p_ != MAP_FAILED) last = p_;                                                  \
  } while (0)

#define INTCASE(name, expr)                                                           \
  do {                                                                                \
    errno = 0;                                                                        \
    long r_ = (long)(expr);                                                           \
    int e_ = errno;                                                                   \
    printf("%-40s ret=%ld errno=%s\n", name, r_, ename(r_ < 0 ? e_ : 0));             \
  } while (0)

/* MAP_LOCKED past RLIMIT_MEMLOCK without CAP_IPC_LOCK: the kernel refuses
 * the mapping (EAGAIN). In a child, which drops the capability for it. */
static void locked_over_limit(int fd, size_t size) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    struct rlimit lim = {65536, 65536};
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (setrlimit(RLIMIT_MEMLOCK, &lim) || syscall(SYS_capget, &h, d)) _exit(3);
    d[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
    if (syscall(SYS_capset, &h, d)) _exit(4);
    void *last = NULL;
    MAPCASE("mmap MAP_LOCKED past RLIMIT_MEMLOCK", mmap(NULL, size, PROT_READ, MAP_SHARED | MAP_LOCKED, fd, 0));
    (void)last;
    fflush(stdout);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status)) printf("%-40s child status %d\n", "mmap MAP_LOCKED past RLIMIT_MEMLOCK", status);
}

static sigjmp_buf jb;
static void on_sigbus(int sig) { siglongjmp(jb, sig); }

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: badcalls DIR\n"); return 2; }
  long pg = sysconf(_SC_PAGESIZE);
  char path[4096];
  snprintf(path, sizeof path, "%s/badcalls.dat", argv[1]);
  int w = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (w < 0) { perror(path); return 1; }
  size_t size = 1 << 20;
  char *buf = malloc(size);
  for (size_t i = 0; i < size; ++i) buf[i] = (char)(i * 7 + 3);
  if (write(w, buf, size) != (ssize_t)size) { perror("write"); return 1; }
  fsync(w);
  close(w);  /* no fd open for writing while mapping: cmbmap may serve these */
  int ro = open(path, O_RDONLY);
  int dir = open(argv[1], O_RDONLY | O_DIRECTORY);
  int opath = open(path, O_PATH);
  void *last = NULL;

  MAPCASE("mmap bad fd", mmap(NULL, size, PROT_READ, MAP_SHARED, 9999, 0));
  MAPCASE("mmap fd -1 without MAP_ANONYMOUS", mmap(NULL, size, PROT_READ, MAP_SHARED, -1, 0));
  MAPCASE("mmap length 0", mmap(NULL, 0, PROT_READ, MAP_SHARED, ro, 0));
  MAPCASE("mmap unaligned offset", mmap(NULL, size, PROT_READ, MAP_SHARED, ro, 100));
  MAPCASE("mmap no SHARED/PRIVATE", mmap(NULL, size, PROT_READ, 0, ro, 0));
  int wo = open(path, O_WRONLY);
  MAPCASE("mmap write-only fd", mmap(NULL, size, PROT_READ, MAP_SHARED, wo, 0));
  close(wo);
  MAPCASE("mmap PROT_WRITE shared on O_RDONLY", mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0));
  MAPCASE("mmap PROT_WRITE private on O_RDONLY", mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0));
  if (last) munmap(last, size);
  /* A read-only fd's shared mapping may not be made writable, by either
   * call (each on a fresh mapping: cmbmap gives a range back on the first). */
  void *rom = mmap(NULL, size, PROT_READ, MAP_SHARED, ro, 0);
  INTCASE("pkey_mprotect (libc) PROT_WRITE on O_RDONLY", pkey_mprotect(rom, size, PROT_READ | PROT_WRITE, -1));
  munmap(rom, size);
  rom = mmap(NULL, size, PROT_READ, MAP_SHARED, ro, 0);
  INTCASE("mprotect PROT_WRITE on O_RDONLY shared", mprotect(rom, size, PROT_READ | PROT_WRITE));
  munmap(rom, size);
  MAPCASE("mmap directory fd", mmap(NULL, size, PROT_READ, MAP_SHARED, dir, 0));
  MAPCASE("mmap O_PATH fd", mmap(NULL, size, PROT_READ, MAP_SHARED, opath, 0));
  MAPCASE("mmap huge length", mmap(NULL, (size_t)-4096, PROT_READ, MAP_SHARED, ro, 0));
  MAPCASE("mmap negative offset", mmap(NULL, size, PROT_READ, MAP_SHARED, ro, -4096));

  char *m = mmap(NULL, size, PROT_READ, MAP_SHARED, ro, 0);
  printf("%-40s %s\n", "mmap ok reads file", m != MAP_FAILED && !memcmp(m, buf, size) ? "same" : "DIFFERENT");
  MAPCASE("MAP_FIXED_NOREPLACE clash", mmap(m, pg, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, ro, 0));
  INTCASE("munmap unaligned", munmap(m + 1, pg));
  INTCASE("munmap length 0", munmap(m, 0));
  INTCASE("msync unaligned", msync(m + 1, pg, MS_SYNC));
  INTCASE("msync bad flags", msync(m, pg, 0x100));
  INTCASE("msync SYNC|ASYNC", msync(m, pg, MS_SYNC | MS_ASYNC));
  INTCASE("msync ok", msync(m, size, MS_SYNC));
  INTCASE("msync unmapped range", msync((char *)0x1000, pg, MS_SYNC));
  INTCASE("mprotect RW shared on O_RDONLY", mprotect(m, pg, PROT_READ | PROT_WRITE));
  INTCASE("mprotect unaligned", mprotect(m + 1, pg, PROT_READ));
  INTCASE("madvise bad advice", madvise(m, pg, 12345));
  INTCASE("madvise DONTNEED", madvise(m, size, MADV_DONTNEED));
  printf("%-40s %s\n", "read after DONTNEED", !memcmp(m, buf, size) ? "same" : "DIFFERENT");
  errno = 0;
  void *r = mremap(m, size, size, 0x80);
  printf("%-40s %s errno=%s\n", "mremap bad flags", r == MAP_FAILED ? "MAP_FAILED" : "ok", ename(r == MAP_FAILED ? errno : 0));
  r = mremap(m, size, size / 2, 0);
  printf("%-40s %s same=%d\n", "mremap shrink", r == MAP_FAILED ? "MAP_FAILED" : "ok", r != MAP_FAILED && !memcmp(r, buf, size / 2));
  r = mremap(r, size / 2, size, MREMAP_MAYMOVE);
  printf("%-40s %s same=%d\n", "mremap grow", r == MAP_FAILED ? "MAP_FAILED" : "ok", r != MAP_FAILED && !memcmp(r, buf, size));
  errno = 0;
  void *r2 = mremap(r, size, 2 * size, 0);  /* may or may not fit in place: only errno class matters */
  /* In place or not depends on the neighbouring mapping: both outcomes are fine. */
  printf("%-40s %s\n", "mremap grow no-move", r2 != MAP_FAILED || errno == ENOMEM ? "ok-or-ENOMEM" : ename(errno));
  if (r2 != MAP_FAILED) r = r2;
  munmap(r, r2 != MAP_FAILED ? 2 * size : size);

  /* Past EOF: pages wholly beyond the file raise SIGBUS. */
  char *big = mmap(NULL, 4 * size, PROT_READ, MAP_SHARED, ro, 0);
  signal(SIGBUS, on_sigbus);
  int sig = sigsetjmp(jb, 1);
  if (sig == 0) {
    volatile char c = big[2 * size];
    (void)c;
    printf("%-40s %s\n", "read past EOF", "no signal");
  } else {
    printf("%-40s signal %s\n", "read past EOF", sig == SIGBUS ? "SIGBUS" : "other");
  }
  printf("%-40s %s\n", "read last byte in file", big[size - 1] == buf[size - 1] ? "same" : "DIFFERENT");
  munmap(big, 4 * size);

  /* File calls cmbmap interposes. */
  w = open(path, O_RDWR);
  INTCASE("write bad fd", write(9999, "x", 1));
  INTCASE("write O_RDONLY fd", write(ro, "x", 1));
  INTCASE("pwrite negative offset", pwrite(w, "x", 1, -1));
  INTCASE("ftruncate O_RDONLY fd", ftruncate(ro, 0));
  INTCASE("ftruncate negative", ftruncate(w, -1));
  INTCASE("truncate missing path", truncate("/nonexistent/cmbmap", 0));
  INTCASE("posix_fallocate O_RDONLY (rc)", posix_fallocate(ro, 0, 4096));
  INTCASE("fallocate bad mode", fallocate(w, 0x7fff, 0, 4096));
  INTCASE("open missing", open("/nonexistent/cmbmap", O_RDONLY));
  INTCASE("open directory for write", open(argv[1], O_WRONLY));
  INTCASE("creat in missing dir", creat("/nonexistent/cmbmap/x", 0644));
  INTCASE("close bad fd", close(9999));
  INTCASE("dup2 bad old", dup2(9999, 50));
  INTCASE("dup2 same fd", dup2(ro, ro));
  INTCASE("dup3 same fd", dup3(ro, ro, 0));
  INTCASE("copy_file_range bad fd", copy_file_range(9999, NULL, w, NULL, 10, 0));
  INTCASE("sendfile bad fd", sendfile(w, 9999, NULL, 10));
  char *const av[] = {"x", NULL};
  INTCASE("execve missing", execve("/nonexistent/cmbmap", av, NULL));
  INTCASE("execvp missing", execvp("cmbmap-no-such-program", av));
  locked_over_limit(ro, size);
  INTCASE("pwrite ok", pwrite(w, "abc", 3, 0));
  INTCASE("ftruncate ok", ftruncate(w, size / 2));
  struct stat st;
  fstat(w, &st);
  printf("%-40s %lld\n", "size after ftruncate", (long long)st.st_size);
  unlink(path);
  return 0;
}
