/* Reads of a file whose stores are in a writable served mapping, through the
 * entry points distributions' programs really use: built -O2 with
 * _FORTIFY_SOURCE=2, so read/pread into a buffer of known size become
 * __read_chk/__pread_chk; a stdio stream on the fd (fdopen "r"); splice to a
 * pipe. Each must see the store made just before, as with the page cache.
 *   freads FILE      prints one line per way of reading (stdout must be the
 *                    same with and without cmbmap); stderr: "served BYTES" */
#define _GNU_SOURCE
#undef _FORTIFY_SOURCE
#define _FORTIFY_SOURCE 2
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe.h"

static size_t pg;

static void store(unsigned char *m, size_t page, unsigned char v) { memset(m + page * pg, v, pg); }
static int all(const unsigned char *b, size_t n, unsigned char v) {
  for (size_t i = 0; i < n; ++i)
    if (b[i] != v) return 0;
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: freads FILE\n"); return 2; }
  pg = (size_t)sysconf(_SC_PAGESIZE);
  int fd = open(argv[1], O_RDWR | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) { perror(argv[1]); return 2; }
  size_t len = (size_t)st.st_size;
  unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) { perror("mmap"); return 2; }
  fprintf(stderr, "served %zu\n", cmb_bytes(m, len));
  static unsigned char buf[65536];  /* known size: the fortified _chk entry points */

  store(m, 2, 0x22);
  lseek(fd, (off_t)(2 * pg), SEEK_SET);
  printf("read (__read_chk) sees store %d\n", read(fd, buf, pg) == (ssize_t)pg && all(buf, pg, 0x22));

  store(m, 3, 0x33);
  printf("pread (__pread_chk) sees store %d\n", pread(fd, buf, pg, (off_t)(3 * pg)) == (ssize_t)pg && all(buf, pg, 0x33));

  store(m, 4, 0x44);
  FILE *f = fdopen(dup(fd), "r");
  int ok = f && fseek(f, (long)(4 * pg), SEEK_SET) == 0 && fread(buf, 1, pg, f) == pg && all(buf, pg, 0x44);
  printf("fdopen r + fread sees store %d\n", ok);
  /* and a later store, read through the same stream */
  store(m, 5, 0x55);
  ok = f && fseek(f, (long)(5 * pg), SEEK_SET) == 0 && fread(buf, 1, pg, f) == pg && all(buf, pg, 0x55);
  printf("fread sees a later store %d\n", ok);
  if (f) fclose(f);

  store(m, 6, 0x66);
  int p[2];
  loff_t off = (loff_t)(6 * pg);
  ok = pipe(p) == 0 && splice(fd, &off, p[1], NULL, pg, 0) == (ssize_t)pg && read(p[0], buf, pg) == (ssize_t)pg &&
       all(buf, pg, 0x66);
  printf("splice sees store %d\n", ok);

  printf("mapping still holds the stores %d\n", all(m + 2 * pg, pg, 0x22) && all(m + 6 * pg, pg, 0x66));
  fprintf(stderr, "served-at-end %zu\n", cmb_bytes(m, len));
  return 0;
}
