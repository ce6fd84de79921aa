/* Shared by the test machine's C helpers: the checksum they print and how
 * much of a range is CMB (p2pmem) in this process's /proc/self/maps. */
#ifndef CMBMAP_TEST_VM_PROBE_H
#define CMBMAP_TEST_VM_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* FNV-1a; not inlined, so callers using sigsetjmp keep their locals sane. */
__attribute__((noinline, unused)) static uint64_t fnv(const volatile unsigned char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

/* Bytes of [m, m+len) that /proc/self/maps shows as p2pmem. */
__attribute__((unused)) static size_t cmb_bytes(const void *m, size_t len) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  uintptr_t a = (uintptr_t)m, e = a + len;
  size_t n = 0;
  while (f && fgets(line, sizeof line, f)) {
    uintptr_t lo, hi;
    if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && strstr(line, "p2pmem") && lo < e && a < hi)
      n += (hi < e ? hi : e) - (lo > a ? lo : a);
  }
  if (f) fclose(f);
  return n;
}

#endif
