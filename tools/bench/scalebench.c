/* The cost of mapping a file while many served ranges are live, run under
 * the shim (CMBMAP_MIN_SIZE=0) in the test machine:
 *   scalebench MANY ONE N ITERATIONS BATCHES
 * maps the first 4 KiB of MANY N times (read-only, MAP_SHARED, each its own
 * served range), then times mmap + one load + munmap of the first 4 KiB of
 * ONE, ITERATIONS times in BATCHES batches.
 * Prints "<ns per mmap+munmap, fastest batch> <held mappings served>
 * served|ordinary" (the last: whether ONE's mapping is served). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "benchutil.h"

#define PIECE 4096

/* Each served range keeps a duplicate fd of its own (above fd 1000): room
 * for N of them. */
static void room_for_fds(long n) {
  struct rlimit r;
  getrlimit(RLIMIT_NOFILE, &r);
  rlim_t want = (rlim_t)n + 4096;
  if (r.rlim_cur >= want) return;
  r.rlim_cur = want;
  if (r.rlim_max < want) r.rlim_max = want;
  if (setrlimit(RLIMIT_NOFILE, &r) != 0) perror("setrlimit RLIMIT_NOFILE");
}


static int open_or_die(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) { perror(path); exit(1); }
  return fd;
}

int main(int argc, char **argv) {
  if (argc != 6) { fprintf(stderr, "usage: scalebench MANY ONE N ITERATIONS BATCHES\n"); return 2; }
  long n = atol(argv[3]), iters = atol(argv[4]), batches = atol(argv[5]);
  if (n < 0 || iters <= 0 || batches <= 0 || batches > iters) { fprintf(stderr, "scalebench: bad counts\n"); return 2; }
  room_for_fds(n);
  int many = open_or_die(argv[1]), one = open_or_die(argv[2]);
  for (long i = 0; i < n; ++i)
    if (mmap(NULL, PIECE, PROT_READ, MAP_SHARED, many, 0) == MAP_FAILED) { perror("mmap MANY"); return 1; }
  long held = served_mappings();
  volatile char *p = mmap(NULL, PIECE, PROT_READ, MAP_SHARED, one, 0);
  if (p == MAP_FAILED) { perror("mmap ONE"); return 1; }
  int one_served = served((const void *)p);
  munmap((void *)p, PIECE);
  long per = iters / batches;
  double best = -1;
  for (long b = 0; b < batches; ++b) {
    double t0 = now();
    for (long i = 0; i < per; ++i) {
      p = mmap(NULL, PIECE, PROT_READ, MAP_SHARED, one, 0);
      if (p == MAP_FAILED) { perror("mmap ONE"); return 1; }
      (void)p[0]; /* one page fault, as a real reader would have */
      munmap((void *)p, PIECE);
    }
    double ns = (now() - t0) * 1e9 / per;
    if (best < 0 || ns < best) best = ns;
  }
  printf("%.0f %ld %s\n", best, held, one_served ? "served" : "ordinary");
  return 0;
}
