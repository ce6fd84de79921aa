// The per-segment planner: given a mapping request, the file's extents and
// the device verdict, split the mapping into segments that each get either a
// placement (ELIGIBLE + physical offset) or a reason. Pure: no I/O.
#pragma once

#include <cstddef>

#include "resolver/fiemap.h"
#include "resolver/types.h"

namespace cmbmap {


struct PlanRequest {
  uint64_t offset;     // file offset of the mapping (page aligned)
  uint64_t length;     // mapping length in bytes
  uint64_t file_size;  // st_size at planning time
  uint32_t page_size;
  uint32_t lba_size;   // namespace logical block size (0: unknown → 512)
  int device_reason;   // verdict for the device the file lives on
  bool merge_extents;  // true: merge physically contiguous extents (serving);
                       // false: one segment per extent run (inspect)
};

// The caller owns the segment storage (the shim: a small stack array).
struct Plan {
  Segment* segments;
  size_t capacity;      // >= 1
  size_t count;
  uint64_t eligible_bytes;
};

// Fills plan for req. Extents must be sorted by logical offset (FIEMAP order).
void plan_mapping(const PlanRequest& req, const ExtentList& extents, Plan* plan);

// The reason an extent's flags alone impose (ELIGIBLE if none).
int extent_reason(uint32_t fiemap_flags);

// A plan whose every byte carries one reason (process- or mapping-level).
void plan_whole(const PlanRequest& req, int reason, Plan* plan);

}  // namespace cmbmap
