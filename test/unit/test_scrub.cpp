// CMB memory goes back to the pool zeroed (shim/tier/scrub.cpp) on the host
// with the fake CMB tier, which remembers what each allocation held after
// its last mapping went: after munmap (whole or part), a give-back, an
// eviction, the process leaving, or a serve whose fill failed, nothing of
// the file is left there; and a thread reading a range while it is given
// back never sees anything but the file's bytes (the range is hidden for an
// instant while the CMB pages move out and the file's pages move in).
#include <criterion/criterion.h>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/stats.h"
#include "shim/core/core.h"
#include "shim/giveback/reclaim.h"
#include "shim/giveback/revoke.h"
#include "shim/tier/registry.h"
#include "shim/tier/scrub.h"
#include "test/unit/fake/fake_tier.h"
#include "test/unit/fake/fixture.h"

using namespace cmbmap;

namespace {

using fixture::page;

using fixture::Served;
Served serve(size_t pages, unsigned seed = 0) { return fixture::serve_file(pages, PROT_READ, MAP_SHARED, seed); }

void nothing_left(const char* after) {
  cr_assert_eq(fake_tier::leftover(), 0u, "%s: bytes of the file stayed in released CMB memory", after);
}

}  // namespace

TestSuite(scrub, .init = fixture::serving_setup);

Test(scrub, munmap_leaves_nothing_behind) {
  Served s = serve(16);
  cr_assert_eq(core::unmap(s.at, s.len), 0);
  nothing_left("munmap");
  cr_assert(registry::empty());
  cr_assert_eq(stats::get()->scrubbed_bytes, s.len);
  cr_assert_eq(stats::get()->unscrubbed_bytes, 0u);
  fixture::remove_file(s.f);
}

Test(scrub, part_unmapped_leaves_nothing_and_the_rest_stays_served) {
  Served s = serve(16);
  cr_assert_eq(core::unmap(s.at + 4 * page(), 4 * page()), 0);
  nothing_left("munmap of the middle");
  cr_assert(fake_tier::is_cmb(s.at) && fake_tier::is_cmb(s.at + 8 * page()));
  cr_assert(fixture::holds_file(s.at, 4 * page(), s.f.fd));
  cr_assert(fixture::holds_file(s.at + 8 * page(), 8 * page(), s.f.fd, 8 * page()));
  cr_assert_eq(core::unmap(s.at, s.len), 0);
  nothing_left("munmap of the rest");
  fixture::remove_file(s.f);
}

Test(scrub, refused_munmap_changes_nothing) {
  // The kernel refuses these (EINVAL): the range stays served, every byte.
  Served s = serve(4);
  cr_assert_eq(core::unmap(s.at + 1, page()), -1);
  cr_assert_eq(errno, EINVAL);
  cr_assert_eq(core::unmap(s.at, 0), -1);
  cr_assert(fake_tier::is_cmb(s.at) && fixture::holds_file(s.at, s.len, s.f.fd));
  cr_assert_eq(registry::count(), 1u);
  cr_assert_eq(core::unmap(s.at, s.len), 0);
  nothing_left("munmap after refused ones");
  fixture::remove_file(s.f);
}

Test(scrub, give_back_leaves_nothing_behind) {
  Served s = serve(16);
  cr_assert_eq(revoke::range(s.at, s.len, CMBMAP_LEASE_BROKEN), s.len);
  nothing_left("a lease break's give-back");
  cr_assert(!fake_tier::is_cmb(s.at));
  cr_assert(fixture::holds_file(s.at, s.len, s.f.fd));
  fixture::remove_file(s.f);
}

Test(scrub, eviction_leaves_nothing_behind) {
  Served s = serve(16);
  cr_assert_eq(reclaim::evict(-1, s.len, 0, 0, CMBMAP_CMB_FULL), s.len);
  nothing_left("eviction");
  cr_assert(fixture::holds_file(s.at, s.len, s.f.fd));
  fixture::remove_file(s.f);
}

