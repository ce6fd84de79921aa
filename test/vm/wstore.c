/* Stores through a writable MAP_SHARED mapping of a file, for the tests of
 * writable served mappings. Each page it stores fills with one 64-bit word
 * repeated: (page << 32) | sequence number.
 *   wstore writer FILE JOURNAL SEED  random page stores, some msync'd, until
 *                                    killed; JOURNAL gets a record before each
 *                                    store and after each msync returns
 *   wstore verify FILE JOURNAL       every page whose last store was msync'd
 *                                    holds it in FILE; prints a summary
 *   wstore fill FILE SEED HOW        stores SEED's pattern into every page,
 *                                    then HOW: exit (return from main), _exit,
 *                                    quick_exit, munmap or
 *                                    fsync (then SIGKILL itself), kill (SIGKILL at once),
 *                                    sleep:MS (then SIGKILL), hold:READY (write
 *                                    "served BYTES" to READY, wait to be killed)
 *   wstore check FILE SEED           FILE holds SEED's pattern in every page
 *   wstore steps FILE SEED           stores SEED's pattern into every page, prints
 *                                    "stored", then per line of stdin: "msync"
 *                                    (MS_SYNC of the whole mapping; prints "msync R
 *                                    errno E"); returns from main at EOF
 *   wstore threads FILE SECONDS      4 threads store into pages of their own
 *                                    while the main thread msyncs; then
 *                                    every page of FILE holds its last store
 *   wstore over FILE OTHER SEED      maps FILE writable, mprotects its second
 *                                    half read-only and back (given back in
 *                                    part), maps OTHER writable over that half
 *                                    (MAP_FIXED), stores SEED's pattern into
 *                                    every page of both and msyncs; then FILE's
 *                                    first half and OTHER hold it
 *   wstore api FILE                  msync results, reads of the file and into
 *                                    the mapping, the program's own SIGSEGV
 *                                    handler: stdout must not depend on cmbmap
 * stderr says how much of each mapping was CMB ("served BYTES"). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe.h"

static size_t pg;

struct record { uint32_t kind, page; uint64_t value; }; /* kind: 'S' store, 'M' msync of page, 'A' msync of all */

static void die(const char *what) { perror(what); exit(2); }

static unsigned char *map_file(const char *path, size_t *len, int *fdp) {
  int fd = open(path, O_RDWR | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) die(path);
  *len = (size_t)st.st_size;
  unsigned char *m = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) die("mmap");
  fprintf(stderr, "served %zu\n", cmb_bytes(m, *len));
  if (fdp) *fdp = fd;
  return m;
}

/* Device memory takes 1-8 byte accesses: plain 64-bit stores. */
static void store_page(unsigned char *m, size_t page, uint64_t v) {
  volatile uint64_t *w = (volatile uint64_t *)(m + page * pg);
  for (size_t i = 0; i < pg / 8; ++i) w[i] = v;
}

static int page_is(const unsigned char *p, uint64_t v) {
  const uint64_t *w = (const uint64_t *)p;
  for (size_t i = 0; i < pg / 8; ++i)
    if (w[i] != v) return 0;
  return 1;
}

static void put(int j, uint32_t kind, uint32_t page, uint64_t value) {
  struct record r = {kind, page, value};
  if (write(j, &r, sizeof r) != sizeof r) die("journal");
}

