// Mapping-level policy (see policy.h).
#include "policy.h"

#include <sys/mman.h>

#include "cmbmap/cmbmap.h"

namespace cmbmap::policy {

int mapping_reason(const Options& o, bool at_secure, size_t len, int prot, int flags) {
  if (o.disable) return CMBMAP_DISABLED;
  if (at_secure) return CMBMAP_SETUID;
  if (len < o.min_size) return CMBMAP_TOO_SMALL;
  // MAP_PRIVATE stores are copy-on-write into anonymous pages; only shared
  // writable mappings would store into device memory.
  if ((flags & MAP_TYPE) == MAP_SHARED && (prot & PROT_WRITE) && !o.writable)
    return CMBMAP_WRITABLE_SHARED;
  return CMBMAP_ELIGIBLE;
}

int outcome(int planned) { return planned == CMBMAP_ELIGIBLE ? CMBMAP_NO_DATA_PATH : planned; }

}  // namespace cmbmap::policy
