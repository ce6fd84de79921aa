// /proc/self questions (see openfiles.h).
#include "openfiles.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../resolver/prim.h"
#include "../../resolver/text.h"

namespace cmbmap::openfiles {
size_t map_count() {
  int fd = prim::open_read("/proc/self/maps");
  if (fd < 0) return 0;
  char buf[4096];
  size_t lines = 0;
  for (long n; (n = prim::read_fd(fd, buf, sizeof buf)) > 0;)
    for (long i = 0; i < n; ++i) lines += buf[i] == '\n';
  prim::close_fd(fd);
  return lines;
}

size_t max_map_count() {
  static size_t cached;
  if (!cached) {
    char buf[32];
    uint64_t v = 65530;  // the kernel default
    if (prim::read_text("/proc/sys/vm/max_map_count", buf, sizeof buf) > 0) text::parse_u64(buf, &v);
    cached = (size_t)v;
  }
  return cached;
}

void proc_fd_path(int fd, char* out) {
  static const char kPrefix[] = "/proc/self/fd/";
  size_t n = 0;
  for (; kPrefix[n]; ++n) out[n] = kPrefix[n];
  char tmp[12];
  int k = 0;
  for (unsigned v = (unsigned)fd; k == 0 || v; v /= 10) tmp[k++] = (char)('0' + v % 10);
  while (k) out[n++] = tmp[--k];
  out[n] = '\0';
}

size_t page_size() { return (size_t)sysconf(_SC_PAGESIZE); }
size_t page_round_up(size_t len) { return (len + page_size() - 1) / page_size() * page_size(); }
bool page_aligned(const void* addr) { return ((uintptr_t)addr & (page_size() - 1)) == 0; }

}  // namespace cmbmap::openfiles
