/* Threads of one process mapping, reading, storing, msyncing, writing,
 * truncating and reopening a set of files other processes change too, with
 * every read checked against the file. Run several at once (under the shim)
 * with a CMB smaller than their mappings: exhaustion, eviction, lease breaks
 * and own-change give-backs all happen while the bytes are checked.
 *
 *   contend DIR NFILES FILE_BYTES SECONDS SEED
 * Files DIR/f0..f<NFILES-1> must exist. Each of 4 threads loops until
 * SECONDS have passed, opening a random file for each operation:
 *   read:   flock(LOCK_SH), map the file whole (PROT_READ, MAP_SHARED),
 *           compare the mapping with pread; keep the mapping over three
 *           more lock/compare rounds (the file may change in between: the
 *           mapping must show the new bytes), unmap
 *   write:  flock(LOCK_EX), pwrite random pages (random bytes)
 *   resize: flock(LOCK_EX), ftruncate down or back up to FILE_BYTES, or
 *           fallocate the file whole again
 *   store:  flock(LOCK_EX), map the file read-write (MAP_SHARED), store into
 *           random pages, msync, compare with pread, unmap
 * The flock makes every compare see a file nobody is changing, so any
 * difference is a stale or wrong byte, never a race of the test itself.
 * stdout, one line: "ops N reads N mismatches N served BYTES max_op_ms N
 * revocations N evicted BYTES" (cmbmap's statistics; 0 without the shim).
 * Exit status 1 on a mismatch. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmbmap/cmbmap.h"
#include "probe.h"

static const char *g_dir;
static int g_files;
static size_t g_bytes, g_pg;
static double g_end;
static uint64_t g_ops, g_reads, g_mismatches, g_served, g_max_ns;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int open_file(unsigned *seed, int flags) {
  char path[4096];
  snprintf(path, sizeof path, "%s/f%d", g_dir, (int)(rand_r(seed) % (unsigned)g_files));
  int fd = open(path, flags);
  if (fd < 0) {
    perror(path);
    exit(1);
  }
  return fd;
}

/* Mapping and file agree on the file's bytes now (under the caller's lock). */
static void compare(int fd, const unsigned char *m, size_t maplen, unsigned char *buf) {
  struct stat st;
  if (fstat(fd, &st) != 0) return;
  size_t n = (size_t)st.st_size < maplen ? (size_t)st.st_size : maplen;
  ssize_t got = pread(fd, buf, n, 0);
  __atomic_fetch_add(&g_reads, 1, __ATOMIC_RELAXED);
  if (got != (ssize_t)n || memcmp(buf, m, n) != 0) {
    size_t at = 0;
    while (got == (ssize_t)n && at < n && buf[at] == m[at]) ++at;
    if (__atomic_fetch_add(&g_mismatches, 1, __ATOMIC_RELAXED) < 5)
      fprintf(stderr, "mismatch: %zu bytes compared, first difference at %zu (pread %zd)\n", n, at, got);
  }
}

static void op_read(unsigned *seed, unsigned char *buf) {
  int fd = open_file(seed, O_RDONLY);
  flock(fd, LOCK_SH);
  struct stat st;
  fstat(fd, &st);
  size_t len = (size_t)st.st_size;
  unsigned char *m = len ? mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
  if (m != MAP_FAILED) {
    __atomic_fetch_add(&g_served, cmb_bytes(m, len), __ATOMIC_RELAXED);
    for (int round = 0; round < 4; ++round) {
      if (round) flock(fd, LOCK_SH);
      compare(fd, m, len, buf);
      flock(fd, LOCK_UN);
      if (round < 3) usleep(rand_r(seed) % 20000);
    }
    munmap(m, len);
  }
  close(fd);
}

static void op_write(unsigned *seed, unsigned char *buf) {
  int fd = open_file(seed, O_RDWR);
  flock(fd, LOCK_EX);
  for (int i = 0; i < 4; ++i) {
    for (size_t k = 0; k < g_pg; ++k) buf[k] = (unsigned char)rand_r(seed);
    if (pwrite(fd, buf, g_pg, (off_t)(rand_r(seed) % (g_bytes / g_pg) * g_pg)) < 0) perror("pwrite");
  }
  close(fd);  /* releases the lock */
}

