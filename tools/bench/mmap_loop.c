/* mmap/munmap loop over an ordinary file: the cost every program pays for
 * having cmbmap preloaded when its files are not served.
 * usage: mmap_loop FILE ITERATIONS [BATCHES]
 * Prints nanoseconds per iteration. With BATCHES, the iterations run in that
 * many batches and the fastest batch's mean is printed: noise (another
 * process, the emulator) only ever adds time, so the minimum is the cost. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) { fprintf(stderr, "usage: mmap_loop FILE ITERATIONS [BATCHES]\n"); return 2; }
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) { perror(argv[1]); return 1; }
  off_t size = lseek(fd, 0, SEEK_END);
  long n = atol(argv[2]), batches = argc == 4 ? atol(argv[3]) : 1;
  if (n <= 0 || batches <= 0 || batches > n) { fprintf(stderr, "mmap_loop: bad counts\n"); return 2; }
  long per = n / batches;
  double best = -1;
  for (long b = 0; b < batches; ++b) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < per; ++i) {
      volatile char *p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
      if (p == MAP_FAILED) { perror("mmap"); return 1; }
      (void)p[0];  /* one page fault, as a real reader would have */
      munmap((void *)p, (size_t)size);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / per;
    if (best < 0 || ns < best) best = ns;
  }
  printf("%.1f\n", best);
  return 0;
}
