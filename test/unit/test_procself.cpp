// /proc/self answers (prim/procself.cpp): coverage of a span by the
// mappings /proc/self/maps lists, when a read in pieces races VMAs that
// split and merge (cmbmap's own fault handler mprotects pages of a range
// while a give-back checks the range is still its own).
#include <criterion/criterion.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "prim/prim.h"
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

namespace {
struct Seen {
  size_t span;
  procself::Mapping m;
};
bool same_seen(const Seen& a, const Seen& b) {
  return a.span == b.span && a.m.start == b.m.start && a.m.end == b.m.end && a.m.write == b.m.write &&
         a.m.shared == b.m.shared && a.m.dev == b.m.dev && a.m.ino == b.m.ino;
}
}  // namespace

// The lookup over spans answers what a read of all of /proc/self/maps says
// about them: each mapping that overlaps a span, per span, in address order.
Test(procself, mappings_over_spans_match_the_whole_list) {
  const size_t pg = prim::page_size();
  char* at = (char*)mmap(nullptr, 16 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert(at != MAP_FAILED);
  // Separate mappings: read-only pages, a hole, a file mapping.
  cr_assert_eq(mprotect(at + 2 * pg, 2 * pg, PROT_READ), 0);
  cr_assert_eq(munmap(at + 6 * pg, pg), 0);
  FILE* f = tmpfile();
  cr_assert(f && ftruncate(fileno(f), (off_t)(2 * pg)) == 0);
  cr_assert(mmap(at + 8 * pg, 2 * pg, PROT_READ, MAP_SHARED | MAP_FIXED, fileno(f), 0) != MAP_FAILED);
  const procself::Span spans[] = {{(uintptr_t)at + pg, (uintptr_t)at + 3 * pg},
                                  {(uintptr_t)at + 5 * pg, (uintptr_t)at + 9 * pg},
                                  {(uintptr_t)at + 12 * pg, (uintptr_t)at + 13 * pg}};
  std::vector<Seen> got, want;
  procself::for_each_mapping_over(
      spans, 3, [](const procself::Mapping& m, size_t i, void* c) {
        static_cast<std::vector<Seen>*>(c)->push_back({i, m});
        return true;
      }, &got);
  struct All { const procself::Span* spans; std::vector<Seen>* out; } all{spans, &want};
  procself::for_each_mapping([](const procself::Mapping& m, void* c) {
    auto* a = static_cast<All*>(c);
    for (size_t i = 0; i < 3; ++i)
      if (m.start < a->spans[i].end && a->spans[i].start < m.end) a->out->push_back({i, m});
    return true;
  }, &all);
  std::stable_sort(want.begin(), want.end(), [](const Seen& a, const Seen& b) { return a.span < b.span; });
  cr_assert_eq(got.size(), want.size(), "%zu mappings over the spans, the whole list says %zu", got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) cr_assert(same_seen(got[i], want[i]), "mapping %zu differs", i);
  cr_assert_eq(got.size(), 6u);  // two in the first span, three in the second (the hole has none), one in the last
  munmap(at, 16 * pg);
  fclose(f);
}
