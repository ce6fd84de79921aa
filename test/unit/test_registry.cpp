// The served-range registry: exact bookkeeping under partial unmaps.
#include <criterion/criterion.h>

#include "../../shim/core/registry.h"

using namespace cmbmap;

namespace {
void reset() { registry::clear(); }
registry::Range R(uintptr_t s, uintptr_t e, ino_t ino = 1) { return {s, e, 7, ino, 0, 900, 1, 1}; }
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