static int writer(const char *path, const char *journal, unsigned seed) {
  size_t len;
  unsigned char *m = map_file(path, &len, NULL);
  int j = open(journal, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  if (j < 0) die(journal);
  put(j, 'C', 0, cmb_bytes(m, len));
  const size_t pages = len / pg;
  srand(seed);
  for (uint64_t seq = 1;; ++seq) {
    const size_t p = (size_t)rand() % pages;
    const uint64_t v = (uint64_t)p << 32 | (seq & 0xffffffffu);
    put(j, 'S', (uint32_t)p, v);
    store_page(m, p, v);
    const int r = rand() % 16;
    if (r < 4) {
      if (msync(m + p * pg, pg, MS_SYNC) != 0) die("msync");
      put(j, 'M', (uint32_t)p, v);
    } else if (r == 4) {
      if (msync(m, len, MS_SYNC) != 0) die("msync");
      put(j, 'A', 0, 0);
    }
  }
  return 0;
}

static int verify(const char *path, const char *journal) {
  int fd = open(path, O_RDONLY), j = open(journal, O_RDONLY);
  struct stat st;
  if (fd < 0 || j < 0 || fstat(fd, &st) != 0) die("open");
  const size_t pages = (size_t)st.st_size / pg;
  uint64_t *last = calloc(pages, 8);   /* value of the last store */
  char *synced = calloc(pages, 1);     /* 1: an msync covering it followed that store */
  uint64_t served = 0, stores = 0;
  struct record r;
  while (read(j, &r, sizeof r) == sizeof r) {
    if (r.kind == 'C') served = r.value;
    else if (r.kind == 'S') { last[r.page] = r.value; synced[r.page] = 0; ++stores; }
    else if (r.kind == 'M') synced[r.page] = last[r.page] == r.value;
    else if (r.kind == 'A') for (size_t p = 0; p < pages; ++p) synced[p] |= last[p] != 0;
  }
  unsigned char *buf = malloc(pg);
  size_t checked = 0, bad = 0;
  for (size_t p = 0; p < pages; ++p) {
    if (!synced[p]) continue;
    if (pread(fd, buf, pg, (off_t)(p * pg)) != (ssize_t)pg) die("pread");
    ++checked;
    if (!page_is(buf, last[p])) {
      if (bad < 5) fprintf(stderr, "page %zu: not the msync'd store %#llx (word 0 is %#llx)\n", p,
                           (unsigned long long)last[p], (unsigned long long)*(uint64_t *)buf);
      ++bad;
    }
  }
  printf("served %llu stores %llu msynced-pages %zu lost %zu\n", (unsigned long long)served,
         (unsigned long long)stores, checked, bad);
  return bad ? 1 : 0;
}

static uint64_t pattern(unsigned seed, size_t p) { return (uint64_t)p << 32 | (seed * 2654435761u); }

static int fill(const char *path, unsigned seed, const char *how) {
  size_t len;
  int fd;
  unsigned char *m = map_file(path, &len, &fd);
  for (size_t p = 0; p < (len + pg - 1) / pg; ++p) store_page(m, p, pattern(seed, p));
  if (!strcmp(how, "exit")) return 0;
  if (!strcmp(how, "_exit")) _exit(0);
  if (!strcmp(how, "quick_exit")) quick_exit(0);
  if (!strcmp(how, "munmap")) {
    if (munmap(m, len) != 0) die("munmap");
  } else if (!strcmp(how, "fsync")) {
    if (fsync(fd) != 0) die("fsync");
  } else if (!strncmp(how, "sleep:", 6)) {
    usleep((useconds_t)atoi(how + 6) * 1000);
  } else if (!strncmp(how, "hold:", 5)) {
    FILE *f = fopen(how + 5, "w");
    if (!f) die(how + 5);
    fprintf(f, "served %zu\n", cmb_bytes(m, len));
    fclose(f);
    for (;;) pause();
  } else if (strcmp(how, "kill")) {
    fprintf(stderr, "unknown HOW %s\n", how);
    return 2;
  }
  kill(getpid(), SIGKILL);
  return 3;
}

/* For the fault tests: msync when told (the test arms and clears faults in
 * between), so each msync's answer can be checked on its own. */
static int steps(const char *path, unsigned seed) {
  size_t len;
  unsigned char *m = map_file(path, &len, NULL);
  for (size_t p = 0; p < (len + pg - 1) / pg; ++p) store_page(m, p, pattern(seed, p));
  printf("stored\n");
  fflush(stdout);
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    if (strcmp(line, "msync\n")) {
      fprintf(stderr, "unknown step %s", line);
      return 2;
    }
    errno = 0;
    int r = msync(m, len, MS_SYNC);
    printf("msync %d errno %d\n", r, r ? errno : 0);
    fflush(stdout);
  }
  return 0;
}

static int check(const char *path, unsigned seed) {
  int fd = open(path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) die(path);
  unsigned char *buf = malloc(pg);
  size_t bad = 0, pages = (size_t)st.st_size / pg, tail = (size_t)st.st_size % pg;
  for (size_t p = 0; p < pages; ++p) {
    if (pread(fd, buf, pg, (off_t)(p * pg)) != (ssize_t)pg) die("pread");
    bad += !page_is(buf, pattern(seed, p));
  }
  if (tail) {  /* a last partial page: its bytes up to EOF */
    const uint64_t v = pattern(seed, pages);
    if (pread(fd, buf, tail, (off_t)(pages * pg)) != (ssize_t)tail) die("pread");
    for (size_t i = 0; i < tail; ++i)
      if (buf[i] != ((const unsigned char *)&v)[i % 8]) { ++bad; break; }
    ++pages;
  }
  printf("pages %zu stored %zu missing %zu\n", pages, pages - bad, bad);
  return bad ? 1 : 0;
}

static sigjmp_buf jb;
static volatile sig_atomic_t handled;
static void own_handler(int sig, siginfo_t *si, void *uc) {
  (void)si; (void)uc;
  handled = sig;
  siglongjmp(jb, 1);
}

/* Stores from places where SIGSEGV is blocked: a thread that blocks every
 * signal, and a signal handler whose mask is full. */
