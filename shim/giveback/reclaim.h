// Giving CMB back when someone else needs it: the filesystem (a lease
// break), another user of the device (`cmbmap reclaim`), or a new mapping of
// this process (CMBMAP_BUDGET, a full CMB). Whatever the cause, ranges go
// back to ordinary file pages in place (revoke.h), least recently used first
// (a range is stamped when it is served, and when a mapping call touches it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

namespace cmbmap::reclaim {

// Least recently used ranges on controller slot ctrl (-1: any), outside
// [keep, keep+keep_len) and last used before used_before, are given back
// until `bytes` are; returns the bytes given back.
size_t evict(int ctrl, uint64_t bytes, uintptr_t keep, size_t keep_len, int cause,
             uint64_t used_before = UINT64_MAX);
// A lease break signal, or time to look for one (the watcher): the files
// whose lease the kernel is breaking are given back and their leases released.
void lease_breaks();
// A `cmbmap reclaim` request, or another process's for room in a full CMB
// (common/watcher_message.h), sent by process `from`.
void requested(uint64_t message, pid_t from);
// This process's part in sharing the CMB (CMBMAP_SHARE, CMBMAP_SHARE_GRACE_MS):
// whether it gives to other processes at all, and what it keeps (ranges used
// within grace_ms).
void set_share(bool enabled, uint64_t grace_ms);

}  // namespace cmbmap::reclaim
