// O_DIRECT pread fill engine (see fill.h).
#include "fill.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace cmbmap::fill {
namespace {

constexpr size_t kChunk = 512 << 10;  // one request per chunk; the block layer splits at MDTS

uint64_t now_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int reopen_direct(int fd) {
  char path[32] = "/proc/self/fd/";
  char tmp[12];
  int k = 0, n = 14;
  for (unsigned v = (unsigned)fd; k == 0 || v; v /= 10) tmp[k++] = (char)('0' + v % 10);
  while (k) path[n++] = tmp[--k];
  path[n] = '\0';
  return (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_DIRECT | O_CLOEXEC);
}

// Device memory takes 1-8 byte accesses; keep the stores plain (no vector
// instructions, which have faulted on emulated CMBs).
void zero(volatile uint8_t* p, size_t n) {
  while (n && ((uintptr_t)p & 7)) { *p++ = 0; --n; }
  auto* q = reinterpret_cast<volatile uint64_t*>(const_cast<uint8_t*>(p));
  for (; n >= 8; n -= 8) *q++ = 0;
  p = reinterpret_cast<volatile uint8_t*>(q);
  while (n--) *p++ = 0;
}

}  // namespace

Result pread_direct(int fd, void* dst, uint64_t off, size_t len, uint64_t file_size) {
  Result r{};
  uint64_t t0 = now_ns();
  int saved = errno;
  int dfd = reopen_direct(fd);
  if (dfd < 0) { r.err = errno; errno = saved; return r; }
  uint64_t want = off >= file_size ? 0 : (file_size - off < len ? file_size - off : len);
  auto* out = static_cast<uint8_t*>(dst);
  while (r.read < want) {
    size_t n = len - r.read < kChunk ? len - r.read : kChunk;
    long got = syscall(SYS_pread64, dfd, out + r.read, n, off + r.read);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    r.read += (uint64_t)got;
    if ((size_t)got < n) break;  // end of file (or a short read we refuse below)
  }
  syscall(SYS_close, dfd);
  if (r.read < want) {
    r.err = r.read == 0 && errno ? errno : EIO;
  } else {
    // Whatever the device held past EOF in the last page is not the file's.
    r.zeroed = len - want;
    zero(out + want, (size_t)r.zeroed);
    r.read = want;
  }
  errno = saved;
  r.ns = now_ns() - t0;
  return r;
}

}  // namespace cmbmap::fill