static unsigned char *g_m;
static void *blocked_store(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  store_page(g_m, 5, 0x5555);
  return NULL;
}
static void usr1_store(int sig) {
  (void)sig;
  store_page(g_m, 6, 0x6666);
}

static int api(const char *path) {
  size_t len;
  int fd;
  unsigned char *m = map_file(path, &len, &fd);
  /* msync: arguments the kernel refuses, gaps, flags; same answers either way. */
  struct { const char *name; void *addr; size_t len; int flags; } calls[] = {
      {"sync-all", m, len, MS_SYNC},           {"async-all", m, len, MS_ASYNC},
      {"invalidate", m, len, MS_INVALIDATE},   {"sync+invalidate", m, pg, MS_SYNC | MS_INVALIDATE},
      {"sync+async", m, len, MS_SYNC | MS_ASYNC}, {"bad-flag", m, len, 0x100},
      {"unaligned", m + 1, pg, MS_SYNC},       {"zero-length", m, 0, MS_SYNC},
      {"past-end", m + len - pg, 4 * pg, MS_SYNC}, {"no-flags", m, len, 0},
  };
  store_page(m, 1, 0x1111);
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; ++i) {
    errno = 0;
    int r = msync(calls[i].addr, calls[i].len, calls[i].flags);
    printf("msync %-16s %d errno %d\n", calls[i].name, r, r ? errno : 0);
  }
  /* A store is seen by read() of the file at once, as with the page cache. */
  store_page(m, 2, 0x2222);
  unsigned char *buf = malloc(pg);
  printf("pread sees store %d\n", pread(fd, buf, pg, (off_t)(2 * pg)) == (ssize_t)pg && page_is(buf, 0x2222));
  /* read() into the mapping: the kernel stores there. */
  int src = open("/proc/self/exe", O_RDONLY);
  ssize_t n = pread(src, m + 3 * pg, pg, 0);
  printf("read into mapping %zd errno %d elf %d\n", n, n < 0 ? errno : 0, n > 0 && !memcmp(m + 3 * pg + 1, "ELF", 3));
  close(src);
  /* The program's own SIGSEGV handler still gets the faults that are its. */
  struct sigaction sa = {0}, old;
  sa.sa_sigaction = own_handler;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, &old);
  unsigned char *none = mmap(NULL, pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (!sigsetjmp(jb, 1)) *(volatile unsigned char *)none = 1;
  printf("own handler got signal %d\n", (int)handled);
  struct sigaction now;
  sigaction(SIGSEGV, NULL, &now);
  printf("sigaction reads back own handler %d\n", now.sa_sigaction == own_handler);
  sigaction(SIGSEGV, &old, NULL);
  /* SIGSEGV blocked where the store happens (the pages are clean again after
   * an msync): the store goes through all the same. */
  g_m = m;
  msync(m, len, MS_SYNC);
  pthread_t t;
  pthread_create(&t, NULL, blocked_store, NULL);
  pthread_join(t, NULL);
  struct sigaction su = {0};
  su.sa_handler = usr1_store;
  sigfillset(&su.sa_mask);
  sigaction(SIGUSR1, &su, NULL);
  raise(SIGUSR1);
  printf("stores with SIGSEGV blocked %d %d\n", page_is(m + 5 * pg, 0x5555), page_is(m + 6 * pg, 0x6666));
  /* Stores after all that are still tracked and reach the file. */
  store_page(m, 4, 0x4444);
  printf("msync after %d\n", msync(m, len, MS_SYNC));
  printf("pread sees later store %d\n", pread(fd, buf, pg, (off_t)(4 * pg)) == (ssize_t)pg && page_is(buf, 0x4444));
  printf("pread sees blocked stores %d\n", pread(fd, buf, pg, (off_t)(5 * pg)) == (ssize_t)pg && page_is(buf, 0x5555));
  fprintf(stderr, "served-at-end %zu\n", cmb_bytes(m, len));
  /* The program's own write to the file: its stores are written back first,
   * and the mapping (given back) shows both. */
  store_page(m, 7, 0x7777);
  uint64_t w[512];
  for (size_t i = 0; i < 512; ++i) w[i] = 0x8888;
  ssize_t wr = pwrite(fd, w, sizeof w, (off_t)(8 * pg));
  printf("own pwrite %zd: mapping %d %d, file %d\n", wr, page_is(m + 7 * pg, 0x7777), page_is(m + 8 * pg, 0x8888),
         pread(fd, buf, pg, (off_t)(7 * pg)) == (ssize_t)pg && page_is(buf, 0x7777));
  fprintf(stderr, "served-after-pwrite %zu\n", cmb_bytes(m, len));
  return 0;
}

