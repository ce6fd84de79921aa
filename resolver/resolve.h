// File → plan: the glue that asks the filesystem (fstat, fstatfs, FIEMAP) and
// sysfs (device.h) about one open file and runs the planner over a range.
#pragma once

#include <sys/stat.h>

#include "resolver/plan.h"
#include "resolver/types.h"

namespace cmbmap {

struct FileFacts {
  struct stat st;
  int file_reason;    // NOT_REGULAR / MULTI_DEVICE from the file alone, else ELIGIBLE
  NvmeTarget target;  // valid when file_reason == ELIGIBLE
};

// Facts about fd. Returns 0, or -errno if fstat fails.
int resolve_file(const char* sysfs_root, int fd, FileFacts* facts);

// The verdict for the whole file before looking at extents.
int device_reason(const FileFacts& facts);

// Plans [offset, offset+length) of fd. With detail, extents are fetched even
// when the device cannot serve (inspect shows per-extent reasons); without,
// an ineligible device short-cuts to one segment (the shim's fast path).
// scratch holds the extents (the caller owns the storage).
void plan_file(int fd, const FileFacts& facts, uint64_t offset, uint64_t length, bool detail,
               bool merge_extents, ExtentList* scratch, Plan* plan);

}  // namespace cmbmap
