/* The program changes a file it has mapped, through its own calls, and then
 * reads the mapping. stdout is what a page-cache mapping shows and must be
 * the same with and without cmbmap; stderr says how much of the mapping was
 * CMB just before each change ("served BYTES") and just after ("after BYTES").
 *   selfchange FILE     FILE is rewritten (4 MiB of a fixed pattern) per case */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "probe.h"
#include <linux/close_range.h>

#define SIZE (4u << 20)
#define MAPLEN (6u << 20) /* past the end, so growing and shrinking show */

static sigjmp_buf jb;
static void on_fault(int sig) { siglongjmp(jb, sig); }



static unsigned char pattern[SIZE], other[1 << 20];

static void reset(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, pattern, SIZE) != SIZE || fsync(fd) != 0) { perror(path); exit(1); }
  close(fd);
}

/* Reads the mapping page by page: checksum of what is readable, and the
 * first page that faults. */
static void report(const char *name, const unsigned char *m, int ret, int err) {
  const long pg = sysconf(_SC_PAGESIZE);
  volatile uint64_t h = 1469598103934665603ull;
  volatile size_t good = 0;
  volatile int sig = 0;
  for (; good < MAPLEN; good += (size_t)pg) {
    sig = sigsetjmp(jb, 1);
    if (sig) break;
    h = (h ^ fnv(m + good, (size_t)pg)) * 1099511628211ull;
  }
  printf("%-16s ret %d errno %d readable %zu sum %016llx then %s\n", name, ret, ret < 0 ? err : 0, good,
         (unsigned long long)h, sig == SIGBUS ? "SIGBUS" : sig ? "SIGSEGV" : "end of mapping");
  fflush(stdout);
}

enum { WRITE, PWRITE, PWRITEV, SHRINK, GROW, PUNCH, ZERO_RANGE, COPY_RANGE, SHARED_STORE, VALIDATE_STORE,
       OPEN_WRITE, TRUNCATE_PATH, CLOSE_RANGE, INHERITABLE, SPAWN, RAW_REPLACE, STDIO,
       NCASES };  /* STDIO last: it ends write leases on the file */
static const char *const names[] = {"write",      "pwrite",     "pwritev",      "ftruncate-down", "ftruncate-up",
                                    "punch-hole", "zero-range", "copy_range",   "shared-store",   "validate-store",
                                    "open-for-write", "truncate-path", "close-range", "inheritable-fd", "spawn",
                                    "raw-replace", "stdio-fwrite"};

/* Where cmbmap keeps its fds (README): at or above 1000, or half the soft
 * RLIMIT_NOFILE when that is under 2000, but not below 256. */
static unsigned own_fd_floor(void) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur >= 2000) return 1000;
  return r.rlim_cur / 2 > 256 ? (unsigned)(r.rlim_cur / 2) : 256;
}

