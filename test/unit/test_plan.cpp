// The per-segment planner: each extent shape gets the right reason, pages
// are never split between extents, and the plan covers the mapping exactly.
#include <criterion/criterion.h>
#include <linux/fiemap.h>

#include "resolver/plan.h"

using namespace cmbmap;

namespace {
constexpr uint64_t P = 4096;

struct Fixture {
  Segment segs[64];
  Plan plan{segs, 64, 0, 0};
};

Plan* run(Fixture& f, uint64_t off, uint64_t len, uint64_t size, Extent* ex, size_t n,
          int device = CMBMAP_ELIGIBLE, bool complete = true, bool merge = true) {
  ExtentList list{ex, n, n, complete};
  PlanRequest req{off, len, size, (uint32_t)P, 512, device, merge};
  plan_mapping(req, list, &f.plan);
  return &f.plan;
}

void expect(const Plan* p, size_t i, uint64_t off, uint64_t len, int reason) {
  cr_assert_lt(i, p->count, "segment %zu missing (count %zu)", i, p->count);
  const Segment& s = p->segments[i];
  cr_expect_eq(s.offset, off, "segment %zu offset %lu != %lu", i, s.offset, off);
  cr_expect_eq(s.length, len, "segment %zu length %lu != %lu", i, s.length, len);
  cr_expect_eq(s.reason, reason, "segment %zu reason %s != %s", i, cmbmap_reason_name(s.reason),
               cmbmap_reason_name(reason));
}
}  // namespace

Test(plan, one_extent_is_one_eligible_segment) {
  Fixture f;
  Extent ex[] = {{0, 1 << 20, 16 * P, FIEMAP_EXTENT_LAST}};
  Plan* p = run(f, 0, 16 * P, 16 * P, ex, 1);
  cr_assert_eq(p->count, 1u);
  expect(p, 0, 0, 16 * P, CMBMAP_ELIGIBLE);
  cr_assert_eq(p->segments[0].physical, 1u << 20);
  cr_assert_eq(p->eligible_bytes, 16 * P);
}

Test(plan, holes_between_extents) {
  Fixture f;
  Extent ex[] = {{0, 1 << 20, 2 * P, 0}, {6 * P, 2 << 20, 2 * P, FIEMAP_EXTENT_LAST}};
  Plan* p = run(f, 0, 10 * P, 10 * P, ex, 2);
  cr_assert_eq(p->count, 4u);
  expect(p, 0, 0, 2 * P, CMBMAP_ELIGIBLE);
  expect(p, 1, 2 * P, 4 * P, CMBMAP_HOLE);
  expect(p, 2, 6 * P, 2 * P, CMBMAP_ELIGIBLE);
  expect(p, 3, 8 * P, 2 * P, CMBMAP_HOLE);
}

Test(plan, extent_flags_map_to_reasons) {
  struct { uint32_t flags; int reason; } cases[] = {
      {FIEMAP_EXTENT_UNWRITTEN, CMBMAP_UNWRITTEN},
      {FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_UNKNOWN, CMBMAP_DELALLOC},
      {FIEMAP_EXTENT_UNKNOWN, CMBMAP_UNKNOWN_EXTENT},
      {FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_NOT_ALIGNED, CMBMAP_INLINE},
      {FIEMAP_EXTENT_DATA_TAIL, CMBMAP_INLINE},
      {FIEMAP_EXTENT_SHARED, CMBMAP_SHARED},
      {FIEMAP_EXTENT_ENCODED, CMBMAP_ENCODED},
      {FIEMAP_EXTENT_DATA_ENCRYPTED, CMBMAP_ENCODED},
      {FIEMAP_EXTENT_NOT_ALIGNED, CMBMAP_NOT_ALIGNED},
  };
  for (auto& c : cases) {
    Fixture f;
    Extent ex[] = {{0, 1 << 20, 4 * P, c.flags | FIEMAP_EXTENT_LAST}};
    Plan* p = run(f, 0, 4 * P, 4 * P, ex, 1);
    expect(p, 0, 0, 4 * P, c.reason);
    cr_expect_eq(p->eligible_bytes, 0u);
  }
}

Test(plan, device_verdict_applies_only_to_eligible_extents) {
  Fixture f;
  Extent ex[] = {{0, 1 << 20, 2 * P, 0}, {2 * P, 2 << 20, 2 * P, FIEMAP_EXTENT_UNWRITTEN | FIEMAP_EXTENT_LAST}};
  Plan* p = run(f, 0, 4 * P, 4 * P, ex, 2, CMBMAP_NO_P2PDMA);
  expect(p, 0, 0, 2 * P, CMBMAP_NO_P2PDMA);
  expect(p, 1, 2 * P, 2 * P, CMBMAP_UNWRITTEN);
}

Test(plan, pages_past_eof_are_eof_tail_and_last_page_is_cut_at_eof) {
  Fixture f;
  Extent ex[] = {{0, 1 << 20, 3 * P, FIEMAP_EXTENT_LAST}};
  uint64_t size = 2 * P + 100;  // 3 pages of data, the last partial
  Plan* p = run(f, 0, 6 * P, size, ex, 1);
  cr_assert_eq(p->count, 2u);
  expect(p, 0, 0, size, CMBMAP_ELIGIBLE);
  expect(p, 1, 3 * P, 3 * P, CMBMAP_EOF_TAIL);
}