Test(scrub, leaving_gives_everything_back_zeroed_and_counts_no_revocation) {
  Served a = serve(8, 1), b = serve(8, 2);
  cr_assert_eq(revoke::all(0), a.len + b.len);
  nothing_left("exit or exec");
  cr_assert(registry::empty());
  cr_assert_eq(stats::get()->revoked_bytes, 0u, "leaving is not a revocation");
  cr_assert(fixture::holds_file(a.at, a.len, a.f.fd) && fixture::holds_file(b.at, b.len, b.f.fd));
  fixture::remove_file(a.f);
  fixture::remove_file(b.f);
}

Test(scrub, turned_off_lets_memory_go_as_it_is_and_counts_it) {
  // CMBMAP_SCRUB=0: faster, and what was served stays in the pool.
  scrub::set_enabled(false);
  Served a = serve(8, 1), b = serve(8, 2);
  cr_assert_eq(core::unmap(a.at, a.len), 0);
  cr_assert_eq(revoke::range(b.at, b.len, CMBMAP_RECLAIMED), b.len);
  scrub::set_enabled(true);
  cr_assert(fixture::holds_file(b.at, b.len, b.f.fd));
  cr_assert_gt(fake_tier::leftover(), 0u, "nothing left: was it scrubbed anyway?");
  cr_assert_eq(stats::get()->unscrubbed_bytes, a.len + b.len);
  cr_assert_eq(stats::get()->scrubbed_bytes, 0u);
  fixture::remove_file(a.f);
  fixture::remove_file(b.f);
}

Test(scrub, failed_fill_leaves_nothing_behind) {
  // The memory refuses the fill: whatever it held (the pool's poison, in a
  // real pool another user's bytes) is zeroed before it goes back.
  const size_t len = 16 * page();
  fixture::File f = fixture::make_file(len, O_RDONLY);
  fake_tier::unwritable(true);
  uint64_t served = 1;
  void* at = fixture::map_and_serve(f.fd, len, PROT_READ, MAP_SHARED, fixture::default_options(), &served);
  cr_assert_eq(served, 0u);
  nothing_left("a failed fill");
  cr_assert(fixture::holds_file(at, len, f.fd));
  fixture::remove_file(f);
}

namespace {

struct Reader {
  const volatile uint8_t* at;
  size_t len;
  std::atomic<bool>* stop;
  std::atomic<size_t> wrong, rounds;  // read by the test's thread while the reader runs
};

void* read_loop(void* arg) {
  auto* r = static_cast<Reader*>(arg);
  while (!r->stop->load(std::memory_order_relaxed)) {
    for (size_t i = 0; i < r->len; i += 512)
      if (r->at[i] != fixture::pattern(i)) ++r->wrong;
    ++r->rounds;
  }
  return nullptr;
}

}  // namespace

Test(scrub, readers_see_only_the_files_bytes_while_it_goes_back) {
  // Without the hiding, a read in the instant between the two mremaps
  // would end the process with SIGSEGV; zeroing in place would show zeros.
  size_t rounds = 0;
  for (int round = 0; round < 40; ++round) {
    Served s = serve(32);
    std::atomic<bool> stop{false};
    Reader r[2] = {{s.at, s.len, &stop, {0}, {0}}, {s.at, s.len, &stop, {0}, {0}}};
    pthread_t t[2];
    for (int i = 0; i < 2; ++i) pthread_create(&t[i], nullptr, read_loop, &r[i]);
    while (r[0].rounds < 2 || r[1].rounds < 2) sched_yield();
    cr_assert_eq(revoke::range(s.at, s.len, CMBMAP_LEASE_BROKEN), s.len);
    const size_t after = r[0].rounds + r[1].rounds;
    while (r[0].rounds + r[1].rounds < after + 4) sched_yield();
    stop = true;
    for (int i = 0; i < 2; ++i) pthread_join(t[i], nullptr);
    cr_assert_eq(r[0].wrong + r[1].wrong, 0u, "round %d: a reader saw bytes that are not the file's", round);
    rounds += r[0].rounds + r[1].rounds;
    munmap(s.at, s.len);
    fixture::remove_file(s.f);
  }
  nothing_left("40 give-backs under readers");
  cr_log_info("%zu read passes", rounds);
}

