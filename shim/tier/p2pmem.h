// The CMB tier: device memory from a controller's p2pmem pool, mapped into
// the process. Every mmap of p2pmem/allocate is a fresh allocation whose
// pages go back to the pool as they are unmapped; nothing is zeroed by the
// kernel (the caller fills or zeroes every byte before anyone can read it).
#pragma once

#include <cstddef>
#include <sys/types.h>

namespace cmbmap::p2pmem {

// Allocates len bytes of CMB memory, read-write, at an address of the
// kernel's choice: never over the program's memory. The caller fills it
// there, out of every reader's sight, and then moves it over the program's
// mapping (mremap) or releases it (scrub::release): a reader of the
// program's mapping sees the file's pages until the filled memory replaces
// them, never the pool's leftovers. Returns CMBMAP_ELIGIBLE with *aside set,
// else the reason: NO_PERMISSION (allocate not accessible), CMB_FULL (pool
// exhausted) or NO_P2PDMA (no allocate file).
// *id gets the identity (st_dev, st_ino) the mapping shows in /proc/self/maps.
struct Identity { dev_t dev; ino_t ino; };
int allocate(const char* pci_path, size_t len, void** aside, Identity* id);

// True if this process may allocate from the controller (for `devices`).
bool accessible(const char* pci_path);

}  // namespace cmbmap::p2pmem
