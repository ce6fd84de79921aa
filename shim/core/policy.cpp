// Mapping-level policy (see policy.h).
#include "shim/core/policy.h"

#include <fcntl.h>
#include <sys/mman.h>

#include "cmbmap/cmbmap.h"

namespace cmbmap::policy {

bool shared(int flags) { return (flags & MAP_TYPE) == MAP_SHARED || (flags & MAP_TYPE) == MAP_SHARED_VALIDATE; }

int mapping_reason(const Options& o, bool at_secure, size_t len, int prot, int flags) {
  if (o.disable) return CMBMAP_DISABLED;
  if (at_secure) return CMBMAP_SETUID;
  if (len < o.min_size) return CMBMAP_TOO_SMALL;
  // p2pmem lives on a noexec sysfs file: it cannot hold code.
  if (prot & PROT_EXEC) return CMBMAP_EXECUTABLE;
  if (shared(flags) && (prot & PROT_WRITE) && !o.writable)
    return CMBMAP_WRITABLE_SHARED;
  // Stores into a private mapping are copy-on-write into host pages: the
  // CMB copy (MAP_SHARED by nature) must never see them.
  if (!shared(flags) && (prot & PROT_WRITE)) return CMBMAP_WRITABLE_PRIVATE;
  return CMBMAP_ELIGIBLE;
}

int writable_open_reason(int status_flags, bool kernel_has_noappend) {
  return (status_flags & O_APPEND) && !kernel_has_noappend ? CMBMAP_WRITE_APPEND : CMBMAP_ELIGIBLE;
}

bool protect_needs_revoke(int prot) { return prot & (PROT_WRITE | PROT_EXEC); }

bool advice_needs_revoke(int advice) {
  switch (advice) {
    case MADV_DONTNEED:
    case MADV_FREE:
    case MADV_REMOVE:
    // The kernel refuses it on device memory (EINVAL): the file mapping
    // takes it as it would without cmbmap.
    case MADV_DODUMP:
#ifdef MADV_DONTNEED_LOCKED
    case MADV_DONTNEED_LOCKED:
#endif
      return true;
    default:
      return false;
  }
}

}  // namespace cmbmap::policy
