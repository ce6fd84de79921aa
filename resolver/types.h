// Shared resolver types: extents as the filesystem reports them, the NVMe
// target a block device resolves to, and the per-segment plan. Plain structs
// with fixed-size storage so the shim can use them without touching the heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

#include "cmbmap/cmbmap.h"

namespace cmbmap {

// One FIEMAP extent, in bytes.
struct Extent {
  uint64_t logical;
  uint64_t physical;
  uint64_t length;
  uint32_t flags;  // FIEMAP_EXTENT_*
};

// CMB geometry decoded from the controller's CMBLOC/CMBSZ registers.
struct CmbInfo {
  bool present;
  uint64_t size;    // bytes
  uint32_t bar;     // BIR: which PCI BAR holds the CMB
  uint64_t offset;  // byte offset inside that BAR
  bool sqs, cqs, lists, rds, wds;
};

// The p2pmem pool a P2PDMA kernel publishes for a PCI function.
struct P2pmemInfo {
  bool present;
  uint64_t size;
  uint64_t available;
  bool published;
};

constexpr size_t kNameMax = 64;
constexpr size_t kPathMax = 256;

// Where a block device lives: namespace, controller, PCI function, CMB.
struct NvmeTarget {
  int reason;                        // CMBMAP_ELIGIBLE or a device-level reason
  char controller[kNameMax];         // "nvme0"
  char namespace_name[kNameMax];     // "nvme0n1"
  char pci[kNameMax];                // "0000:01:00.0"
  char pci_path[kPathMax];           // sysfs dir of the PCI function
  uint32_t nsid;
  uint32_t lba_size;                 // logical block size in bytes
  uint64_t partition_start;          // bytes from namespace start
  CmbInfo cmb;
  P2pmemInfo p2pmem;
};

// One range of a requested mapping with its placement or reason.
struct Segment {
  uint64_t offset;    // file offset
  uint64_t length;    // bytes (page multiple except possibly at EOF)
  uint64_t physical;  // byte offset on the namespace (valid if has_physical)
  uint32_t flags;     // FIEMAP flags of the covering extent (0 for holes)
  bool has_physical;
  int reason;         // CMBMAP_ELIGIBLE or why not
};

}  // namespace cmbmap
