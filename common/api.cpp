// The public C API of include/cmbmap/cmbmap.h: the one name table for enum
// cmbmap_reason, the version, and a copy of this process's statistics.
#include "cmbmap/cmbmap.h"

#include <cstddef>
#include <cstring>
#include "common/export.h"
#include "common/stats.h"
#include "prim/prim.h"

namespace {
constexpr const char* kNames[] = {
    "ELIGIBLE",       "DISABLED",         "SETUID",        "TOO_SMALL",
    "NOT_REGULAR",    "WRITABLE_SHARED",  "WRITABLE_PRIVATE", "EXECUTABLE", "NO_NVME", "MULTI_DEVICE",
    "NO_CMB",         "CMB_NO_READ_DATA", "NO_P2PDMA",     "DEVICE_NOT_ALLOWED",
    "HOLE",           "UNWRITTEN",        "DELALLOC",      "INLINE",
    "SHARED",         "ENCODED",          "NOT_ALIGNED",   "EOF_TAIL",
    "FIEMAP_FAILED",  "TOO_FRAGMENTED",   "UNKNOWN_EXTENT", "OPEN_FOR_WRITE",
    "NO_PERMISSION",  "CMB_FULL",         "BUDGET",        "MAP_COUNT",
    "FILL_FAILED",    "REMAPPED",         "LEASE_DENIED",  "LEASE_BROKEN",
    "FILE_CHANGED",   "RECLAIMED",        "WRITE_LEASE_DENIED", "MAPPED_TWICE",
    "ENCRYPTED",      "REALTIME_DEVICE",  "JOURNALLED_DATA", "FS_NOT_SUPPORTED",
    "WRITE_APPEND",   "TAKEN_BY_PEER",    "NO_FD",
};
static_assert(sizeof kNames / sizeof kNames[0] == CMBMAP_REASON_COUNT, "reason table out of date");
static_assert(CMBMAP_REASON_COUNT <= sizeof(cmbmap_stats::fallback_by_reason) / sizeof(uint64_t),
              "cmbmap_stats.fallback_by_reason too small");
static_assert(CMBMAP_REASON_COUNT <= sizeof(cmbmap_stats::revoked_by_reason) / sizeof(uint64_t),
              "cmbmap_stats.revoked_by_reason too small");
static_assert(CMBMAP_ENCRYPTED == 38 && CMBMAP_WRITE_APPEND == 42, "reason values are stable: append only");
}  // namespace

CMBMAP_EXPORT const char* cmbmap_reason_name(int reason) {
  return reason >= 0 && reason < CMBMAP_REASON_COUNT ? kNames[reason] : "INVALID";
}

CMBMAP_EXPORT const char* cmbmap_version(void) { return CMBMAP_VERSION_STRING; }

CMBMAP_EXPORT int cmbmap_read_stats(cmbmap_stats* out, size_t size) {
  if (!out) return -1;
  cmbmap_stats now = *cmbmap::stats::get();
  now.magic = CMBMAP_STATS_MAGIC;
  now.pid = (uint64_t)cmbmap::prim::pid();
  const size_t ours = sizeof now < size ? sizeof now : size;
  memcpy(out, &now, ours);
  if (size > ours) memset((char*)out + ours, 0, size - ours);
  return 0;
}

// The struct as it was before the sharing fields: what programs built
// against that header pass (copying more overran their stack).
constexpr size_t kStatsBeforeSharing = offsetof(cmbmap_stats, share_requests);

CMBMAP_EXPORT int cmbmap_get_stats(cmbmap_stats* out) { return cmbmap_read_stats(out, kStatsBeforeSharing); }
