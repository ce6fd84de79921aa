/* A peer's view: copy a mapped file to a file on another drive with
 * O_DIRECT writes straight from the mapping. From a served mapping the data
 * goes device to device (the second drive DMAs from the first one's CMB);
 * from an ordinary mapping it passes through host memory (page cache).
 *   p2pcopy SRC DST   prints "<seconds> <host RSS growth bytes> served|ordinary"
 * (page cache growth is for the caller to see, with fincore). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

/* Resident bytes of this process in host memory: the Rss of every mapping
 * except p2pmem ones (device memory, though the kernel counts it as file RSS). */
static long long host_rss(void) {
  FILE *f = fopen("/proc/self/smaps", "r");
  char line[512];
  long long kb = 0, v;
  int device = 0;
  unsigned long lo, hi;
  while (f && fgets(line, sizeof line, f)) {
    if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && strchr(line, ' ') && line[strcspn(line, " ") - 1] != ':')
      device = strstr(line, "p2pmem") != NULL;
    else if (!device && sscanf(line, "Rss: %lld kB", &v) == 1)
      kb += v;
  }
  if (f) fclose(f);
  return kb * 1024;
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: p2pcopy SRC DST\n"); return 2; }
  int in = open(argv[1], O_RDONLY);
  struct stat st;
  if (in < 0 || fstat(in, &st)) { perror(argv[1]); return 1; }
  size_t len = (size_t)st.st_size & ~(size_t)4095;
  int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644);
  if (out < 0) { perror(argv[2]); return 1; }
  long long rss0 = host_rss();
  double t0 = now();
  char *m = mmap(NULL, len, PROT_READ, MAP_SHARED, in, 0);
  if (m == MAP_FAILED) { perror("mmap"); return 1; }
  for (size_t at = 0; at < len;) {
    size_t n = len - at < (1u << 20) ? len - at : (1u << 20);
    ssize_t w = pwrite(out, m + at, n, (off_t)at);
    if (w <= 0) { perror("pwrite"); return 1; }
    at += (size_t)w;
  }
  if (fdatasync(out)) { perror("fdatasync"); return 1; }
  double t1 = now();
  printf("%.4f %lld %s\n", t1 - t0, host_rss() - rss0, served(m) ? "served" : "ordinary");
  return 0;
}