static int change(int c, int fd, const char *path, const char *src, unsigned char *m) {
  struct iovec iov = {other, sizeof other};
  int sfd, r;
  switch (c) {
    case WRITE: lseek(fd, 1 << 20, SEEK_SET); return (int)write(fd, other, sizeof other);
    case PWRITE: return (int)pwrite(fd, other, 4096, 12345);
    case PWRITEV: return (int)pwritev(fd, &iov, 1, 2 << 20);
    case SHRINK: return ftruncate(fd, (1 << 20) + 100);
    case GROW: return ftruncate(fd, 5 << 20);
    case PUNCH: return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1 << 20, 1 << 20);
    case ZERO_RANGE: return fallocate(fd, FALLOC_FL_ZERO_RANGE, 3 << 20, 8192);
    case COPY_RANGE: {
      sfd = open(src, O_RDONLY);
      loff_t in = 0, out = 1 << 20;
      /* The kernel may copy less than asked: loop, as programs must. */
      ssize_t n = 0;
      for (r = 0; r < (1 << 20) && (n = copy_file_range(sfd, &in, fd, &out, (1 << 20) - r, 0)) > 0;) r += (int)n;
      close(sfd);
      return n < 0 ? -1 : r;
    }
    case SHARED_STORE: {
      /* A second, writable shared mapping: stores change the file with no call. */
      unsigned char *w = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 1 << 20);
      if (w == MAP_FAILED) return -1;
      memcpy(w + 4096, other, 8192);
      munmap(w, 2 << 20);
      return 0;
    }
    case VALIDATE_STORE: {
      /* The same through MAP_SHARED_VALIDATE, which is MAP_SHARED with the
       * flags checked. */
      unsigned char *w = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE, fd, 1 << 20);
      if (w == MAP_FAILED) return -1;
      memcpy(w + 8192, other, 8192);
      munmap(w, 2 << 20);
      return 0;
    }
    case CLOSE_RANGE: return close_range(own_fd_floor(), ~0u, 0);  /* where cmbmap keeps its fds */
    case INHERITABLE: return (int)pwrite(fd, other, 4096, 8192);
    case SPAWN: {
      /* The child shares the open file (inheritable here) and writes through
       * it, which breaks no lease: the mapping goes back to file pages
       * before the child exists, and then shows the child's write. */
      char cmd[64];
      snprintf(cmd, sizeof cmd, "printf xyz >&%d", fd);
      return system(cmd);
    }
    case RAW_REPLACE:
      /* Replaced behind the library's back: the write below makes it give
       * the file's ranges back, and it must not map over this memory. */
      if (syscall(SYS_munmap, m, MAPLEN) ||
          (void *)syscall(SYS_mmap, m, MAPLEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != m)
        return -1;
      memset(m, 0x5a, MAPLEN);
      return (int)pwrite(fd, other, 4096, 0);
    case STDIO: {
      /* stdio writes through libc's internal write, which no hook sees */
      FILE *f = fdopen(dup(fd), "r+");
      if (!f || fseek(f, 20000, SEEK_SET) || fwrite(other, 1, 5000, f) != 5000 || fflush(f)) return -1;
      fclose(f);
      return 0;
    }
    case OPEN_WRITE:
      sfd = open(path, O_WRONLY);
      r = (int)pwrite(sfd, other, sizeof other, 0);
      close(sfd);
      return r;
    case TRUNCATE_PATH: return truncate(path, 2 << 20);
  }
  return -1;
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: selfchange FILE\n"); return 2; }
  const char *path = argv[1];
  char src[4096];
  snprintf(src, sizeof src, "%s.src", path);
  for (size_t i = 0; i < SIZE; ++i) pattern[i] = (unsigned char)(i * 7 + i / 4096);
  for (size_t i = 0; i < sizeof other; ++i) other[i] = (unsigned char)(0xa5 ^ i);
  int sfd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (sfd < 0 || write(sfd, other, sizeof other) != (ssize_t)sizeof other) { perror(src); return 1; }
  close(sfd);
  signal(SIGBUS, on_fault);
  signal(SIGSEGV, on_fault);
  /* Read-write holders get a write lease on their own open file; a
   * read-only holder gets a read lease and writes through a second open. */
  for (int rw = 1; rw >= 0; --rw) {
    for (int c = 0; c < NCASES; ++c) {
      if (!rw && c != OPEN_WRITE && c != TRUNCATE_PATH && c != CLOSE_RANGE) continue;
      reset(path);
      /* close-on-exec, as sqlite3 and python3 open their files (LMDB and
       * fio do not: the inheritable cases) */
      int fd = open(path, (rw ? O_RDWR : O_RDONLY) | (c == INHERITABLE || c == SPAWN ? 0 : O_CLOEXEC));
      unsigned char *m = mmap(NULL, MAPLEN, PROT_READ, MAP_SHARED, fd, 0);
      if (m == MAP_FAILED) { perror("mmap"); return 1; }
      fprintf(stderr, "%s%s: served %zu", rw ? "" : "read-only ", names[c], cmb_bytes(m, MAPLEN));
      errno = 0;
      int r = change(c, fd, path, src, m);
      int err = errno;
      fprintf(stderr, ", after %zu\n", cmb_bytes(m, MAPLEN));
      char label[64];
      snprintf(label, sizeof label, "%s%s", rw ? "" : "ro-", names[c]);
      report(label, m, r, err);
      munmap(m, MAPLEN);
      close(fd);
    }
  }
  unlink(src);
  return 0;
}
