// Mapping-level policy: whether a requested mapping may be considered at all,
// before any file or device is looked at. Pure, so every reason it gives is
// unit-tested.
#pragma once

#include <cstddef>

#include "options.h"

namespace cmbmap::policy {

// DISABLED, SETUID, TOO_SMALL, WRITABLE_SHARED or ELIGIBLE.
int mapping_reason(const Options& opts, bool at_secure, size_t len, int prot, int flags);

// What becomes of a planned segment in this build: eligible ranges are
// reported as NO_DATA_PATH (planned, not served), others keep their reason.
int outcome(int planned_reason);

}  // namespace cmbmap::policy
