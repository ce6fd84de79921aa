// NVMe commands on the blocks behind a file, passed through io_uring to the
// namespace's generic char device (/dev/ngXnY) with the resolver's LBAs:
// the drive DMAs between its blocks and the buffer (CMB memory), so the data
// never passes through host RAM. Only ever on the blocks a plan named, and
// only after the caller has checked they are still the file's.
#pragma once

#include <cstddef>
#include <cstdint>

#include "resolver/types.h"

namespace cmbmap::nvme {

// True if this process can send commands to the namespace (access to its
// char device, io_uring available).
bool available(const NvmeTarget& t);

// NVMe reads into dst / writes from src for the file bytes [off, off+len),
// through the blocks the segments name (each physically contiguous),
// LBA-rounded (the last block is moved whole) and split at MDTS.
// 0 or an errno; ENODEV if passthrough is not available here.
int read_blocks(const NvmeTarget& t, const Segment* segs, size_t nsegs, void* dst, uint64_t off, size_t len);
int write_blocks(const NvmeTarget& t, const Segment* segs, size_t nsegs, const void* src, uint64_t off,
                 size_t len);
// An NVMe Flush of the namespace: what was written is durable.
int flush(const NvmeTarget& t);

}  // namespace cmbmap::nvme
