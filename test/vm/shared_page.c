// Processes take turns storing into the same pages through their own
// writable shared mappings, each opening the file just before it maps it.
//
//   shared_page FILE NPROCS SECONDS PAGES
//
// FILE gets PAGES pages; the byte at offset i of every page belongs to
// process i % NPROCS and holds base + (i % NPROCS). NPROCS processes run at
// once; each opens FILE read-write, maps all of it MAP_SHARED, closes the fd,
// then 400 times picks a page, checks that each of its own bytes still holds
// its value and stores it again, and unmaps. A process that ends is replaced
// until SECONDS have passed. Under cmbmap with CMBMAP_WRITABLE=1 a process
// that maps the file alone is served from the CMB, and the next one's open
// breaks its write lease: its stores must reach the file pages it is given
// back (a byte another process finds changed is a lost or stray store).
// At the end the file itself is checked. Prints "rounds R mismatches M";
// exit status 0 when every byte held.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kLoops = 400 };

static unsigned char expected(unsigned base, unsigned nprocs, size_t off) {
  return (unsigned char)(base + off % nprocs);
}

// One process's turn: 0 if every own byte held, 1 (reported) if not.
static int turn(const char* path, unsigned me, unsigned nprocs, unsigned base, size_t pages, unsigned seed) {
  const size_t ps = (size_t)sysconf(_SC_PAGESIZE), len = pages * ps;
  const int fd = open(path, O_RDWR);
  if (fd < 0) { perror("open"); return 2; }
  unsigned char* m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) { perror("mmap"); return 2; }
  close(fd);
  const unsigned char mine = (unsigned char)(base + me);
  for (int loop = 0; loop < kLoops; ++loop) {
    const size_t pg = (size_t)rand_r(&seed) % pages;
    unsigned char* p = m + pg * ps;
    for (size_t i = me; i < ps; i += nprocs) {
      if (p[i] != mine) {
        fprintf(stderr, "process %u (pid %d): page %zu offset %zu holds 0x%02x, expected 0x%02x (loop %d)\n", me,
                (int)getpid(), pg, i, p[i], mine, loop);
        return 1;
      }
      p[i] = mine;
    }
  }
  if (munmap(m, len) != 0) { perror("munmap"); return 2; }
  return 0;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s FILE NPROCS SECONDS PAGES\n", argv[0]);
    return 2;
  }
  const char* path = argv[1];
  const unsigned nprocs = (unsigned)atoi(argv[2]);
  const double seconds = atof(argv[3]);
  const size_t pages = (size_t)atol(argv[4]);
  if (nprocs < 1 || nprocs > 64 || pages < 1) return 2;
  const size_t ps = (size_t)sysconf(_SC_PAGESIZE);
  const unsigned base = (unsigned)(getpid() * 131 + time(NULL)) & 0xff;

  // The file, written through the page cache and not synced (serving must
  // read what the file holds, not what its blocks held).
  unsigned char* page = malloc(ps);
  for (size_t i = 0; i < ps; ++i) page[i] = expected(base, nprocs, i);
  const int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
  if (fd < 0) { perror(path); return 2; }
  for (size_t g = 0; g < pages; ++g)
    if (write(fd, page, ps) != (ssize_t)ps) { perror("write"); return 2; }
  close(fd);

  pid_t* pids = calloc(nprocs, sizeof *pids);
  unsigned long rounds = 0;
  int failed = 0;
  const double end = now() + seconds;
  for (unsigned me = 0; me < nprocs; ++me) {
    const unsigned seed = (unsigned)getpid() ^ (me * 7919u) ^ (unsigned)rounds;
    if ((pids[me] = fork()) == 0) _exit(turn(path, me, nprocs, base, pages, seed));
  }
  for (unsigned live = nprocs; live > 0;) {
    int st;
    const pid_t pid = wait(&st);
    if (pid < 0) { if (errno == EINTR) continue; perror("wait"); return 2; }
    unsigned me = 0;
    while (me < nprocs && pids[me] != pid) ++me;
    if (me == nprocs) continue;
    ++rounds;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      if (!failed) fprintf(stderr, "process %u (pid %d) ended with status 0x%x\n", me, (int)pid, st);
      failed = 1;
    }
    if (failed || now() >= end) {
      pids[me] = 0;
      --live;
      continue;
    }
    const unsigned seed = (unsigned)getpid() ^ (me * 7919u) ^ (unsigned)rounds;
    if ((pids[me] = fork()) == 0) _exit(turn(path, me, nprocs, base, pages, seed));
  }

  // What the file holds, read without a mapping.
  unsigned long mismatches = 0;
  const int rd = open(path, O_RDONLY);
  if (rd < 0) { perror(path); return 2; }
  for (size_t g = 0; g < pages; ++g) {
    if (pread(rd, page, ps, (off_t)(g * ps)) != (ssize_t)ps) { perror("pread"); return 2; }
    for (size_t i = 0; i < ps; ++i)
      if (page[i] != expected(base, nprocs, i) && mismatches++ < 5)
        fprintf(stderr, "file: page %zu offset %zu holds 0x%02x, expected 0x%02x\n", g, i, page[i],
                expected(base, nprocs, i));
  }
  close(rd);
  printf("rounds %lu mismatches %lu%s\n", rounds, mismatches, failed ? " (a process found a changed byte)" : "");
  return failed || mismatches ? 1 : 0;
}
