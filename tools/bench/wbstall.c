/* How long another thread's mapping call waits while a writeback runs, run
 * under the shim with CMBMAP_WRITABLE=1 in the test machine:
 *   wbstall BIG SMALL MIB
 * maps MIB MiB of BIG writable and shared (served), stores into every page,
 * then thread A msyncs it all (MS_SYNC: NVMe writes of every page) while
 * thread B maps, loads and unmaps the first 4 KiB of SMALL (read-only,
 * served) in a loop. Then B loops alone for as long again, with nothing to
 * write back. Prints "<B's longest call alone, us> <B's longest call during
 * the writeback, us> <writeback ms> <B's calls during it> served|ordinary". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "benchutil.h"

static int small_fd;
static volatile int stop;

struct loop { double longest; long calls; };

static void *mapper(void *arg) {
  struct loop *l = arg;
  while (!stop) {
    double t0 = now();
    volatile char *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, small_fd, 0);
    if (p == MAP_FAILED) { perror("mmap SMALL"); exit(1); }
    (void)p[0];
    munmap((void *)p, 4096);
    double us = (now() - t0) * 1e6;
    if (us > l->longest) l->longest = us;
    ++l->calls;
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: wbstall BIG SMALL MIB\n"); return 2; }
  const size_t len = (size_t)atol(argv[3]) << 20;
  const int big = open(argv[1], O_RDWR);
  small_fd = open(argv[2], O_RDONLY);
  if (big < 0 || small_fd < 0) { perror("open"); return 1; }
  char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, big, 0);
  if (m == MAP_FAILED) { perror("mmap BIG"); return 1; }
  const int big_served = served(m);
  for (size_t at = 0; at < len; at += 4096) m[at] ^= 1;
  /* B's first calls set up what a process does once (its own served range). */
  struct loop warm = {0, 0}, during = {0, 0}, alone = {0, 0};
  pthread_t b;
  stop = 0;
  pthread_create(&b, NULL, mapper, &warm);
  usleep(200000);
  stop = 1;
  pthread_join(b, NULL);
  /* A's writeback with B mapping meanwhile. */
  stop = 0;
  pthread_create(&b, NULL, mapper, &during);
  usleep(50000);
  double t0 = now();
  if (msync(m, len, MS_SYNC) != 0) { perror("msync"); return 1; }
  const double wb = now() - t0;
  stop = 1;
  pthread_join(b, NULL);
  /* B alone for as long. */
  stop = 0;
  pthread_create(&b, NULL, mapper, &alone);
  usleep((useconds_t)(wb * 1e6) + 50000);
  stop = 1;
  pthread_join(b, NULL);
  printf("%.0f %.0f %.0f %ld %s\n", alone.longest, during.longest, wb * 1e3, during.calls,
         big_served ? "served" : "ordinary");
  return 0;
}
