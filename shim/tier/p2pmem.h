// The CMB tier: device memory from a controller's p2pmem pool, mapped into
// the process. Every mmap of p2pmem/allocate is a fresh allocation whose
// pages go back to the pool as they are unmapped; nothing is zeroed by the
// kernel (the caller fills or zeroes every byte before anyone can read it).
#pragma once

#include <cstddef>
#include <sys/types.h>

namespace cmbmap::p2pmem {

// Maps len bytes of CMB memory read-write at exactly `at` (MAP_FIXED over
// whatever is there). Returns CMBMAP_ELIGIBLE on success, else the reason:
// NO_PERMISSION (allocate not accessible), CMB_FULL (pool exhausted) or
// NO_P2PDMA (no allocate file). After a failed MAP_FIXED the range may be
// unmapped: the caller maps the file back over it.
// *id gets the identity (st_dev, st_ino) the mapping shows in /proc/self/maps.
struct Identity { dev_t dev; ino_t ino; };
int map_at(const char* pci_path, void* at, size_t len, Identity* id);

// True if this process may allocate from the controller (for `devices`).
bool accessible(const char* pci_path);

}  // namespace cmbmap::p2pmem
