// Interposers for the mapping calls: mmap, munmap, mremap, mprotect,
// madvise, msync. Each asks the core and forwards; no policy here.
#include <cstdarg>
#include <sys/mman.h>

#include "shim/core/core.h"
#include "common/export.h"
#include "shim/real.h"

using namespace cmbmap;

CMBMAP_EXPORT void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  // Anonymous memory (malloc's arenas included) never reaches the core,
  // unless it is placed over a range cmbmap serves.
  if ((flags & MAP_ANONYMOUS) || fd < 0) {
    if (!(flags & MAP_FIXED)) return real::mmap(addr, len, prot, flags, fd, off);
    core::Scope scope;
    if (!scope.on() || !core::range_is_ours(addr, len)) return real::mmap(addr, len, prot, flags, fd, off);
    return core::map_anonymous_over(addr, len, prot, flags, fd, off);
  }
  core::Scope scope;
  if (!scope.on()) return real::mmap(addr, len, prot, flags, fd, off);
  return core::map_file(addr, len, prot, flags, fd, off);
}

CMBMAP_EXPORT void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  return mmap(addr, len, prot, flags, fd, off);
}

CMBMAP_EXPORT int munmap(void* addr, size_t len) {
  core::Scope scope;
  if (!scope.on() || !core::range_is_ours(addr, len)) return real::munmap(addr, len);
  return core::unmap(addr, len);
}

CMBMAP_EXPORT void* mremap(void* old, size_t old_len, size_t new_len, int flags, ...) {
  void* new_addr = nullptr;
  if (flags & MREMAP_FIXED) {
    va_list ap;
    va_start(ap, flags);
    new_addr = va_arg(ap, void*);
    va_end(ap);
  }
  core::Scope scope;
  // old_len 0 duplicates new_len bytes of the mapping at old.
  if (!scope.on() || (!core::range_is_ours(old, old_len ? old_len : new_len) &&
                      !((flags & MREMAP_FIXED) && core::range_is_ours(new_addr, new_len))))
    return real::mremap(old, old_len, new_len, flags, new_addr);
  return core::remap(old, old_len, new_len, flags, new_addr);
}

CMBMAP_EXPORT int mprotect(void* addr, size_t len, int prot) {
  core::Scope scope;
  if (!scope.on()) return real::mprotect(addr, len, prot);
  if (!core::range_is_ours(addr, len)) {
    core::protect_other(addr, len, prot);
    return real::mprotect(addr, len, prot);
  }
  return core::protect(addr, len, prot);
}

// pkey_mprotect is mprotect with a protection key: the same rules, or a
// served read-only range could be made writable past the fd's permission.
CMBMAP_EXPORT int pkey_mprotect(void* addr, size_t len, int prot, int pkey) {
  core::Scope scope;
  if (!scope.on()) return real::pkey_mprotect(addr, len, prot, pkey);
  if (!core::range_is_ours(addr, len)) {
    core::protect_other(addr, len, prot);
    return real::pkey_mprotect(addr, len, prot, pkey);
  }
  return core::protect(addr, len, prot, pkey);
}

CMBMAP_EXPORT int madvise(void* addr, size_t len, int advice) {
  core::Scope scope;
  if (!scope.on()) return real::madvise(addr, len, advice);
  if (!core::range_is_ours(addr, len)) {
    if (advice == MADV_REMOVE) core::punching(addr, len);
    return real::madvise(addr, len, advice);
  }
  return core::advise(addr, len, advice);
}

CMBMAP_EXPORT int mlock2(const void* addr, size_t len, unsigned flags) {
  core::Scope scope;
  if (!scope.on() || !core::range_is_ours(const_cast<void*>(addr), len)) return real::mlock2(addr, len, flags);
  return core::lock(addr, len, flags);
}

CMBMAP_EXPORT int mlock(const void* addr, size_t len) { return mlock2(addr, len, 0); }

// The registry keeps MAP_LOCKED for served ranges (msync, madvise answer
// from it): an unlock clears it.
CMBMAP_EXPORT int munlock(const void* addr, size_t len) {
  core::Scope scope;
  if (!scope.on() || !core::range_is_ours(const_cast<void*>(addr), len)) return real::munlock(addr, len);
  return core::unlock(addr, len);
}

CMBMAP_EXPORT int msync(void* addr, size_t len, int flags) {
  core::Scope scope;
  if (!scope.on() || !core::range_is_ours(addr, len)) return real::msync(addr, len, flags);
  return core::sync_range(addr, len, flags);
}
