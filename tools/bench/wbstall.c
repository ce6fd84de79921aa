/* How long another thread's mapping call waits while a writeback runs, run
 * under the shim with CMBMAP_WRITABLE=1 in the test machine:
 *   wbstall BIG SMALL MIB RAW
 * maps MIB MiB of BIG writable and shared (served), stores into every page,
 * then thread A msyncs it all (MS_SYNC: NVMe writes of every page) while
 * thread B maps, loads and unmaps the first 4 KiB of SMALL (read-only,
 * served) in a loop. Then B loops alone for as long again, with nothing to
 * write back. Then the control: A writes MIB MiB into RAW by O_DIRECT
 * pwrite (the same load on the drive and the emulator, none of cmbmap's
 * locks) while B loops. Prints "<B's longest call alone, us> <B's longest
 * call during the writeback, us> <writeback ms> <B's calls during it>
 * served|ordinary <B's longest call during the control, us> <control ms>
 * <during> <alone> <control>", the last three where that longest call's time
 * went: "mmap/load/munmap/cpu us/waits/preemptions". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "benchutil.h"

static int small_fd;
static volatile int stop;

/* B's longest call, and where its time went: in mmap, the load, munmap;
 * on the CPU (B's own thread time) or off it, and how often B gave the CPU
 * up (waits: locks, I/O) or had it taken (preempted). */
struct loop {
  double longest, mmap_us, load_us, munmap_us, cpu_us, at;  /* at: when the longest began (CLOCK_MONOTONIC) */
  long calls, waits, preempted;
  pid_t tid;
};

static double thread_cpu(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void *mapper(void *arg) {
  struct loop *l = arg;
  l->tid = gettid();
  while (!stop) {
    struct rusage r0, r1;
    getrusage(RUSAGE_THREAD, &r0);
    double c0 = thread_cpu(), t0 = now();
    volatile char *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, small_fd, 0);
    if (p == MAP_FAILED) { perror("mmap SMALL"); exit(1); }
    double t1 = now();
    (void)p[0];
    double t2 = now();
    munmap((void *)p, 4096);
    double t3 = now(), c1 = thread_cpu();
    getrusage(RUSAGE_THREAD, &r1);
    double us = (t3 - t0) * 1e6;
    if (us > l->longest) {
      l->longest = us;
      l->at = t0;
      l->mmap_us = (t1 - t0) * 1e6;
      l->load_us = (t2 - t1) * 1e6;
      l->munmap_us = (t3 - t2) * 1e6;
      l->cpu_us = (c1 - c0) * 1e6;
      l->waits = r1.ru_nvcsw - r0.ru_nvcsw;
      l->preempted = r1.ru_nivcsw - r0.ru_nivcsw;
    }
    ++l->calls;
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: wbstall BIG SMALL MIB RAW\n"); return 2; }
  const size_t len = (size_t)atol(argv[3]) << 20;
  const int big = open(argv[1], O_RDWR);
  small_fd = open(argv[2], O_RDONLY);
  if (big < 0 || small_fd < 0) { perror("open"); return 1; }
  char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, big, 0);
  if (m == MAP_FAILED) { perror("mmap BIG"); return 1; }
  const int big_served = served(m);
  for (size_t at = 0; at < len; at += 4096) m[at] ^= 1;
  /* B's first calls set up what a process does once (its own served range). */
  struct loop warm = {0, 0}, during = {0, 0}, alone = {0, 0}, control = {0, 0};
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
  /* The control: the same bytes by O_DIRECT writes, B mapping meanwhile. */
  const int raw = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0600);
  void *buf = NULL;
  if (raw < 0 || posix_memalign(&buf, 4096, 1 << 20) != 0) { perror("RAW"); return 1; }
  memset(buf, 0x5a, 1 << 20);
  stop = 0;
  pthread_create(&b, NULL, mapper, &control);
  usleep(50000);
  t0 = now();
  for (size_t at = 0; at < len; at += 1 << 20)
    if (pwrite(raw, buf, 1 << 20, (off_t)at) != 1 << 20) { perror("pwrite RAW"); return 1; }
  if (fdatasync(raw) != 0) { perror("fdatasync RAW"); return 1; }
  const double ctl = now() - t0;
  stop = 1;
  pthread_join(b, NULL);
  close(raw);
  unlink(argv[4]);
  printf("%.0f %.0f %.0f %ld %s %.0f %.0f", alone.longest, during.longest, wb * 1e3, during.calls,
         big_served ? "served" : "ordinary", control.longest, ctl * 1e3);
  const struct loop *ls[] = {&during, &alone, &control};
  for (int i = 0; i < 3; ++i)
    printf(" %.0f/%.0f/%.0f/%.0f/%ld/%ld", ls[i]->mmap_us, ls[i]->load_us, ls[i]->munmap_us, ls[i]->cpu_us,
           ls[i]->waits, ls[i]->preempted);
  printf("\n");
  /* For a profiler's timeline (perf record -k CLOCK_MONOTONIC): which thread
   * B was, and when its longest calls ran. */
  if (getenv("WBSTALL_TRACE"))
    for (int i = 0; i < 3; ++i)
      fprintf(stderr, "B %s: tid %d, longest call %.6f-%.6f\n", i == 0 ? "during" : i == 1 ? "alone" : "control",
              ls[i]->tid, ls[i]->at, ls[i]->at + ls[i]->longest / 1e6);
  return 0;
}