namespace {

// Another thread of the program mapping memory of its own, as malloc, a
// thread stack or a file mapping does, while ranges go back: the kernel puts
// a new mapping in the highest gap that fits, so a hole left for an instant
// where a served range was would be handed to it and then mapped over.
struct Mapper {
  size_t len;
  std::atomic<bool>* stop;
  size_t maps, clobbered;
};

void* map_loop(void* arg) {
  auto* m = static_cast<Mapper*>(arg);
  while (!m->stop->load()) {
    auto* p = static_cast<uint8_t*>(mmap(nullptr, m->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED) continue;
    memset(p, 0x5a, m->len);
    sched_yield();
    for (size_t i = 0; i < m->len; i += page())
      if (p[i] != 0x5a) { ++m->clobbered; break; }
    munmap(p, m->len);
    ++m->maps;
  }
  return nullptr;
}

}  // namespace

namespace {

// 300 ranges released (munmap and give-back in turn) while two threads map
// memory of their own; in_pieces: each range split into several mappings
// first. No mapping of theirs may be replaced or unmapped.
void releases_beside_mapping_threads(bool in_pieces) {
  std::atomic<bool> stop{false};
  Mapper m[2] = {{16 * page(), &stop, 0, 0}, {16 * page(), &stop, 0, 0}};
  pthread_t t[2];
  for (int i = 0; i < 2; ++i) pthread_create(&t[i], nullptr, map_loop, &m[i]);
  for (int round = 0; round < 300; ++round) {
    Served s = serve(16);
    for (size_t k = 1; in_pieces && k < 16; k += 2) cr_assert_eq(madvise(s.at + k * page(), page(), MADV_DONTDUMP), 0);
    if (round % 2) cr_assert_eq(core::unmap(s.at, s.len), 0);
    else {
      cr_assert_eq(revoke::range(s.at, s.len, CMBMAP_LEASE_BROKEN), s.len);
      cr_assert(fixture::holds_file(s.at, s.len, s.f.fd), "round %d: the range does not hold the file", round);
      munmap(s.at, s.len);
    }
    fixture::remove_file(s.f);
  }
  stop = true;
  for (int i = 0; i < 2; ++i) pthread_join(t[i], nullptr);
  cr_assert_eq(m[0].clobbered + m[1].clobbered, 0u, "another thread's mapping was replaced or unmapped (%zu maps)",
               m[0].maps + m[1].maps);
  nothing_left("300 releases beside mapping threads");
  cr_assert_eq(stats::get()->unscrubbed_bytes, 0u);
  cr_log_info("%zu maps beside 300 releases", m[0].maps + m[1].maps);
}

}  // namespace

Test(scrub, no_instant_hole_for_another_threads_mapping) {
  // Before, the CMB pages moved out first and left a hole until the file's
  // pages (give-back) or the munmap filled it: a mapping made meanwhile by
  // another thread landed there and was then replaced or unmapped.
  releases_beside_mapping_threads(false);
}

Test(scrub, no_instant_hole_when_the_range_is_in_pieces) {
  // A range split into several mappings (dirty tracking's mprotects split a
  // device mapping for good; MADV_DONTDUMP on every other page does it here)
  // moves out piece by piece. Before, a whole-range mremap to a reserved
  // spot was tried first: on Linux before 6.17 it failed (a mremap could not
  // span mappings) after the kernel had unmapped the spot, and another
  // thread's mapping made in that hole was then replaced by the pieces.
  releases_beside_mapping_threads(true);
}
