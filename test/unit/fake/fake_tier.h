// The fake CMB tier for host tests: shim/tier/p2pmem.h implemented with
// memfd-backed shared memory instead of a controller's p2pmem pool, so the
// served path (fill, serve's gates, revocation, dirty tracking, writeback,
// the watcher) runs on any Linux host in seconds. Like p2pmem, every allocate
// is a fresh allocation with an identity of its own in /proc/self/maps, its
// pages are NOT zeroed (they are filled with kPoison, so a test sees any byte
// cmbmap forgot to fill), and a pool size can run out (CMB_FULL). Like the
// pool, it remembers what was left in memory after it was unmapped:
// leftover() counts those bytes (the scrub on release must leave none).
#pragma once

#include <cstddef>
#include <cstdint>

namespace cmbmap::fake_tier {

constexpr uint8_t kPoison = 0xA5;

void reset();                  // unlimited pool, access allowed
void set_pool(size_t bytes);   // allocate fails with CMB_FULL past this (0: unlimited)
void deny(bool denied);        // allocate fails with NO_PERMISSION
void unwritable(bool on);      // the memory allocate gives refuses the fill's DMA (EFAULT)
size_t held();                 // fake CMB bytes mapped in this process now
bool is_cmb(const void* addr); // addr lies in fake CMB memory
// Bytes not zero in fake CMB memory that is mapped nowhere any more (since
// the last reset): what the next allocation from a real pool would see.
size_t leftover();

}  // namespace cmbmap::fake_tier
