// Block device → NVMe namespace → controller → PCI function → CMB/p2pmem,
// read from sysfs under a given root ("/sys", or a fixture tree in tests).
#pragma once

#include <sys/types.h>

#include "resolver/types.h"

namespace cmbmap {

// Resolves the block device dev (st_dev of a file) under sysfs_root.
// Never fails: the verdict is in target->reason.
void resolve_block_device(const char* sysfs_root, dev_t dev, NvmeTarget* target);

// The kernel's name of block device dev ("nvme0n1p1", "loop0": the basename
// of sysfs_root/dev/block/MAJ:MIN); false for an anonymous device or none.
bool block_device_name(const char* sysfs_root, dev_t dev, char* name, size_t cap);

// Fills the controller-level fields (controller, pci, pci_path, cmb, p2pmem,
// reason) from a controller's sysfs dir, e.g. "/sys/class/nvme/nvme0".
void resolve_controller(const char* ctrl_dir, NvmeTarget* target);

// Normalises "a/b/../c/./d" in place (no symlink resolution).
void normalize_path(char* path);

}  // namespace cmbmap