Test(plan, small_blocks_not_on_page_boundaries_are_not_aligned) {
  Fixture f;
  // 1 KiB filesystem blocks: the second extent starts mid-page.
  Extent ex[] = {{0, 1 << 20, P + 1024, 0}, {P + 1024, 8 << 20, 3 * P - 1024, FIEMAP_EXTENT_LAST}};
  Plan* p = run(f, 0, 4 * P, 4 * P, ex, 2);
  expect(p, 0, 0, P, CMBMAP_ELIGIBLE);
  expect(p, 1, P, P, CMBMAP_NOT_ALIGNED);
  // The rest lies in one extent, contiguous and on LBA boundaries: servable.
  expect(p, 2, 2 * P, 2 * P, CMBMAP_ELIGIBLE);
}

Test(plan, physical_off_lba_boundary_is_not_aligned) {
  Fixture f;
  Extent ex[] = {{0, (1 << 20) + 7, 2 * P, FIEMAP_EXTENT_LAST}};
  Plan* p = run(f, 0, 2 * P, 2 * P, ex, 1);
  expect(p, 0, 0, 2 * P, CMBMAP_NOT_ALIGNED);
}

Test(plan, mapping_at_offset_starts_inside_extent) {
  Fixture f;
  Extent ex[] = {{0, 1 << 20, 16 * P, FIEMAP_EXTENT_LAST}};
  Plan* p = run(f, 4 * P, 4 * P, 16 * P, ex, 1);
  cr_assert_eq(p->count, 1u);
  expect(p, 0, 4 * P, 4 * P, CMBMAP_ELIGIBLE);
  cr_assert_eq(p->segments[0].physical, (1u << 20) + 4 * P);
}

Test(plan, contiguous_extents_merge_when_serving_but_not_when_inspecting) {
  Extent ex[] = {{0, 1 << 20, 2 * P, 0}, {2 * P, (1 << 20) + 2 * P, 2 * P, FIEMAP_EXTENT_LAST}};
  Fixture a, b;
  cr_assert_eq(run(a, 0, 4 * P, 4 * P, ex, 2, CMBMAP_ELIGIBLE, true, true)->count, 1u);
  cr_assert_eq(run(b, 0, 4 * P, 4 * P, ex, 2, CMBMAP_ELIGIBLE, true, false)->count, 2u);
}

Test(plan, truncated_extent_list_is_too_fragmented) {
  Fixture f;
  Extent ex[] = {{0, 1 << 20, 2 * P, 0}};
  Plan* p = run(f, 0, 8 * P, 8 * P, ex, 1, CMBMAP_ELIGIBLE, false);
  expect(p, 0, 0, 2 * P, CMBMAP_ELIGIBLE);
  expect(p, 1, 2 * P, 6 * P, CMBMAP_TOO_FRAGMENTED);
}

Test(plan, segment_overflow_folds_the_rest_into_one_ordinary_segment) {
  Extent ex[40];
  for (int i = 0; i < 40; ++i)  // alternate extent / hole: 80 runs
    ex[i] = Extent{(uint64_t)i * 2 * P, (uint64_t)(i + 1) << 24, P, i == 39 ? FIEMAP_EXTENT_LAST : 0u};
  Segment segs[8];
  Plan plan{segs, 8, 0, 0};
  ExtentList list{ex, 40, 40, true};
  PlanRequest req{0, 80 * P, 80 * P, (uint32_t)P, 512, CMBMAP_ELIGIBLE, true};
  plan_mapping(req, list, &plan);
  cr_assert_eq(plan.count, 8u);
  cr_assert_eq(segs[7].reason, CMBMAP_TOO_FRAGMENTED);
  cr_assert_eq(segs[7].offset + segs[7].length, 80 * P);
  cr_assert_eq(plan.eligible_bytes, 4 * P);  // segments 0, 2, 4, 6
}

Test(plan, whole_plan_for_mapping_level_reasons) {
  Segment segs[4];
  Plan plan{segs, 4, 0, 0};
  PlanRequest req{8192, 10000, 0, (uint32_t)P, 512, CMBMAP_TOO_SMALL, true};
  plan_whole(req, CMBMAP_TOO_SMALL, &plan);
  cr_assert_eq(plan.count, 1u);
  cr_assert_eq(segs[0].length, 3 * P);
  cr_assert_eq(segs[0].reason, CMBMAP_TOO_SMALL);
}

// A plan whose segment array fills up turns its last segment into
// TOO_FRAGMENTED for the rest of the mapping; cutting that segment at EOF
// dropped the pages wholly past EOF from the plan (found by test/fuzz/plan).
Test(plan, full_array_keeps_the_pages_past_eof) {
  Segment segs[1];
  Plan plan{segs, 1, 0, 0};
  ExtentList none{nullptr, 0, 0, false};
  PlanRequest req{0, 11 * P, 8 * P + 100, (uint32_t)P, 512, CMBMAP_ELIGIBLE, true};
  plan_mapping(req, none, &plan);
  expect(&plan, 0, 0, 11 * P, CMBMAP_TOO_FRAGMENTED);
  cr_assert_eq(plan.count, 1u);
}
