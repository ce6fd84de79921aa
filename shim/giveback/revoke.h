// Giving served ranges back to ordinary file pages, in place. The file is
// mapped with the protection and sharing the program asked for and swapped
// in for the served piece: afterwards the range is exactly the ordinary file
// mapping the kernel would have made, and the CMB pages go back to the pool
// zeroed (scrub.h). Stores still in CMB memory are written back first
// (writeback.h, Freeze).
//
// Every function takes the served-ranges lock itself (recursive) and keeps
// errno. `cause` is a cmbmap_reason for statistics and the log; 0 when the
// process is leaving (exit, exec): not a revocation, nothing counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

namespace cmbmap::revoke {

// Gives back the served pieces in [addr, addr+len); returns the bytes given
// back (0 for an unaligned addr: the kernel refuses such calls anyway).
size_t range(const void* addr, size_t len, int cause);
// Every served range of one file; every served range.
size_t file(dev_t dev, ino_t ino, int cause);
size_t all(int cause);
// Every served range of one file, then its lease is released (a break is
// answered, or the lease must not outlive what the program is about to do).
size_t file_and_lease(dev_t dev, ino_t ino, int cause);
// Every file held under a write lease, whose lease is then released: before
// fork, spawn, exec and exit (nobody would answer a break, or the child
// shares the open file and could write through it unseen).
void write_leased_files();
// The program is about to unmap [addr, addr+len): the CMB pages there are
// moved out of its sight and scrubbed now (the call then unmaps a hole),
// still registered until forget().
void scrub_before_unmap(const void* addr, size_t len);
// The kernel already replaced or removed [addr, addr+len) (munmap,
// MAP_FIXED, mremap): forget it; returns the bytes dropped.
size_t forget(const void* addr, size_t len);
// In a forked child: every inherited range back to file pages, quietly (the
// child's statistics start from zero). Returns the bytes given back.
size_t inherited();

}  // namespace cmbmap::revoke
