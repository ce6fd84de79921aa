/* CPU reads through a file mapping, measured in the test machine.
 *   readbench FILE   maps FILE whole (read-only; served or not, as the
 *                    library decides) and reads every byte with 8-byte loads
 * Prints "<read MB/s> <mmap seconds> served|ordinary": the read rate excludes
 * the mmap() call (which fills a served mapping) and includes page faults. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: readbench FILE\n"); return 2; }
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st)) { perror(argv[1]); return 1; }
  size_t len = (size_t)st.st_size;
  double t0 = now();
  const volatile uint64_t *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
  double t1 = now();
  if (m == MAP_FAILED) { perror("mmap"); return 1; }
  uint64_t sum = 0;
  for (size_t i = 0; i < len / 8; ++i) sum += m[i];
  double t2 = now();
  printf("%.1f %.4f %s\n", len / (t2 - t1) / 1e6, t1 - t0, served((const void *)m) ? "served" : "ordinary");
  fprintf(stderr, "checksum %llx\n", (unsigned long long)sum);
  return 0;
}
