/* The cost of giving back many served ranges of one file at once, run under
 * the shim (CMBMAP_MIN_SIZE=0) in the test machine:
 *   revokemany FILE N
 * maps the first 4 KiB of FILE N times (read-only, MAP_SHARED, each its own
 * served range), then times this process's own open of FILE for writing:
 * cmbmap gives every range of the file back before the open goes on.
 * Prints "<microseconds of the open> <ranges served before> <after>". */
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


int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: revokemany FILE N\n"); return 2; }
  const long n = atol(argv[2]);
  if (n < 1) { fprintf(stderr, "revokemany: bad N\n"); return 2; }
  /* Each served range may keep a duplicate fd (above fd 1000). */
  struct rlimit r;
  getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_cur < (rlim_t)n + 4096) {
    r.rlim_cur = (rlim_t)n + 4096;
    if (r.rlim_max < r.rlim_cur) r.rlim_max = r.rlim_cur;
    setrlimit(RLIMIT_NOFILE, &r);
  }
  const int fd = open(argv[1], O_RDONLY);
  if (fd < 0) { perror(argv[1]); return 1; }
  for (long i = 0; i < n; ++i) {
    volatile char *p = mmap(NULL, PIECE, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    (void)p[0];
  }
  const long before = served_mappings();
  const double t0 = now();
  const int w = open(argv[1], O_WRONLY);
  const double us = (now() - t0) * 1e6;
  if (w < 0) { perror("open for writing"); return 1; }
  close(w);
  printf("%.0f %ld %ld\n", us, before, served_mappings());
  return 0;
}