static void op_resize(unsigned *seed) {
  int fd = open_file(seed, O_RDWR);
  flock(fd, LOCK_EX);
  switch (rand_r(seed) % 3) {
    case 0: if (ftruncate(fd, (off_t)(rand_r(seed) % g_bytes)) != 0) perror("ftruncate"); break;
    case 1: if (ftruncate(fd, (off_t)g_bytes) != 0) perror("ftruncate"); break;
    default: if (fallocate(fd, 0, 0, (off_t)g_bytes) != 0) perror("fallocate"); break;
  }
  close(fd);
}

static void op_store(unsigned *seed, unsigned char *buf) {
  int fd = open_file(seed, O_RDWR);
  flock(fd, LOCK_EX);
  struct stat st;
  fstat(fd, &st);
  size_t len = (size_t)st.st_size / g_pg * g_pg;
  unsigned char *m = len ? mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
  if (m != MAP_FAILED) {
    __atomic_fetch_add(&g_served, cmb_bytes(m, len), __ATOMIC_RELAXED);
    for (int i = 0; i < 8; ++i) {
      volatile uint64_t *w = (volatile uint64_t *)(m + rand_r(seed) % (len / g_pg) * g_pg);
      uint64_t v = (uint64_t)rand_r(seed) << 32 | (unsigned)rand_r(seed);
      for (size_t k = 0; k < g_pg / 8; ++k) w[k] = v;  /* device memory: 8-byte stores */
    }
    if (msync(m, len, MS_SYNC) != 0) perror("msync");
    compare(fd, m, len, buf);
    munmap(m, len);
  }
  close(fd);
}

static void *worker(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  unsigned char *buf = malloc(g_bytes > g_pg ? g_bytes : g_pg);
  while (now() < g_end) {
    double t0 = now();
    unsigned what = rand_r(&seed) % 10;
    if (what < 5) op_read(&seed, buf);
    else if (what < 7) op_write(&seed, buf);
    else if (what < 8) op_resize(&seed);
    else op_store(&seed, buf);
    uint64_t ns = (uint64_t)((now() - t0) * 1e9), max = __atomic_load_n(&g_max_ns, __ATOMIC_RELAXED);
    while (ns > max && !__atomic_compare_exchange_n(&g_max_ns, &max, ns, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    __atomic_fetch_add(&g_ops, 1, __ATOMIC_RELAXED);
  }
  free(buf);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: contend DIR NFILES FILE_BYTES SECONDS SEED\n");
    return 2;
  }
  g_dir = argv[1];
  g_files = atoi(argv[2]);
  g_bytes = strtoull(argv[3], NULL, 0);
  g_pg = (size_t)sysconf(_SC_PAGESIZE);
  g_end = now() + atof(argv[4]);
  unsigned seed = (unsigned)atoi(argv[5]);
  pthread_t t[4];
  for (uintptr_t i = 0; i < 4; ++i) pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(seed * 16 + i + 1));
  for (int i = 0; i < 4; ++i) pthread_join(t[i], NULL);
  struct cmbmap_stats s;
  memset(&s, 0, sizeof s);
  int (*get)(struct cmbmap_stats *) = (int (*)(struct cmbmap_stats *))dlsym(RTLD_DEFAULT, "cmbmap_get_stats");
  if (get) get(&s);
  printf("ops %llu reads %llu mismatches %llu served %llu max_op_ms %llu revocations %llu evicted %llu\n",
         (unsigned long long)g_ops, (unsigned long long)g_reads, (unsigned long long)g_mismatches,
         (unsigned long long)g_served, (unsigned long long)(g_max_ns / 1000000), (unsigned long long)s.revocations,
         (unsigned long long)s.evicted_bytes);
  return g_mismatches ? 1 : 0;
}
