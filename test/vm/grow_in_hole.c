/* A program that counts on the address space it freed staying free: it
 * reserves two pages, unmaps them, maps one page of a file at the first and
 * grows that mapping in place into the second (LTP's mmap16 does this).
 * cmbmap's own lasting mappings must not land in the hole meanwhile.
 *   grow_in_hole FILE   prints "grown in place" or the mremap error */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: grow_in_hole FILE\n"); return 2; }
  long ps = sysconf(_SC_PAGESIZE);
  int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ftruncate(fd, 2 * ps) != 0) { perror(argv[1]); return 1; }
  char *hole = mmap(NULL, 2 * ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (hole == MAP_FAILED || munmap(hole, 2 * ps) != 0) { perror("reserve"); return 1; }
  char *m = mmap(hole, ps, PROT_READ, MAP_SHARED, fd, 0);
  if (m != hole) { printf("not placed at the hint (%p, %p)\n", (void *)m, (void *)hole); return 1; }
  void *r = mremap(m, ps, 2 * ps, 0);
  if (r == MAP_FAILED) { printf("mremap in place: %s\n", strerror(errno)); return 1; }
  puts("grown in place");
  return 0;
}
