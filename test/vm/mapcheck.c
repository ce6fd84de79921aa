/* Mapping checks for the served-mapping tests. Everything printed on stdout
 * is deterministic and the same for an ordinary mapping, so a run under the
 * shim can be compared byte for byte with a run without it; what differs
 * (which backing a range has) goes to stderr.
 *   mapcheck content FILE LEN   map LEN bytes of FILE read-only: checksum up to
 *                                EOF, zero tail of the last page, SIGBUS past it
 *   mapcheck ops FILE           munmap/mremap/mprotect/madvise/msync/mlock/fork/populate
 *   mapcheck paint BYTES MARKER map BYTES of p2pmem from the first CMB and fill
 *                                it with MARKER (16 chars), then exit
 *   mapcheck leftover MARKER    allocate all free p2pmem of every CMB and count the
 *                                pages holding MARKER (16 chars): what the next
 *                                user of the pool would be handed
 *   mapcheck replace FILE ROUNDS map FILE read-only, then map it again over
 *                                itself (MAP_FIXED) ROUNDS times while a thread
 *                                reads the mapping: bytes it saw that are not
 *                                the file's */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

static long PG;
static sigjmp_buf jb;
static void on_fault(int sig) { siglongjmp(jb, sig); }


/* Reads n bytes at p; returns the checksum, or 0 and *sig on a fault. */
static uint64_t probe(const volatile unsigned char *p, size_t n, int *sig) {
  *sig = sigsetjmp(jb, 1);
  if (*sig) return 0;
  return fnv(p, n);
}

static const char *signame(int s) { return s == SIGBUS ? "SIGBUS" : s == SIGSEGV ? "SIGSEGV" : s ? "signal" : "none"; }

static void backing(const void *addr) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  uintptr_t a = (uintptr_t)addr;
  while (f && fgets(line, sizeof line, f)) {
    uintptr_t lo, hi;
    if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && a >= lo && a < hi) {
      fprintf(stderr, "backing %s", strstr(line, "p2pmem") ? "p2pmem\n" : "file\n");
      break;
    }
  }
  if (f) fclose(f);
}

static uint64_t file_sum(int fd, off_t off, size_t n) {
  unsigned char *b = malloc(n ? n : 1);
  ssize_t got = pread(fd, b, n, off);
  uint64_t h = fnv(b, got > 0 ? (size_t)got : 0);
  free(b);
  return h;
}

static int content(const char *path, size_t len) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) { perror(path); return 1; }
  struct stat st;
  fstat(fd, &st);
  size_t size = (size_t)st.st_size, page_end = (size + PG - 1) / PG * PG;
  unsigned char *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) { printf("mmap errno %d\n", errno); return 0; }
  backing(m);
  int sig;
  uint64_t h = probe(m, size < len ? size : len, &sig);
  printf("data %s (%s)\n", h == file_sum(fd, 0, size < len ? size : len) ? "same as file" : "DIFFERENT", signame(sig));
  if (len > size && page_end > size) {
    size_t nz = 0;
    for (size_t i = size; i < page_end && i < len; ++i) nz += m[i] != 0;
    printf("tail of last page: %zu non-zero bytes\n", nz);
  }
  if (len > page_end) {
    probe(m + page_end, 1, &sig);
    printf("read past EOF page: %s\n", signame(sig));
  }
  munmap(m, len);
  return 0;
}

#define SAY(...) do { printf(__VA_ARGS__); fflush(stdout); } while (0)

