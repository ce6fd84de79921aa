/* Stores the kernel makes into a writable shared mapping on the program's
 * behalf, by paths cmbmap never sees: an io_uring read, an AIO read, a raw
 * read(2) system call and an ioctl's output. Each goes to a page nothing
 * has stored to yet (a clean page, if the mapping is served and tracked).
 *
 *   kstores FILE SRC   FILE: at least 16 pages, mapped MAP_SHARED read-write;
 *                      SRC: at least 4 pages whose bytes are read into it.
 * stdout: "PATH RESULT" per path (bytes, or -errno); then the mapping is
 * msync'd and unmapped. stderr: "served BYTES" (p2pmem in /proc/self/maps).
 * Where each path stored: page 3 (io_uring), 5 (AIO), 7 (read), 9 (ioctl),
 * each at offset 0, the bytes of SRC's page 0, 1, 2 and the int 4096 (a
 * pipe holding that many bytes, FIONREAD). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "probe.h"

static long uring_read(int src, void *dst, size_t len, off_t off) {
  struct io_uring ring;
  int r = io_uring_queue_init(4, &ring, 0);
  if (r < 0) return r;
  struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
  io_uring_prep_read(sqe, src, dst, (unsigned)len, (unsigned long long)off);
  io_uring_submit(&ring);
  struct io_uring_cqe *cqe;
  r = io_uring_wait_cqe(&ring, &cqe);
  long res = r < 0 ? r : cqe->res;
  if (r == 0) io_uring_cqe_seen(&ring, cqe);
  io_uring_queue_exit(&ring);
  return res;
}

static long aio_read(int src, void *dst, size_t len, off_t off) {
  aio_context_t ctx = 0;
  if (syscall(SYS_io_setup, 1, &ctx) < 0) return -errno;
  struct iocb cb;
  memset(&cb, 0, sizeof cb);
  cb.aio_fildes = (unsigned)src;
  cb.aio_lio_opcode = IOCB_CMD_PREAD;
  cb.aio_buf = (uint64_t)(uintptr_t)dst;
  cb.aio_nbytes = len;
  cb.aio_offset = off;
  struct iocb *list[1] = {&cb};
  long res;
  if (syscall(SYS_io_submit, ctx, 1, list) != 1) {
    res = -errno;
  } else {
    struct io_event ev;
    res = syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) == 1 ? (long)ev.res : -errno;
  }
  syscall(SYS_io_destroy, ctx);
  return res;
}

static long raw_read(int src, void *dst, size_t len, off_t off) {
  if (lseek(src, off, SEEK_SET) < 0) return -errno;
  long n = syscall(SYS_read, src, dst, len);
  return n < 0 ? -errno : n;
}

static long ioctl_out(void *dst) {
  int p[2];
  if (pipe(p) != 0) return -errno;
  static char fill[4096];
  long res = write(p[1], fill, sizeof fill) == (long)sizeof fill ? 0 : -EIO;
  if (res == 0 && ioctl(p[0], FIONREAD, (int *)dst) != 0) res = -errno;
  close(p[0]);
  close(p[1]);
  return res == 0 ? (long)sizeof(int) : res;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: kstores FILE SRC\n");
    return 2;
  }
  const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  int fd = open(argv[1], O_RDWR);
  int src = open(argv[2], O_RDONLY);
  if (fd < 0 || src < 0) {
    perror("open");
    return 1;
  }
  const size_t len = 16 * pg;
  unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  fprintf(stderr, "served %zu\n", cmb_bytes(m, len));
  printf("io_uring %ld\n", uring_read(src, m + 3 * pg, pg, 0));
  printf("aio %ld\n", aio_read(src, m + 5 * pg, pg, (off_t)pg));
  printf("read %ld\n", raw_read(src, m + 7 * pg, pg, 2 * (off_t)pg));
  printf("ioctl %ld\n", ioctl_out(m + 9 * pg));
  fflush(stdout);
  if (msync(m, len, MS_SYNC) != 0) {
    perror("msync");
    return 1;
  }
  munmap(m, len);
  return 0;
}
