/* Reads of a file whose stores are in a writable served mapping, through the
 * entry points distributions' programs really use: built -O2 with
 * _FORTIFY_SOURCE=2, so read/pread into a buffer of known size become
 * __read_chk/__pread_chk; a stdio stream on the fd (fdopen "r"); splice to a
 * pipe. Each must see the store made just before, as with the page cache.
 * Then calls that store into a clean page of the mapping (recv, the FIEMAP
 * ioctl's extent array) must work as on an ordinary mapping.
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
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
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

  /* System calls that store into a clean page of the mapping: the kernel
   * cannot fault for the program there (EFAULT unless cmbmap opened it). */
  int sv[2];
  int ok = socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 && write(sv[1], "datagram", 8) == 8;
  ssize_t got = ok ? recv(sv[0], m + 8 * pg + 5, 8, 0) : -1;
  printf("recv into the mapping %zd %s\n", got, got == 8 && !memcmp(m + 8 * pg + 5, "datagram", 8) ? "ok" : "bad");
  struct fiemap req = {.fm_start = 0, .fm_length = ~0ULL, .fm_extent_count = 4};
  /* the request goes in by a plain store (it dirties the page): the
   * extents the kernel writes then land in the next, clean, page */
  struct fiemap *fm = (struct fiemap *)(m + 10 * pg - sizeof(struct fiemap));
  memcpy(fm, &req, sizeof req);
  msync(m, len, MS_SYNC);
  int r = ioctl(fd, FS_IOC_FIEMAP, fm);
  printf("FIEMAP into the mapping %d extents %s\n", r, r == 0 && fm->fm_mapped_extents > 0 ? ">0" : "none");
  fprintf(stderr, "served-after-stores %zu\n", cmb_bytes(m, len));

  store(m, 2, 0x22);
  lseek(fd, (off_t)(2 * pg), SEEK_SET);
  printf("read (__read_chk) sees store %d\n", read(fd, buf, pg) == (ssize_t)pg && all(buf, pg, 0x22));

  store(m, 3, 0x33);
  printf("pread (__pread_chk) sees store %d\n", pread(fd, buf, pg, (off_t)(3 * pg)) == (ssize_t)pg && all(buf, pg, 0x33));

  store(m, 4, 0x44);
  FILE *f = fdopen(dup(fd), "r");
  ok = f && fseek(f, (long)(4 * pg), SEEK_SET) == 0 && fread(buf, 1, pg, f) == pg && all(buf, pg, 0x44);
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
