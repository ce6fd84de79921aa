// A writable served range that took stores in every other page (dirty
// tracking's mprotects split a device mapping into pieces the kernel never
// merges) goes back while two other threads map and check memory of their
// own, as malloc or a thread stack would:
//
//   pieces_release FILE ROUNDS
//
// Each round maps FILE's first 64 KiB writable and shared, stores into every
// other page, then either unmaps it or opens FILE for writing (the range is
// given back), in turn. A mapping another thread made meanwhile must never
// be replaced: the threads fill theirs and check the bytes. Prints "rounds R
// maps M clobbered C served S"; exit status 0 when C is 0 and the file holds
// every store.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "probe.h"

enum { kPages = 16 };

static volatile int stop;
struct mapper { unsigned long maps, clobbered; };

static void* map_loop(void* arg) {
  struct mapper* m = arg;
  const size_t len = kPages * 4096;
  while (!stop) {
    unsigned char* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) continue;
    memset(p, 0x5a, len);
    sched_yield();
    for (size_t i = 0; i < len; i += 4096)
      if (p[i] != 0x5a) { ++m->clobbered; break; }
    munmap(p, len);
    ++m->maps;
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 3) { fprintf(stderr, "usage: %s FILE ROUNDS\n", argv[0]); return 2; }
  const int rounds = atoi(argv[2]);
  const size_t len = kPages * 4096;
  struct mapper m[2] = {{0, 0}, {0, 0}};
  pthread_t t[2];
  for (int i = 0; i < 2; ++i) pthread_create(&t[i], NULL, map_loop, &m[i]);
  int served = 0, lost = 0;
  for (int r = 0; r < rounds && !lost; ++r) {
    const int fd = open(argv[1], O_RDWR);
    if (fd < 0) { perror(argv[1]); return 2; }
    unsigned char* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 2; }
    served += cmb_bytes(p, len) == len;
    const unsigned char v = (unsigned char)(r * 7 + 1);
    for (int k = 0; k < kPages; k += 2) p[k * 4096 + 5] = v;
    if (r % 2) {
      munmap(p, len);
    } else {
      const int w = open(argv[1], O_WRONLY);  // the range goes back to file pages
      if (w >= 0) close(w);
      munmap(p, len);
    }
    for (int k = 0; k < kPages; k += 2) {
      unsigned char b = 0;
      if (pread(fd, &b, 1, k * 4096 + 5) != 1 || b != v) {
        fprintf(stderr, "round %d: page %d holds 0x%02x, stored 0x%02x\n", r, k, b, v);
        lost = 1;
        break;
      }
    }
    close(fd);
  }
  stop = 1;
  for (int i = 0; i < 2; ++i) pthread_join(t[i], NULL);
  const unsigned long clobbered = m[0].clobbered + m[1].clobbered;
  printf("rounds %d maps %lu clobbered %lu served %d\n", rounds, m[0].maps + m[1].maps, clobbered, served);
  return clobbered || lost ? 1 : 0;
}
