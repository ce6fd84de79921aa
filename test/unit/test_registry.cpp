// The served-range registry: exact bookkeeping under partial unmaps.
#include <criterion/criterion.h>

#include "shim/tier/registry.h"
#include "common/stats.h"
#include "prim/prim.h"

using namespace cmbmap;

namespace {
void reset() { registry::clear(); }
registry::Range R(uintptr_t s, uintptr_t e, ino_t ino = 1, int ctrl = -1) {
  return {s, e, 7, ino, 0, 900, 1, 1, ctrl, 0};
}
}  // namespace

TestSuite(registry, .init = reset);

Test(registry, empty_answers_no) {
  cr_assert(registry::empty());
  cr_assert_not(registry::overlaps(0x1000, 0x1000));
  cr_assert_not(registry::has_file(7, 1));
}

Test(registry, add_rejects_overlap) {
  cr_assert(registry::add(R(0x10000, 0x20000)));
  cr_assert_not(registry::add(R(0x1f000, 0x21000)));
  cr_assert(registry::add(R(0x20000, 0x21000)));
  cr_assert_eq(registry::count(), 2u);
  cr_assert(registry::overlaps(0x1f000, 0x1000));
  cr_assert_not(registry::overlaps(0x21000, 0x1000));
  cr_assert(registry::has_file(7, 1));
}

Test(registry, middle_unmap_splits_and_keeps_file_offsets) {
  registry::add(R(0x10000, 0x20000));
  cr_assert_eq(registry::remove(0x14000, 0x4000), 0x4000u);
  cr_assert_eq(registry::count(), 2u);
  cr_assert(registry::overlaps(0x13000, 0x1000));
  cr_assert_not(registry::overlaps(0x14000, 0x4000));
  cr_assert(registry::overlaps(0x18000, 0x1000));
  // Removing the rest empties it.
  cr_assert_eq(registry::remove(0x0, 0x100000), 0xc000u);
  cr_assert(registry::empty());
}

Test(registry, head_and_tail_trims) {
  registry::add(R(0x10000, 0x20000));
  cr_assert_eq(registry::remove(0x8000, 0x10000), 0x8000u);   // head
  cr_assert_eq(registry::remove(0x1c000, 0x10000), 0x4000u);  // tail
  cr_assert_eq(registry::count(), 1u);
  cr_assert(registry::overlaps(0x18000, 0x4000));
  cr_assert_not(registry::overlaps(0x1c000, 0x1000));
}

Test(registry, collect_clips_and_offsets) {
  registry::add(R(0x10000, 0x20000));
  registry::add(R(0x30000, 0x40000, 2));
  registry::Range out[4];
  size_t n = registry::collect(0x18000, 0x20000, out, 4);
  cr_assert_eq(n, 2u);
  cr_assert_eq(out[0].start, 0x18000u);
  cr_assert_eq(out[0].file_offset, 0x8000u);
  cr_assert_eq(out[1].end, 0x38000u);
  cr_assert_eq(registry::collect_file(7, 2, out, 4), 1u);
  cr_assert(registry::uses_fd(900));
  registry::relocate_fd(900, 901);
  cr_assert_not(registry::uses_fd(900));
  cr_assert(registry::uses_fd(901));
}

Test(registry, oldest_is_least_recently_used_outside_the_kept_range) {
  registry::add(R(0x10000, 0x20000, 1));
  registry::add(R(0x30000, 0x40000, 2));
  registry::add(R(0x50000, 0x60000, 3));
  registry::Range r;
  cr_assert(registry::oldest(-1, 0, 0, &r));
  cr_assert_eq(r.start, 0x10000u);
  registry::touch(0x10000, 0x1000);  // used again: now the newest
  cr_assert(registry::oldest(-1, 0, 0, &r));
  cr_assert_eq(r.start, 0x30000u);
  // The mapping being served is never its own victim.
  cr_assert(registry::oldest(-1, 0x30000, 0x10000, &r));
  cr_assert_eq(r.start, 0x50000u);
  cr_assert_not(registry::oldest(-1, 0, 0x100000, &r));
}

Test(registry, oldest_filters_by_controller) {
  registry::add(R(0x10000, 0x20000, 1, 0));
  registry::add(R(0x30000, 0x40000, 2, 1));
  registry::Range r;
  cr_assert(registry::oldest(1, 0, 0, &r));
  cr_assert_eq(r.ino, 2u);
  cr_assert_not(registry::oldest(2, 0, 0, &r));
}

Test(registry, held_per_controller_follows_adds_and_removes) {
  int slot = stats::controller_slot("nvme7");
  cr_assert_geq(slot, 0);
  cr_assert_eq(stats::controller_slot("nvme7"), slot);
  uint64_t before = stats::get()->held_by_controller[slot];
  registry::add(R(0x10000, 0x20000, 1, slot));
  cr_assert_eq(stats::get()->held_by_controller[slot] - before, 0x10000u);
  registry::remove(0x14000, 0x4000);  // a split keeps both sides
  cr_assert_eq(stats::get()->held_by_controller[slot] - before, 0xc000u);
  registry::remove(0, 0x100000);
  cr_assert_eq(stats::get()->held_by_controller[slot], before);
}

Test(registry, stamps_are_the_time_and_published_per_controller) {
  // Other processes compare them with their own clock (share.h): the
  // monotonic time, not a count of this process's own.
  const int slot = stats::controller_slot("nvme6");
  cr_assert_geq(slot, 0);
  const uint64_t before = prim::monotonic_ns();
  registry::add(R(0x10000, 0x20000, 1, slot));
  const uint64_t after = prim::monotonic_ns();
  registry::Range r;
  cr_assert(registry::oldest(slot, 0, 0, &r));
  cr_assert(r.stamp >= before && r.stamp <= after + 1, "stamp %lu outside [%lu, %lu]", (unsigned long)r.stamp,
            (unsigned long)before, (unsigned long)after);
  cr_assert_eq(stats::get()->last_use_ns[slot], r.stamp);
  registry::touch(0x10000, 0x1000);
  registry::Range again;
  cr_assert(registry::oldest(slot, 0, 0, &again));
  cr_assert_gt(again.stamp, r.stamp);
  cr_assert_eq(stats::get()->last_use_ns[slot], again.stamp);
}

Test(registry, oldest_leaves_ranges_used_since_the_cutoff) {
  registry::add(R(0x10000, 0x20000, 1));
  registry::add(R(0x30000, 0x40000, 2));
  registry::Range first, second;
  cr_assert(registry::oldest(-1, 0, 0, &first));
  cr_assert(registry::oldest(-1, 0x10000, 0x10000, &second));
  cr_assert_lt(first.stamp, second.stamp);
  registry::Range r;
  // Used before the second's stamp: only the first.
  cr_assert(registry::oldest(-1, 0, 0, &r, second.stamp));
  cr_assert_eq(r.start, 0x10000u);
  cr_assert_not(registry::oldest(-1, 0x10000, 0x10000, &r, second.stamp), "the second was used at the cutoff");
  cr_assert_not(registry::oldest(-1, 0, 0, &r, first.stamp), "nothing was used before the first");
}
