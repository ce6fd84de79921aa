/* Fill bandwidth, measured in the test machine.
 *   fillbench raw FILE     O_DIRECT pread of FILE into a p2pmem mapping of the
 *                          file's controller, one 512 KiB request at a time
 *                          (the pread engine's way)
 *   fillbench rawq FILE    the same reads by io_uring, 8 in flight: the best
 *                          raw rate at the uring and passthru engines' depth
 *   fillbench mapped FILE  mmap(FILE) under libcmbmap.so, the second time in the
 *                          process: the fill's own rate (from the library's
 *                          statistics) and the rate of the whole mmap() call,
 *                          which also plans, allocates and maps; then munmap:
 *                          the rate of zeroing the CMB memory it gives back
 * Prints "<MB/s> <bytes> served|ordinary" (raw) or
 * "<fill MB/s> <mmap MB/s> <scrub MB/s> <bytes> served|ordinary" (mapped). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <liburing.h>
#include "../../include/cmbmap/cmbmap.h"
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

#define CHUNK (512 << 10) /* the engines' request size (QEMU's MDTS) */
#define DEPTH 8           /* the uring and passthru engines' requests in flight */

/* O_DIRECT reads of [0, size) of fd into dst by io_uring, DEPTH in flight
 * (the ring set up beforehand, untimed, as cmbmap's rings are set up by a
 * process's first mapping). */
static int read_queued(struct io_uring *ring, int fd, char *dst, size_t size) {
  size_t queued = 0, done = 0, chunks = (size + CHUNK - 1) / CHUNK;
  while (done < chunks) {
    while (queued < chunks && queued - done < DEPTH) {
      struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
      size_t at = queued * (size_t)CHUNK, n = size - at < CHUNK ? size - at : CHUNK;
      io_uring_prep_read(sqe, fd, dst + at, (unsigned)n, at);
      sqe->user_data = queued++;
    }
    io_uring_submit(ring);
    struct io_uring_cqe *cqe;
    if (io_uring_wait_cqe(ring, &cqe) < 0) return -1;
    size_t at = cqe->user_data * (size_t)CHUNK, n = size - at < CHUNK ? size - at : CHUNK;
    if (cqe->res != (int)n) { fprintf(stderr, "read at %zu: %d\n", at, cqe->res); return -1; }
    io_uring_cqe_seen(ring, cqe);
    ++done;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: fillbench raw|rawq|mapped FILE\n"); return 2; }
  struct stat st;
  if (stat(argv[2], &st)) { perror(argv[2]); return 1; }
  size_t size = (size_t)st.st_size & ~(size_t)4095;
  if (!strcmp(argv[1], "raw") || !strcmp(argv[1], "rawq")) {
    char pat[256];
    /* The controller of the file's namespace: /sys/dev/block/MAJ:MIN/../device → PCI. */
    snprintf(pat, sizeof pat, "/sys/dev/block/%u:%u/device/device/p2pmem/allocate", major(st.st_dev), minor(st.st_dev));
    glob_t g;
    if (glob(pat, 0, NULL, &g)) { fprintf(stderr, "no p2pmem for %s\n", argv[2]); return 77; }
    int p = open(g.gl_pathv[0], O_RDWR);
    char *dst = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, p, 0);
    int fd = open(argv[2], O_RDONLY | O_DIRECT);
    if (dst == MAP_FAILED || fd < 0) { perror("setup"); return 1; }
    /* Every page faulted in first, untimed, as cmbmap's allocation does
     * before its fill: the reads alone are timed, the best raw rate. */
    for (size_t at = 0; at < size; at += 4096) ((volatile char *)dst)[at] = 0;
    struct io_uring ring;
    if (io_uring_queue_init(DEPTH, &ring, 0) < 0) { fprintf(stderr, "io_uring_queue_init failed\n"); return 1; }
    double t0 = now();
    if (!strcmp(argv[1], "rawq")) {
      if (read_queued(&ring, fd, dst, size)) return 1;
    } else {
      for (size_t at = 0; at < size; at += CHUNK) {
        size_t n = size - at < CHUNK ? size - at : CHUNK;
        if (pread(fd, dst + at, n, (off_t)at) != (ssize_t)n) { perror("pread"); return 1; }
      }
    }
    double t = now() - t0;
    printf("%.1f %zu served\n", size / t / 1e6, size);
    return 0;
  }
  int fd = open(argv[2], O_RDONLY);
  /* Steady state, as for raw (whose p2pmem setup is not timed either): a
   * first mapping sets up what a process does once (lease, watcher thread,
   * io_uring rings); the second one is measured. */
  void *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) { perror("mmap"); return 1; }
  munmap(m, size);
  int (*get)(struct cmbmap_stats *) = (int (*)(struct cmbmap_stats *))dlsym(RTLD_DEFAULT, "cmbmap_get_stats");
  struct cmbmap_stats s0, s;
  int have = get && get(&s0) == 0;
  double t0 = now();
  m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
  double t = now() - t0;
  if (m == MAP_FAILED) { perror("mmap"); return 1; }
  double fill = 0;
  if (have && get(&s) == 0) {
    unsigned long long b = 0, ns = 0;
    for (int e = 0; e < 4; ++e) { b += s.fill_bytes[e] - s0.fill_bytes[e]; ns += s.fill_ns[e] - s0.fill_ns[e]; }
    if (ns) fill = b / (ns / 1e9) / 1e6;
  }
  const int was_served = served(m);
  munmap(m, size);
  double scrub = 0;
  if (have && get(&s) == 0 && s.scrub_ns > s0.scrub_ns)
    scrub = (s.scrubbed_bytes - s0.scrubbed_bytes) / ((s.scrub_ns - s0.scrub_ns) / 1e9) / 1e6;
  printf("%.1f %.1f %.1f %zu %s\n", fill, size / t / 1e6, scrub, size, was_served ? "served" : "ordinary");
  return 0;
}
