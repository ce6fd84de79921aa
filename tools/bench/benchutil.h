/* Shared by the benchmark helpers: a monotonic clock, and whether an address
 * lies in a CMB (p2pmem) mapping of this process. */
#ifndef CMBMAP_BENCH_UTIL_H
#define CMBMAP_BENCH_UTIL_H

#include <stdio.h>
#include <string.h>
#include <time.h>

__attribute__((unused)) static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

__attribute__((unused)) static int served(const void *addr) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  int yes = 0;
  while (f && fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (unsigned long)addr >= lo && (unsigned long)addr < hi)
      yes = strstr(line, "p2pmem") != NULL;
  }
  if (f) fclose(f);
  return yes;
}

/* How many of this process's mappings are CMB (p2pmem). */
__attribute__((unused)) static long served_mappings(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  long n = 0;
  while (f && fgets(line, sizeof line, f)) n += strstr(line, "p2pmem") != NULL;
  if (f) fclose(f);
  return n;
}

#endif
