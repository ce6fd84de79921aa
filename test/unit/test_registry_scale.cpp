// The registry at scale: tens of thousands of ranges, and every answer
// checked against a plain model (a std::map of the same ranges) over a long
// run of random operations.
#include <criterion/criterion.h>

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "shim/tier/registry.h"

using namespace cmbmap;

namespace {

constexpr uintptr_t kPage = 0x1000;
constexpr dev_t kDev = 7;

void reset() { registry::clear(); }

registry::Range range(uintptr_t start, uintptr_t end, ino_t ino, int fd, int ctrl) {
  return {.start = start, .end = end, .dev = kDev, .ino = ino, .file_offset = start * 2, .fd = fd,
          .prot = 1, .flags = 1, .ctrl = ctrl, .stamp = 0, .cmb_dev = 0, .cmb_ino = 0};
}

bool same(const registry::Range& a, const registry::Range& b) {
  return a.start == b.start && a.end == b.end && a.dev == b.dev && a.ino == b.ino &&
         a.file_offset == b.file_offset && a.fd == b.fd && a.prot == b.prot && a.flags == b.flags &&
         a.ctrl == b.ctrl;
}

// What the registry should hold, the obvious way: ranges by start, each
// with a use stamp from the model's own clock (only their order matters).
struct Model {
  std::map<uintptr_t, registry::Range> ranges;
  uint64_t clock = 0;

  bool overlaps(uintptr_t s, uintptr_t e) const {
    for (const auto& [_, r] : ranges)
      if (r.start < e && s < r.end) return true;
    return false;
  }
  bool add(registry::Range r) {
    if (r.start >= r.end || overlaps(r.start, r.end)) return false;
    r.stamp = ++clock;
    ranges[r.start] = r;
    return true;
  }
  size_t remove(uintptr_t s, uintptr_t e) {
    size_t gone = 0;
    std::vector<registry::Range> keep;
    for (auto it = ranges.begin(); it != ranges.end();) {
      const registry::Range r = it->second;
      if (r.end <= s || r.start >= e) { ++it; continue; }
      const uintptr_t lo = std::max(r.start, s), hi = std::min(r.end, e);
      gone += hi - lo;
      it = ranges.erase(it);
      if (lo > r.start) { registry::Range left = r; left.end = lo; keep.push_back(left); }
      if (hi < r.end) {
        registry::Range right = r;
        right.file_offset += hi - r.start;
        right.start = hi;
        keep.push_back(right);
      }
    }
    for (const registry::Range& r : keep) ranges[r.start] = r;
    return gone;
  }
  std::vector<registry::Range> pieces(uintptr_t s, uintptr_t e) const {
    std::vector<registry::Range> out;
    for (const auto& [_, r] : ranges) {
      if (r.end <= s || r.start >= e) continue;
      registry::Range c = r;
      if (c.start < s) { c.file_offset += s - c.start; c.start = s; }
      if (c.end > e) c.end = e;
      out.push_back(c);
    }
    return out;
  }
  std::vector<registry::Range> of_file(ino_t ino, uintptr_t from) const {
    std::vector<registry::Range> out;
    for (const auto& [_, r] : ranges)
      if (r.ino == ino && r.end > from) out.push_back(r);
    return out;
  }
  bool uses_fd(int fd) const {
    for (const auto& [_, r] : ranges)
      if (r.fd == fd) return true;
    return false;
  }
  const registry::Range* oldest(int ctrl, uintptr_t keep, uintptr_t keep_end) const {
    const registry::Range* best = nullptr;
    for (const auto& [_, r] : ranges) {
      if ((ctrl >= 0 && r.ctrl != ctrl) || (r.start < keep_end && keep < r.end)) continue;
      if (!best || r.stamp < best->stamp) best = &r;
    }
    return best;
  }
};

void expect_same_ranges(const std::vector<registry::Range>& want, const registry::Range* got, size_t n,
                        const char* what, int step) {
  cr_assert_eq(n, want.size(), "step %d: %s: %zu ranges, model %zu", step, what, n, want.size());
  for (size_t i = 0; i < n; ++i)
    cr_assert(same(got[i], want[i]), "step %d: %s: piece %zu is %#lx-%#lx, model %#lx-%#lx", step, what, i,
              (unsigned long)got[i].start, (unsigned long)got[i].end, (unsigned long)want[i].start,
              (unsigned long)want[i].end);
}

// Everything the registry holds, in address order, through the batch loop.
std::vector<registry::Range> everything() {
  std::vector<registry::Range> all;
  registry::for_each_batch(0, UINTPTR_MAX, [&](const registry::Range* p, size_t n) {
    all.insert(all.end(), p, p + n);
    return true;
  });
  return all;
}

void expect_model(const Model& m, int step) {
  std::vector<registry::Range> want;
  for (const auto& [_, r] : m.ranges) want.push_back(r);
  const std::vector<registry::Range> got = everything();
  expect_same_ranges(want, got.data(), got.size(), "all ranges", step);
  cr_assert_eq(registry::count(), want.size(), "step %d: count", step);
}

// A random span in a 16 MiB window: ranges there collide, split and merge often.
struct Span {
  uintptr_t start, end;
};
Span random_span(std::mt19937_64& rng, size_t max_pages) {
  const uintptr_t start = 0x10000000 + (rng() % 4096) * kPage;
  return {start, start + (1 + rng() % max_pages) * kPage};
}

void check_lookups(const Model& m, std::mt19937_64& rng, int step) {
  const Span q = random_span(rng, 64);
  cr_assert_eq(registry::overlaps(q.start, q.end - q.start), m.overlaps(q.start, q.end), "step %d: overlaps", step);
  registry::Range out[8];
  const size_t cap = 1 + rng() % 8;
  std::vector<registry::Range> want = m.pieces(q.start, q.end);
  if (want.size() > cap) want.resize(cap);
  expect_same_ranges(want, out, registry::collect(q.start, q.end - q.start, out, cap), "collect", step);
  const ino_t ino = 1 + rng() % 40;
  const uintptr_t from = rng() % 2 ? 0 : q.start;
  want = m.of_file(ino, from);
  if (want.size() > cap) want.resize(cap);
  expect_same_ranges(want, out, registry::collect_file(kDev, ino, out, cap, from), "collect_file", step);
  cr_assert_eq(registry::has_file(kDev, ino), !m.of_file(ino, 0).empty(), "step %d: has_file %lu", step,
               (unsigned long)ino);
  const int fd = 1000 + (int)(rng() % 24);
  cr_assert_eq(registry::uses_fd(fd), m.uses_fd(fd), "step %d: uses_fd %d", step, fd);
}

}  // namespace

