/* The commit step, measured inside the test machine:
 *   commitbench msync FILE   (under the shim, CMBMAP_WRITABLE=1) stores into
 *                            every page of a writable shared mapping of FILE,
 *                            then times msync(MS_SYNC) of all of it; prints
 *                            seconds, the host RAM the data took from the
 *                            first store to the end of the commit (FILE's page
 *                            cache afterwards, by cachestat, + anonymous
 *                            memory growth)
 *                            and "served"/"ordinary"
 *   commitbench direct FILE  the same bytes from a host buffer with O_DIRECT
 *                            pwrite (512 KiB requests) + fdatasync; prints
 *                            seconds, the page cache it left, "host" */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "benchutil.h"

#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif
struct range { uint64_t off, len; };
struct cstat { uint64_t cache, dirty, writeback, evicted, recently_evicted; };

/* Bytes of fd's file in the page cache (cachestat asks through the fd: no
 * second open, which would break cmbmap's lease). */
static uint64_t cached(int fd) {
  struct range r = {0, 0};
  struct cstat s;
  if (syscall(__NR_cachestat, fd, &r, &s, 0) != 0) return 0;
  return s.cache * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Anonymous memory of this process (kB in /proc/self/smaps_rollup): RSS
 * would count the CMB pages mapped here, which are device memory. */
static uint64_t anon(void) {
  unsigned long long kb = 0;
  char line[256];
  FILE *f = fopen("/proc/self/smaps_rollup", "r");
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "Anonymous: %llu kB", &kb) == 1) break;
  if (f) fclose(f);
  return (uint64_t)kb << 10;
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: commitbench msync|direct FILE\n"); return 2; }
  const char *file = argv[2];
  const int direct = !strcmp(argv[1], "direct");
  int fd = open(file, O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0));
  if (fd < 0) { perror(file); return 1; }
  struct stat st;
  fstat(fd, &st);
  const size_t len = (size_t)st.st_size, pg = (size_t)sysconf(_SC_PAGESIZE);
  uint64_t seq = (uint64_t)time(NULL);
  if (direct) {
    uint64_t *buf;
    if (posix_memalign((void **)&buf, pg, len)) return 1;
    for (size_t i = 0; i < len / 8; ++i) buf[i] = seq + i / 512;
    double t0 = now();
    for (size_t at = 0; at < len; at += 512 << 10)
      if (pwrite(fd, (char *)buf + at, len - at < (512u << 10) ? len - at : 512u << 10, (off_t)at) < 0) {
        perror("pwrite");
        return 1;
      }
    if (fdatasync(fd)) { perror("fdatasync"); return 1; }
    double t1 = now();
    printf("%.6f %llu host\n", t1 - t0, (unsigned long long)cached(fd));
    return 0;
  }
  const uint64_t a0 = anon();
  volatile uint64_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) { perror("mmap"); return 1; }
  const int was = served((const void *)m);
  for (size_t i = 0; i < len / 8; i += pg / 8)  /* one store per page: every page dirty */
    m[i] = seq + i;
  double t0 = now();
  if (msync((void *)m, len, MS_SYNC)) { perror("msync"); return 1; }
  double t1 = now();
  const uint64_t grown = anon() > a0 ? anon() - a0 : 0;
  printf("%.6f %llu %s\n", t1 - t0, (unsigned long long)(cached(fd) + grown), was ? "served" : "ordinary");
  return 0;
}