static int ops(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) { perror(path); return 1; }
  struct stat st;
  fstat(fd, &st);
  size_t n = (size_t)st.st_size & ~(size_t)(PG - 1), half = n / 2 & ~(size_t)(PG - 1);
  uint64_t whole = file_sum(fd, 0, n);
  int sig, r;

  unsigned char *m = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
  backing(m);
  SAY("whole: %s\n", probe(m, n, &sig) == whole ? "same" : "DIFFERENT");
  /* munmap a middle MiB, then the first and last pages. */
  r = munmap(m + half, 1 << 20);
  SAY("munmap middle: %d\n", r);
  SAY("before hole: %s\n", probe(m, half, &sig) == file_sum(fd, 0, half) ? "same" : "DIFFERENT");
  SAY("after hole: %s\n", probe(m + half + (1 << 20), n - half - (1 << 20), &sig) ==
      file_sum(fd, half + (1 << 20), n - half - (1 << 20)) ? "same" : "DIFFERENT");
  probe(m + half, 1, &sig);
  SAY("read in hole: %s\n", signame(sig));
  r = munmap(m, PG);
  SAY("munmap head page: %d, tail page: %d\n", r, munmap(m + n - PG, PG));
  munmap(m, n);

  /* mremap: shrink, grow (may move), move to a fixed place. */
  m = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
  unsigned char *s = mremap(m, n, half, 0);
  SAY("mremap shrink: %s %s\n", s == m ? "in place" : "FAILED", probe(s, half, &sig) == file_sum(fd, 0, half) ? "same" : "DIFFERENT");
  unsigned char *g = mremap(s, half, n, MREMAP_MAYMOVE);
  SAY("mremap grow: %s %s\n", g == MAP_FAILED ? "FAILED" : "ok", probe(g, n, &sig) == whole ? "same" : "DIFFERENT");
  backing(g + n - PG);  /* the grown part: planned like a new mapping */
  unsigned char *dst = mmap(NULL, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  unsigned char *mv = mremap(g, n, n, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
  SAY("mremap move: %s %s\n", mv == dst ? "moved" : "FAILED", probe(mv, n, &sig) == whole ? "same" : "DIFFERENT");
  munmap(mv, n);

  /* mprotect: write on a read-only shared mapping fails as in the kernel. */
  m = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
  errno = 0;
  r = mprotect(m, n, PROT_READ | PROT_WRITE);
  SAY("mprotect RW shared on O_RDONLY: %d errno %d\n", r, r ? errno : 0);
  r = mprotect(m, n, PROT_NONE);
  SAY("mprotect NONE: %d, back to READ: %d\n", r, mprotect(m, n, PROT_READ));
  SAY("after mprotect: %s\n", probe(m, n, &sig) == whole ? "same" : "DIFFERENT");
  /* madvise: dropped pages read the file again. */
  SAY("madvise DONTNEED: %d\n", madvise(m, n, MADV_DONTNEED));
  SAY("after DONTNEED: %s\n", probe(m, n, &sig) == whole ? "same" : "DIFFERENT");
  r = madvise(m, n, MADV_WILLNEED);
  SAY("madvise WILLNEED: %d, SEQUENTIAL: %d\n", r, madvise(m, n, MADV_SEQUENTIAL));
  r = msync(m, n, MS_SYNC);
  SAY("msync SYNC: %d, ASYNC: %d\n", r, msync(m, n, MS_ASYNC));
  r = mlock(m, PG);
  SAY("mlock: %d, munlock: %d\n", r, munlock(m, PG));
  munmap(m, n);

  /* MAP_PRIVATE becomes writable: copy-on-write, the file and another mapping untouched. */
  unsigned char *p1 = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
  unsigned char *p2 = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
  unsigned char first = p1[0];
  SAY("private mprotect RW: %d\n", mprotect(p1, n, PROT_READ | PROT_WRITE));
  p1[0] = (unsigned char)~first;
  unsigned char on_disk;
  pread(fd, &on_disk, 1, 0);
  SAY("private write: seen %d, other mapping unchanged %d, file unchanged %d\n", p1[0] == (unsigned char)~first,
      p2[0] == first, on_disk == first);
  /* fork: the child's private writes stay in the child. */
  pid_t pid = fork();
  if (pid == 0) {
    mprotect(p2, n, PROT_READ | PROT_WRITE);
    p2[1] = (unsigned char)~p2[1];
    p1[0] = first;
    _exit(probe(p2, n, &sig) == whole ? 3 : 4);
  }
  int status;
  waitpid(pid, &status, 0);
  SAY("fork: child saw its own write %d; parent private still %d, other %s\n", WEXITSTATUS(status) == 4,
      p1[0] == (unsigned char)~first, probe(p2, n, &sig) == whole ? "same" : "DIFFERENT");
  munmap(p1, n);
  munmap(p2, n);
  /* fork of a shared read-only mapping: both read the file. */
  m = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
  pid = fork();
  if (pid == 0) _exit(probe(m, n, &sig) == whole ? 0 : 1);
  waitpid(pid, &status, 0);
  SAY("fork shared: child %s, parent %s\n", WEXITSTATUS(status) == 0 ? "same" : "DIFFERENT",
      probe(m, n, &sig) == whole ? "same" : "DIFFERENT");
  munmap(m, n);

  /* Prefaulting and core-dump advice, and MAP_POPULATE. */
  m = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
  backing(m);
  r = madvise(m, n, MADV_POPULATE_READ);
  SAY("madvise POPULATE_READ: %d errno %d\n", r, r ? errno : 0);
  r = madvise(m, n, MADV_POPULATE_WRITE);
  SAY("madvise POPULATE_WRITE on read-only: %d errno %d\n", r, r ? errno : 0);
  r = madvise(m, n, MADV_DODUMP);
  SAY("madvise DODUMP: %d errno %d, after: %s\n", r, r ? errno : 0, probe(m, n, &sig) == whole ? "same" : "DIFFERENT");
  munmap(m, n);
  m = mmap(NULL, n, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
  backing(m);
  SAY("mmap MAP_POPULATE: %s\n", m == MAP_FAILED ? "FAILED" : probe(m, n, &sig) == whole ? "same" : "DIFFERENT");
  munmap(m, n);
  return 0;
}

static int paint(size_t bytes, const char *marker) {
  glob_t g;
  if (glob("/sys/bus/pci/devices/*/p2pmem/allocate", 0, NULL, &g) != 0) { fprintf(stderr, "no p2pmem\n"); return 77; }
  int fd = open(g.gl_pathv[0], O_RDWR);
  if (fd < 0) { perror(g.gl_pathv[0]); return 1; }
  char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) { perror("mmap p2pmem"); return 1; }
  for (size_t i = 0; i < bytes; i += 16) memcpy(m + i, marker, 16);
  printf("painted %zu bytes\n", bytes);
  return 0;
}

/* Allocates all it can from one p2pmem allocate file, largest pieces first;
 * counts pages holding marker. The mappings stay until exit. */
static size_t scan_pool(const char *path, const char *marker, size_t *bytes) {
  int fd = open(path, O_RDWR);
  if (fd < 0) { perror(path); exit(1); }
  size_t pages = 0;
  for (size_t chunk = 1 << 20; chunk >= (size_t)PG; chunk /= 2) {
    for (;;) {
      unsigned char *m = mmap(NULL, chunk, PROT_READ, MAP_SHARED, fd, 0);
      if (m == MAP_FAILED) break;
      *bytes += chunk;
      for (size_t off = 0; off < chunk; off += PG)
        pages += memmem(m + off, PG, marker, 16) != NULL;
    }
  }
  close(fd);
  return pages;
}

static int leftover(const char *marker) {
  glob_t g;
  if (glob("/sys/bus/pci/devices/*/p2pmem/allocate", 0, NULL, &g) != 0) { fprintf(stderr, "no p2pmem\n"); return 77; }
  size_t pages = 0, bytes = 0;
  for (size_t i = 0; i < g.gl_pathc; ++i) pages += scan_pool(g.gl_pathv[i], marker, &bytes);
  printf("%zu pages of %zu bytes allocated hold the marker\n", pages, bytes);
  return 0;
}

/* A reader of a mapping the main thread maps again over itself. */
struct reader {
  const volatile unsigned char *m;
  const unsigned char *want;
  size_t size;
  int stop;
  size_t passes, wrong;
  int first_seen;
};

static void *read_while_replaced(void *arg) {
  struct reader *r = arg;
  while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
    for (size_t i = 0; i < r->size; i += 64) {
      const unsigned char b = r->m[i];
      if (b != r->want[i]) {
        if (!r->wrong) r->first_seen = b;
        r->wrong++;
      }
    }
    r->passes++;
  }
  return NULL;
}