TestSuite(registry_scale, .init = reset, .fini = reset);

// Before the registry could grow it held 1024 ranges less a reserve of 64:
// the 961st add failed.
Test(registry_scale, ten_thousand_ranges_are_registered_and_found) {
  constexpr size_t kRanges = 10000;
  const uintptr_t base = 0x100000000;
  for (size_t i = 0; i < kRanges; ++i)
    cr_assert(registry::add(range(base + i * 2 * kPage, base + i * 2 * kPage + kPage, 1 + i / 5, 1000 + (int)(i % 7), -1)),
              "range %zu not registered", i);
  cr_assert_eq(registry::count(), kRanges);
  registry::Range out[8];
  for (size_t i = 0; i < kRanges; ++i) {
    const uintptr_t at = base + i * 2 * kPage;
    cr_assert(registry::overlaps(at, kPage));
    cr_assert_not(registry::overlaps(at + kPage, kPage), "the gap after range %zu", i);
    cr_assert_eq(registry::collect(at, kPage, out, 8), 1u);
    cr_assert_eq(out[0].ino, 1 + i / 5);
  }
  for (ino_t ino = 1; ino <= kRanges / 5; ++ino) {
    cr_assert(registry::has_file(kDev, ino));
    cr_assert_eq(registry::collect_file(kDev, ino, out, 8), 5u, "file %lu", (unsigned long)ino);
    cr_assert_eq(out[0].start, base + (ino - 1) * 5 * 2 * kPage);
  }
  cr_assert_not(registry::has_file(kDev, kRanges / 5 + 1));
  cr_assert_not(registry::has_file(kDev + 1, 1));
  cr_assert(registry::uses_fd(1006));
  cr_assert_not(registry::uses_fd(1007));
  cr_assert_eq(registry::remove(0, UINTPTR_MAX), kRanges * kPage);
  cr_assert(registry::empty());
}

