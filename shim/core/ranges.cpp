// Mapping calls on served ranges and file-change notifications (see core.h).
// The registry is the source of truth for what cmbmap serves; a range leaves
// it before the kernel forgets it, so a racing fault never finds a stale entry.
#include <cerrno>
#include <sys/mman.h>

#include "../real.h"
#include "core.h"
#include "log.h"
#include "registry.h"

namespace cmbmap::core {

int unmap(void* addr, size_t len) {
  int saved = errno;
  size_t gone = registry::remove((uintptr_t)addr, len);
  log::Line(LogLevel::Debug).s("munmap ").x((uintptr_t)addr).s(" length ").u(len).s(": ")
      .size(gone).s(" of served range released").emit();
  errno = saved;
  return real::munmap(addr, len);
}

void* remap(void* old, size_t old_len, size_t new_len, int flags, void* new_addr) {
  // Served pages are device pages the kernel can move but not grow from the
  // file: give the range back to the page cache before the kernel remaps it.
  int saved = errno;
  registry::remove((uintptr_t)old, old_len);
  errno = saved;
  return real::mremap(old, old_len, new_len, flags, new_addr);
}

int protect(void* addr, size_t len, int prot) { return real::mprotect(addr, len, prot); }
int advise(void* addr, size_t len, int advice) { return real::madvise(addr, len, advice); }
int sync_range(void* addr, size_t len, int flags) { return real::msync(addr, len, flags); }

void file_changing(int fd) {
  if (!file_has_served(fd)) return;
  log::Line(LogLevel::Warn).s("fd ").i(fd).s(" changes a file with served ranges; ")
      .s("this build keeps no served ranges to revoke").emit();
}

void path_changing(int dirfd, const char* path) {
  if (!path_has_served(dirfd, path)) return;
  log::Line(LogLevel::Warn).s(path).s(" changes while served; ")
      .s("this build keeps no served ranges to revoke").emit();
}

}  // namespace cmbmap::core
