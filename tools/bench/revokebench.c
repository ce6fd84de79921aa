/* Lease and revocation costs, measured inside the test machine (root, for
 * drop_caches), run under the shim:
 *   revokebench break FILE   a served mapping of FILE; a forked child opens
 *                            FILE for writing: prints the open's microseconds
 *                            (the lease-break round trip) and "served"/"ordinary"
 *   revokebench revoke FILE  a served mapping of FILE (page cache dropped);
 *                            prints the microseconds to give it back
 *                            (MADV_DONTNEED) and read every byte through the
 *                            mapping, then those of a pread of the same bytes
 *                            from a dropped cache, and "served"/"ordinary" */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

static uint64_t now_us(void) { return (uint64_t)(now() * 1e6); }

static void drop_caches(void) {
  sync();
  int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
  if (fd < 0 || write(fd, "3", 1) != 1) { perror("drop_caches"); exit(1); }
  close(fd);
}

static uint64_t sum(const volatile uint64_t *p, size_t n) {
  uint64_t s = 0;
  for (size_t i = 0; i < n / 8; i += 512) s += p[i]; /* one load per page: fault cost, not CPU */
  return s;
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: revokebench break|revoke FILE\n"); return 2; }
  const char *mode = argv[1], *file = argv[2];
  int fd = open(file, O_RDONLY);
  if (fd < 0) { perror(file); return 1; }
  struct stat st;
  fstat(fd, &st);
  size_t len = (size_t)st.st_size;
  if (!strcmp(mode, "break")) {
    void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    int was = served(m);
    int pipefd[2];
    if (pipe(pipefd) != 0) return 1;
    pid_t child = fork();
    if (child == 0) {
      uint64_t t0 = now_us();
      int w = open(file, O_WRONLY);
      uint64_t t1 = now_us();
      if (w < 0) _exit(1);
      dprintf(pipefd[1], "%llu\n", (unsigned long long)(t1 - t0));
      _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    char buf[32] = "";
    if (read(pipefd[0], buf, sizeof buf - 1) <= 0 || !WIFEXITED(status) || WEXITSTATUS(status)) return 1;
    printf("%llu %s\n", strtoull(buf, NULL, 10), was ? "served" : "ordinary");
    return 0;
  }
  if (!strcmp(mode, "revoke")) {
    drop_caches();
    void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    int was = served(m);
    drop_caches();
    uint64_t t0 = now_us();
    madvise(m, len, MADV_DONTNEED);
    uint64_t s1 = sum(m, len);
    uint64_t t1 = now_us();
    char *buf = malloc(len);
    drop_caches();
    uint64_t t2 = now_us();
    size_t got = 0;
    for (ssize_t n; got < len && (n = pread(fd, buf + got, len - got, (off_t)got)) > 0;) got += (size_t)n;
    uint64_t t3 = now_us();
    uint64_t s2 = sum((uint64_t *)buf, len);
    if (s1 != s2 || got != len) { fprintf(stderr, "bytes differ after revocation\n"); return 1; }
    printf("%llu %llu %s\n", (unsigned long long)(t1 - t0), (unsigned long long)(t3 - t2), was ? "served" : "ordinary");
    return 0;
  }
  fprintf(stderr, "unknown mode %s\n", mode);
  return 2;
}