/* threads: thread t owns the pages p with p % 4 == t. */
enum { kThreads = 4 };
static unsigned char *t_map;
static size_t t_pages;
static uint64_t *t_last;
static volatile int t_stop;
static void *t_store(void *arg) {
  const size_t t = (size_t)arg;
  unsigned seed = (unsigned)t * 7919u + 1;
  for (uint64_t seq = 1; !t_stop; ++seq) {
    const size_t p = (size_t)rand_r(&seed) % (t_pages / kThreads) * kThreads + t;
    const uint64_t v = (uint64_t)p << 32 | (seq & 0xffffffffu);
    store_page(t_map, p, v);
    t_last[p] = v;
  }
  return NULL;
}

static int threads(const char *path, int seconds) {
  size_t len;
  int fd;
  t_map = map_file(path, &len, &fd);
  t_pages = len / pg;
  t_last = calloc(t_pages, 8);
  pthread_t th[kThreads];
  for (size_t t = 0; t < kThreads; ++t) pthread_create(&th[t], NULL, t_store, (void *)t);
  for (int i = 0; i < seconds * 20; ++i) {
    usleep(50000);
    if (msync(t_map, len, MS_SYNC) != 0) die("msync");
  }
  t_stop = 1;
  for (size_t t = 0; t < kThreads; ++t) pthread_join(th[t], NULL);
  fprintf(stderr, "served-at-end %zu\n", cmb_bytes(t_map, len));
  if (munmap(t_map, len) != 0) die("munmap");
  unsigned char *buf = malloc(pg);
  size_t stored = 0, bad = 0;
  for (size_t p = 0; p < t_pages; ++p) {
    if (!t_last[p]) continue;
    ++stored;
    if (pread(fd, buf, pg, (off_t)(p * pg)) != (ssize_t)pg) die("pread");
    bad += !page_is(buf, t_last[p]);
  }
  printf("pages stored %zu mismatch %zu\n", stored, bad);
  return bad ? 1 : 0;
}

static int over(const char *path, const char *other, unsigned seed) {
  size_t len;
  unsigned char *m = map_file(path, &len, NULL);
  const size_t half = len / 2 / pg * pg;
  if (mprotect(m + half, len - half, PROT_READ) != 0 || mprotect(m + half, len - half, PROT_READ | PROT_WRITE) != 0)
    die("mprotect");
  int ofd = open(other, O_RDWR | O_CLOEXEC);
  if (ofd < 0) die(other);
  unsigned char *o = mmap(m + half, len - half, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, ofd, 0);
  if (o != m + half) die("mmap MAP_FIXED");
  fprintf(stderr, "served over %zu\n", cmb_bytes(o, len - half));
  for (size_t p = 0; p < len / pg; ++p) store_page(m, p, ((uint64_t)p << 32) | seed);
  if (msync(m, len, MS_SYNC) != 0) die("msync");
  unsigned char *buf = malloc(pg);
  size_t bad = 0;
  for (size_t p = 0; p < len / pg; ++p) {
    const int fd = p < half / pg ? open(path, O_RDONLY) : ofd;
    const off_t at = (off_t)(p < half / pg ? p * pg : p * pg - half);
    if (fd < 0 || pread(fd, buf, pg, at) != (ssize_t)pg) die("pread");
    bad += !page_is(buf, ((uint64_t)p << 32) | seed);
    if (fd != ofd) close(fd);
  }
  printf("pages %zu mismatch %zu\n", len / pg, bad);
  return bad ? 1 : 0;
}

int main(int argc, char **argv) {
  pg = (size_t)sysconf(_SC_PAGESIZE);
  if (argc == 5 && !strcmp(argv[1], "writer")) return writer(argv[2], argv[3], (unsigned)atoi(argv[4]));
  if (argc == 4 && !strcmp(argv[1], "verify")) return verify(argv[2], argv[3]);
  if (argc == 5 && !strcmp(argv[1], "fill")) return fill(argv[2], (unsigned)atoi(argv[3]), argv[4]);
  if (argc == 4 && !strcmp(argv[1], "check")) return check(argv[2], (unsigned)atoi(argv[3]));
  if (argc == 4 && !strcmp(argv[1], "steps")) return steps(argv[2], (unsigned)atoi(argv[3]));
  if (argc == 3 && !strcmp(argv[1], "api")) return api(argv[2]);
  if (argc == 5 && !strcmp(argv[1], "over")) return over(argv[2], argv[3], (unsigned)atoi(argv[4]));
  if (argc == 4 && !strcmp(argv[1], "threads")) return threads(argv[2], atoi(argv[3]));
  fprintf(stderr, "usage: wstore writer|verify|fill|check|steps|threads|api|over ... (see the source)\n");
  return 2;
}