static int replace(const char *path, int rounds) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) { perror(path); return 1; }
  struct stat st;
  fstat(fd, &st);
  const size_t size = (size_t)st.st_size;
  unsigned char *want = malloc(size);
  if (!want || pread(fd, want, size, 0) != (ssize_t)size) { perror("pread"); return 1; }
  unsigned char *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) { perror("mmap"); return 1; }
  struct reader r = {.m = m, .want = want, .size = size};
  pthread_t t;
  pthread_create(&t, NULL, read_while_replaced, &r);
  int served = 0, moved = 0;
  for (int i = 0; i < rounds; ++i) {
    while (__atomic_load_n(&r.passes, __ATOMIC_RELAXED) < (size_t)i + 1) sched_yield();
    moved += mmap(m, size, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) != m;
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
      uintptr_t lo;
      if (sscanf(line, "%lx-", &lo) == 1 && lo == (uintptr_t)m) served += strstr(line, "p2pmem") != NULL;
    }
    if (f) fclose(f);
  }
  __atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
  pthread_join(t, NULL);
  fprintf(stderr, "replace: %d of %d mappings served, %zu reader passes\n", served, rounds, r.passes);
  printf("replace: %d rounds, %s, the reader saw %zu bytes not the file's", rounds, moved ? "MOVED" : "in place",
         r.wrong);
  if (r.wrong) printf(" (first %#x)", r.first_seen);
  printf("\n");
  munmap(m, size);
  free(want);
  return 0;
}

int main(int argc, char **argv) {
  PG = sysconf(_SC_PAGESIZE);
  signal(SIGBUS, on_fault);
  signal(SIGSEGV, on_fault);
  if (argc == 4 && !strcmp(argv[1], "content")) return content(argv[2], strtoul(argv[3], NULL, 0));
  if (argc == 3 && !strcmp(argv[1], "ops")) return ops(argv[2]);
  if (argc == 4 && !strcmp(argv[1], "paint") && strlen(argv[3]) == 16) return paint(strtoul(argv[2], NULL, 0), argv[3]);
  if (argc == 3 && !strcmp(argv[1], "leftover") && strlen(argv[2]) == 16) return leftover(argv[2]);
  if (argc == 4 && !strcmp(argv[1], "replace")) return replace(argv[2], atoi(argv[3]));
  fprintf(stderr, "usage: mapcheck content FILE LEN | ops FILE | paint BYTES MARKER16 | leftover MARKER16 | "
                  "replace FILE ROUNDS\n");
  return 2;
}
