// /proc/self answers (prim/procself.cpp): coverage of a span by the
// mappings /proc/self/maps lists, when a read in pieces races VMAs that
// split and merge (cmbmap's own fault handler mprotects pages of a range
// while a give-back checks the range is still its own).
#include <criterion/criterion.h>

#include "prim/procself.h"

using namespace cmbmap;

Test(procself, coverage_of_split_mappings) {
  procself::Coverage c(0x10000, 0x20000);
  c.add(0x8000, 0x12000);  // starts before the span
  c.add(0x12000, 0x13000);
  c.add(0x13000, 0x20000);
  cr_assert(c.whole());
}

Test(procself, a_mapping_listed_twice_counts_once) {
  // The first read ended inside the span; meanwhile two pieces merged, and
  // the next read starts again from the merged mapping's start.
  procself::Coverage c(0x10000, 0x20000);
  c.add(0x10000, 0x14000);
  c.add(0x14000, 0x16000);
  c.add(0x10000, 0x18000);  // merged: listed again from its start
  c.add(0x18000, 0x20000);
  cr_assert(c.whole(), "a mapping seen twice made the span look not covered");
}

Test(procself, a_gap_is_not_covered) {
  procself::Coverage c(0x10000, 0x20000);
  c.add(0x10000, 0x14000);
  c.add(0x15000, 0x20000);
  cr_assert(!c.whole());
  procself::Coverage none(0x10000, 0x20000);
  cr_assert(!none.whole());
}