// Unmapping the middle of thousands of ranges splits each in two, however
// many the registry already holds.
Test(registry_scale, middle_unmaps_split_ten_thousand_ranges) {
  constexpr size_t kRanges = 10000;
  const uintptr_t base = 0x100000000;
  for (size_t i = 0; i < kRanges; ++i)
    cr_assert(registry::add(range(base + i * 4 * kPage, base + i * 4 * kPage + 3 * kPage, 1 + i % 100, 1000, 0)));
  for (size_t i = 0; i < kRanges; ++i) cr_assert_eq(registry::remove(base + i * 4 * kPage + kPage, kPage), kPage);
  cr_assert_eq(registry::count(), 2 * kRanges);
  registry::Range out[2];
  cr_assert_eq(registry::collect(base + 4 * kPage, 3 * kPage, out, 2), 2u);
  cr_assert_eq(out[1].start, base + 6 * kPage);
  cr_assert_eq(out[1].file_offset, (base + 4 * kPage) * 2 + 2 * kPage);
  registry::relocate_fd(1000, 1001);
  cr_assert_not(registry::uses_fd(1000));
  cr_assert(registry::uses_fd(1001));
  cr_assert_eq(registry::collect_file(kDev, 100, out, 2), 2u);
  cr_assert_eq(out[0].fd, 1001);
}

// Random adds, removes (splits, trims), touches, prot changes and fd moves,
// each answer of the registry compared with the model's.
Test(registry_scale, random_operations_match_a_plain_model) {
  std::mt19937_64 rng(18);
  Model m;
  for (int step = 0; step < 4000; ++step) {
    const unsigned op = rng() % 10;
    const Span s = random_span(rng, op < 4 ? 8 : 24);
    if (op < 4) {
      const registry::Range r = range(s.start, s.end, 1 + rng() % 40, 1000 + (int)(rng() % 24), (int)(rng() % 3));
      cr_assert_eq(registry::add(r), m.add(r), "step %d: add %#lx-%#lx", step, (unsigned long)s.start,
                   (unsigned long)s.end);
    } else if (op < 6) {
      cr_assert_eq(registry::remove(s.start, s.end - s.start), m.remove(s.start, s.end), "step %d: remove", step);
    } else if (op == 6) {
      registry::touch(s.start, s.end - s.start);
      ++m.clock;
      for (auto& [_, r] : m.ranges)
        if (r.start < s.end && s.start < r.end) r.stamp = m.clock;
    } else if (op == 7) {
      const int from = 1000 + (int)(rng() % 24), to = 1000 + (int)(rng() % 24);
      registry::relocate_fd(from, to);
      for (auto& [_, r] : m.ranges)
        if (r.fd == from) r.fd = to;
    } else if (op == 8) {
      const int prot = (int)(rng() % 4);
      registry::set_prot(s.start, s.end - s.start, prot);
      for (auto& [_, r] : m.ranges)
        if (r.start >= s.start && r.end <= s.end) r.prot = prot;
      bool whole = true;
      for (const auto& [_, r] : m.ranges)
        if (r.start < s.end && s.start < r.end && (r.start < s.start || r.end > s.end)) whole = false;
      cr_assert_eq(registry::covers_whole(s.start, s.end - s.start), whole, "step %d: covers_whole", step);
    } else {
      const int ctrl = (int)(rng() % 4) - 1;
      const bool keep = rng() % 2;
      registry::Range got;
      const registry::Range* want = m.oldest(ctrl, keep ? s.start : 0, keep ? s.end : 0);
      cr_assert_eq(registry::oldest(ctrl, keep ? s.start : 0, keep ? s.end - s.start : 0, &got), want != nullptr,
                   "step %d: oldest found", step);
      if (want) cr_assert(same(got, *want), "step %d: oldest is %#lx, model %#lx", step, (unsigned long)got.start,
                          (unsigned long)want->start);
    }
    check_lookups(m, rng, step);
    if (step % 50 == 0) expect_model(m, step);
  }
  expect_model(m, 4000);
}
