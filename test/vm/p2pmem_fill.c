/* p2pmem_fill: the fill the cmbmap data path will use, checked on its own.
 * usage: p2pmem_fill P2PMEM_ALLOCATE FILE
 * Maps P2PMEM_ALLOCATE (a PCI device's p2pmem/allocate: MAP_SHARED, offset 0), fills it
 * with pread(O_DIRECT) of FILE in 512 KiB requests (the emulated controller's MDTS), and
 * compares it byte for byte with an ordinary read of FILE. Prints the mapping's line of
 * /proc/self/maps. Exit 0 match, 1 mismatch or error, 77 (skip) if there is no p2pmem. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (512u << 10)
#define ALIGN 4096u

static int die(const char *what) { fprintf(stderr, "p2pmem_fill: %s: %s\n", what, strerror(errno)); return 1; }

static void print_maps_line(const void *addr) {
  char line[512], want[32];
  FILE *f = fopen("/proc/self/maps", "r");
  snprintf(want, sizeof want, "%lx-", (unsigned long)addr);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, want, strlen(want)) == 0) printf("maps: %s", line);
  if (f) fclose(f);
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: p2pmem_fill P2PMEM_ALLOCATE FILE\n"); return 2; }
  int pfd = open(argv[1], O_RDWR);
  if (pfd < 0 && errno == ENOENT) { printf("NO_P2PDMA: %s does not exist\n", argv[1]); return 77; }
  if (pfd < 0) return die(argv[1]);
  int dfd = open(argv[2], O_RDONLY | O_DIRECT);
  if (dfd < 0) return die(argv[2]);
  struct stat st;
  if (fstat(dfd, &st) != 0) return die("fstat");
  size_t size = (size_t)st.st_size, maplen = (size + ALIGN - 1) / ALIGN * ALIGN;
  if (size == 0) { fprintf(stderr, "p2pmem_fill: %s is empty\n", argv[2]); return 1; }

  unsigned char *cmb = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED, pfd, 0);
  if (cmb == MAP_FAILED) return die("mmap p2pmem");
  print_maps_line(cmb);
  for (size_t off = 0; off < size; ) {
    size_t n = maplen - off < CHUNK ? maplen - off : CHUNK;
    ssize_t got = pread(dfd, cmb + off, n, (off_t)off);
    if (got < 0) return die("pread O_DIRECT into p2pmem");
    if (got == 0) break;
    off += (size_t)got;
  }

  unsigned char *ref = malloc(size);
  int rfd = open(argv[2], O_RDONLY);
  if (!ref || rfd < 0) return die("reference read");
  for (size_t off = 0; off < size; ) {
    ssize_t got = pread(rfd, ref + off, size - off, (off_t)off);
    if (got <= 0) return die("reference read");
    off += (size_t)got;
  }
  for (size_t i = 0; i < size; i++)
    if (cmb[i] != ref[i]) {
      printf("mismatch at byte %zu of %zu: p2pmem %02x, file %02x\n", i, size, cmb[i], ref[i]);
      return 1;
    }
  printf("%zu bytes match (O_DIRECT pread into p2pmem of %s)\n", size, argv[1]);
  return 0;
}
