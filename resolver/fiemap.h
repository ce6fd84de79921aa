// File → extents through the FIEMAP ioctl, into a caller-provided array.
#pragma once

#include <cstddef>

#include "resolver/types.h"

namespace cmbmap {

struct ExtentList {
  Extent* items;
  size_t capacity;
  size_t count;
  bool complete;  // false: the range holds more extents than capacity
};

// Extents of fd overlapping [start, start+length). With sync, the kernel
// flushes delayed allocation first (FIEMAP_FLAG_SYNC) so that LBAs exist.
// Returns 0 or -errno (e.g. -EOPNOTSUPP on filesystems without FIEMAP).
int fetch_extents(int fd, uint64_t start, uint64_t length, bool sync, ExtentList* out);

// True if any extent carries FIEMAP_EXTENT_DELALLOC.
bool has_delalloc(const ExtentList& list);

// The commit check: true if the file's block addresses are its bytes
// (blocks_reason, fsfacts.h) and each segment's bytes still live in one
// extent at the segment's physical offset, written and not shared. NVMe
// commands on those blocks then read or write the file's bytes.
bool segments_in_place(int fd, const Segment* segs, size_t n);

}  // namespace cmbmap
