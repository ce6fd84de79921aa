// Segment planner (see plan.h). Works on page-aligned runs: a page is
// eligible only if a single extent (or physically contiguous extents)
// covers it, so every served page maps to one contiguous LBA range.
#include "resolver/plan.h"

#include <linux/fiemap.h>

namespace cmbmap {

int extent_reason(uint32_t f) {
  if (f & FIEMAP_EXTENT_UNKNOWN) return (f & FIEMAP_EXTENT_DELALLOC) ? CMBMAP_DELALLOC
                                                                    : CMBMAP_UNKNOWN_EXTENT;
  if (f & FIEMAP_EXTENT_DELALLOC) return CMBMAP_DELALLOC;
  if (f & (FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_DATA_ENCRYPTED)) return CMBMAP_ENCODED;
  if (f & (FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_DATA_TAIL)) return CMBMAP_INLINE;
  if (f & FIEMAP_EXTENT_NOT_ALIGNED) return CMBMAP_NOT_ALIGNED;
  if (f & FIEMAP_EXTENT_UNWRITTEN) return CMBMAP_UNWRITTEN;
  if (f & FIEMAP_EXTENT_SHARED) return CMBMAP_SHARED;
  return CMBMAP_ELIGIBLE;
}

namespace {

uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
uint64_t round_down(uint64_t v, uint64_t a) { return v / a * a; }

struct Builder {
  const PlanRequest& req;
  Plan* plan;
  size_t last_extent = SIZE_MAX;  // extent index of the last segment (inspect mode)

  void add(uint64_t off, uint64_t len, int reason, bool has_phys, uint64_t phys, uint32_t flags,
           size_t extent_index) {
    if (len == 0) return;
    if (plan->count > 0) {
      Segment& s = plan->segments[plan->count - 1];
      bool same_extent = extent_index == last_extent;
      bool contiguous = s.has_physical == has_phys && (!has_phys || s.physical + s.length == phys);
      if (s.reason == reason && s.offset + s.length == off && contiguous &&
          (req.merge_extents || same_extent || !has_phys)) {
        s.length += len;
        s.flags |= flags;
        if (reason == CMBMAP_ELIGIBLE) plan->eligible_bytes += len;
        return;
      }
    }
    if (plan->count == plan->capacity) {
      // Out of room: the rest of the mapping stays ordinary.
      Segment& s = plan->segments[plan->capacity - 1];
      if (s.reason == CMBMAP_ELIGIBLE) plan->eligible_bytes -= s.length;
      s.length = off + len - s.offset;
      s.reason = CMBMAP_TOO_FRAGMENTED;
      s.has_physical = false;
      return;
    }
    plan->segments[plan->count++] = Segment{off, len, phys, flags, has_phys, reason};
    if (reason == CMBMAP_ELIGIBLE) plan->eligible_bytes += len;
    last_extent = extent_index;
  }
};

}  // namespace

void plan_whole(const PlanRequest& req, int reason, Plan* plan) {
  plan->count = 0;
  plan->eligible_bytes = 0;
  Builder b{req, plan};
  b.add(req.offset, round_up(req.length, req.page_size), reason, false, 0, 0, SIZE_MAX);
}

namespace {

// A hole from cur up to the next extent (at next): its whole pages, or, when
// the next extent starts inside this page, that mixed page (not aligned).
// Returns where planning goes on.
uint64_t add_hole(Builder& b, uint64_t cur, uint64_t next, uint64_t limit, uint64_t page) {
  const uint64_t hole_end = round_down(next < limit ? next : limit, page);
  if (hole_end > cur) {
    b.add(cur, hole_end - cur, CMBMAP_HOLE, false, 0, 0, SIZE_MAX);
    return hole_end;
  }
  b.add(cur, page, CMBMAP_NOT_ALIGNED, false, 0, 0, SIZE_MAX);
  return cur + page;
}

// Reports the segment holding EOF only up to EOF (its last page is partial).
// A segment that runs on past EOF's page (a TOO_FRAGMENTED one that took in
// the rest of the mapping) keeps its bytes: cutting it would drop the pages
// wholly past EOF from the plan.
void cut_at_eof(uint64_t file_size, uint64_t eof_end, Plan* plan) {
  for (size_t k = 0; k < plan->count; ++k) {
    Segment& s = plan->segments[k];
    if (s.offset < file_size && s.offset + s.length > file_size && s.offset + s.length <= eof_end) {
      uint64_t cut = s.offset + s.length - file_size;
      if (s.reason == CMBMAP_ELIGIBLE) plan->eligible_bytes -= cut;
      s.length -= cut;
    }
  }
}

}  // namespace

void plan_mapping(const PlanRequest& req, const ExtentList& ex, Plan* plan) {
  plan->count = 0;
  plan->eligible_bytes = 0;
  Builder b{req, plan};
  const uint64_t page = req.page_size;
  const uint64_t lba = req.lba_size ? req.lba_size : 512;
  const uint64_t end = req.offset + round_up(req.length, page);
  const uint64_t eof_end = round_up(req.file_size, page);
  uint64_t cur = req.offset;
  size_t i = 0;  // first extent that may cover cur

  while (cur < end) {
    if (cur >= eof_end) {
      b.add(cur, end - cur, CMBMAP_EOF_TAIL, false, 0, 0, SIZE_MAX);
      break;
    }
    while (i < ex.count && ex.items[i].logical + ex.items[i].length <= cur) ++i;
    uint64_t limit = end < eof_end ? end : eof_end;

    if (i == ex.count && !ex.complete) {
      // The extent array ran out before the mapping did.
      b.add(cur, limit - cur, CMBMAP_TOO_FRAGMENTED, false, 0, 0, SIZE_MAX);
      cur = limit;
      continue;
    }
    if (i == ex.count || ex.items[i].logical > cur) {
      cur = add_hole(b, cur, i < ex.count ? ex.items[i].logical : limit, limit, page);
      continue;
    }

    const Extent& e = ex.items[i];
    uint64_t cover = e.logical + e.length;
    // Extents end on filesystem blocks; the one holding EOF covers the rest
    // of its last page (those bytes lie past EOF and are never file data).
    if (cover >= req.file_size) cover = eof_end;
    uint64_t run_end = round_down(cover < limit ? cover : limit, page);
    uint64_t phys = e.physical + (cur - e.logical);
    int reason = extent_reason(e.flags);
    if (reason == CMBMAP_ELIGIBLE && (cur % page != 0 || phys % lba != 0))
      reason = CMBMAP_NOT_ALIGNED;
    if (reason == CMBMAP_ELIGIBLE) reason = req.device_reason;
    if (run_end <= cur) {
      // The page is shared with whatever follows this extent.
      b.add(cur, page, CMBMAP_NOT_ALIGNED, false, 0, e.flags, i);
      cur += page;
      continue;
    }
    b.add(cur, run_end - cur, reason, true, phys, e.flags, i);
    cur = run_end;
  }

  cut_at_eof(req.file_size, eof_end, plan);
}

}  // namespace cmbmap
