// Mapping-level policy: whether a requested mapping may be considered at all,
// before any file or device is looked at. Pure, so every reason it gives is
// unit-tested.
#pragma once

#include <cstddef>

#include "common/options.h"

namespace cmbmap::policy {

// MAP_SHARED or MAP_SHARED_VALIDATE: stores reach the file.
bool shared(int flags);

// DISABLED, SETUID, TOO_SMALL, EXECUTABLE, WRITABLE_SHARED,
// WRITABLE_PRIVATE or ELIGIBLE, in that order of precedence.
int mapping_reason(const Options& opts, bool at_secure, size_t len, int prot, int flags);

// A writable shared mapping of an open file with these status flags
// (F_GETFL): WRITE_APPEND if its writeback through the file cannot write at
// an offset (O_APPEND without RWF_NOAPPEND: Linux before 6.9), else ELIGIBLE.
int writable_open_reason(int status_flags, bool kernel_has_noappend);

// Whether changing a served range's protection to prot must first give it
// back to the page cache: any write or exec permission (copy-on-write for
// private mappings, the kernel's own EACCES check for shared ones).
bool protect_needs_revoke(int prot);

// Whether madvise(advice) on a served range must first give it back: advice
// that drops pages, which must then read the file's bytes again.
bool advice_needs_revoke(int advice);

}  // namespace cmbmap::policy
