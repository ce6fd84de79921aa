// File → plan: the glue that asks the filesystem (fstat, fstatfs, FIEMAP) and
// sysfs (device.h) about one open file and runs the planner over a range.
#pragma once

#include <sys/stat.h>

#include "resolver/plan.h"
#include "resolver/types.h"

namespace cmbmap {

struct FileFacts {
  struct stat st;
  // The filesystem's verdict, the same for every file of st_dev: NOT_REGULAR,
  // MULTI_DEVICE, FS_NOT_SUPPORTED, JOURNALLED_DATA (an ext4 data=journal
  // mount), else ELIGIBLE (fsfacts.h).
  int file_reason;
  // This inode's own (valid when file_reason == ELIGIBLE): ENCRYPTED,
  // REALTIME_DEVICE, JOURNALLED_DATA (chattr +j), else ELIGIBLE.
  int inode_reason;
  NvmeTarget target;  // valid when file_reason == ELIGIBLE
};

// Facts about fd. Returns 0, or -errno if fstat fails.
int resolve_file(const char* sysfs_root, int fd, FileFacts* facts);

// The verdict for every file of st_dev: file_reason, else the device's. The
// shim keeps it per st_dev (machine::remember_unusable), so it never holds
// an inode's reason.
int device_reason(const FileFacts& facts);

// The verdict for this whole file before looking at extents: file_reason,
// else inode_reason, else the device's. Plans and `cmbmap inspect` use it.
int file_verdict(const FileFacts& facts);

// Plans [offset, offset+length) of fd. With detail, extents are fetched even
// when the device cannot serve (inspect shows per-extent reasons); without,
// an ineligible device short-cuts to one segment (the shim's fast path).
// scratch holds the extents (the caller owns the storage).
void plan_file(int fd, const FileFacts& facts, uint64_t offset, uint64_t length, bool detail,
               bool merge_extents, ExtentList* scratch, Plan* plan);

}  // namespace cmbmap
