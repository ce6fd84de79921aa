// Serving (shim/core/serve.cpp) on the host with the fake CMB tier: a
// mapping of a real file is served only through every gate (a lease, the
// map count, the budget, CMB memory, a fill, the writable rules, no change
// of the file meanwhile); a served range holds exactly the file's bytes
// and is device memory in /proc/self/maps; a run that falls back keeps (or
// gets back) the file's pages, with its reason on its segments.
#include <criterion/criterion.h>
#include <cerrno>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

#include "common/stats.h"
#include "shim/core/serve.h"
#include "shim/giveback/changes.h"
#include "shim/giveback/lease.h"
#include "shim/giveback/revoke.h"
#include "shim/tier/registry.h"
#include "test/unit/fake/fake_tier.h"
#include "test/unit/fake/fixture.h"

using namespace cmbmap;

namespace {

using fixture::page;

// Every segment of the plan has reason r.
void all_reasons(const Plan& plan, int r) {
  for (size_t i = 0; i < plan.count; ++i)
    cr_expect_eq(plan.segments[i].reason, r, "segment %zu: %s, not %s", i, cmbmap_reason_name(plan.segments[i].reason),
                 cmbmap_reason_name(r));
}

// A mapping that fell back: the file's own pages, its bytes, nothing served.
void ordinary(void* at, size_t len, const fixture::File& f, uint64_t served) {
  cr_expect_eq(served, 0u);
  cr_expect(!fake_tier::is_cmb(at), "a fallen-back range is still device memory");
  cr_expect(fixture::holds_file(at, len, f.fd));
  cr_expect(registry::empty());
}

}  // namespace

TestSuite(serve, .init = fixture::serving_setup);

Test(serve, read_only_mapping_is_served_with_the_files_bytes) {
  const size_t len = 40 * page() + 77;
  fixture::File f = fixture::make_file(len, O_RDONLY);
  const Options opts = fixture::default_options();
  uint64_t served = 0;
  fixture::Planned p;
  errno = 4242;
  void* at = fixture::map_and_serve(f.fd, len, PROT_READ, MAP_SHARED, opts, &served, &p);
  cr_assert_eq(errno, 4242, "serving changed errno");
  cr_assert_eq(served, 41 * page());
  cr_assert(fake_tier::is_cmb(at), "the served range is not device memory in /proc/self/maps");
  cr_assert(fixture::holds_file(at, 41 * page(), f.fd), "served bytes differ from the file (or past EOF not zero)");
  cr_assert(registry::overlaps((uintptr_t)at, len));
  cr_assert_eq(lease::held(), 1u);
  cr_assert_eq(stats::get()->served_bytes, 41 * page());
  // Given back: the file's pages again, the lease released.
  cr_assert_eq(revoke::range(at, len, CMBMAP_RECLAIMED), 41 * page());
  cr_assert(!fake_tier::is_cmb(at));
  cr_assert(fixture::holds_file(at, len, f.fd));
  cr_assert_eq(lease::held(), 0u);
  cr_assert_eq(fake_tier::held(), 0u, "CMB memory left mapped after the give-back");
  fixture::remove_file(f);
}

// Mappings of one file share cmbmap's fd: a program that maps a file many
// times must not run out of fds for it.
Test(serve, mappings_of_one_file_share_one_fd) {
  fixture::File f = fixture::make_file(4 * page(), O_RDONLY);
  const Options opts = fixture::default_options();
  void* at[3];
  for (void*& a : at) {
    uint64_t served = 0;
    a = fixture::map_and_serve(f.fd, 4 * page(), PROT_READ, MAP_SHARED, opts, &served);
    cr_assert_eq(served, 4 * page());
  }
  registry::Range r[3];
  for (int i = 0; i < 3; ++i) cr_assert_eq(registry::collect((uintptr_t)at[i], 4 * page(), &r[i], 1), 1u);
  cr_assert_eq(r[1].fd, r[0].fd);
  cr_assert_eq(r[2].fd, r[0].fd);
  // The fd stays while any range uses it, and goes with the last.
  revoke::range(at[0], 4 * page(), CMBMAP_RECLAIMED);
  revoke::range(at[1], 4 * page(), CMBMAP_RECLAIMED);
  cr_assert_geq(fcntl(r[0].fd, F_GETFD), 0, "closed while a range still uses it");
  cr_assert(fixture::holds_file(at[0], 4 * page(), f.fd));
  revoke::range(at[2], 4 * page(), CMBMAP_RECLAIMED);
  cr_assert_lt(fcntl(r[0].fd, F_GETFD), 0, "left open after the last range");
  fixture::remove_file(f);
}

Test(serve, no_lease_no_serving) {
  // Another open for writing: the kernel refuses a read lease.
  const size_t len = 16 * page();
  fixture::File f = fixture::make_file(len, O_RDONLY);
  int writer = open(f.path, O_WRONLY);
  uint64_t served = 1;
  fixture::Planned p;
  void* at = fixture::map_and_serve(f.fd, len, PROT_READ, MAP_SHARED, fixture::default_options(), &served, &p);
  ordinary(at, len, f, served);
  all_reasons(p.plan, CMBMAP_LEASE_DENIED);
  close(writer);
  fixture::remove_file(f);
}

Test(serve, budget_keeps_the_mapping_ordinary) {
  const size_t len = 16 * page();
  fixture::File f = fixture::make_file(len, O_RDONLY);
  Options opts = fixture::default_options();
  opts.budget = 8 * page();
  uint64_t served = 1;
  fixture::Planned p;
  void* at = fixture::map_and_serve(f.fd, len, PROT_READ, MAP_PRIVATE, opts, &served, &p);
  ordinary(at, len, f, served);
  all_reasons(p.plan, CMBMAP_BUDGET);
  cr_assert_eq(lease::held(), 0u, "a lease outlived a serve that served nothing");
  fixture::remove_file(f);
}

Test(serve, full_cmb_maps_the_file_back) {
  const size_t len = 16 * page();
  fixture::File f = fixture::make_file(len, O_RDONLY);
  fake_tier::set_pool(4 * page());
  uint64_t served = 1;
  fixture::Planned p;
  void* at = fixture::map_and_serve(f.fd, len, PROT_READ, MAP_SHARED, fixture::default_options(), &served, &p);
  ordinary(at, len, f, served);
  all_reasons(p.plan, CMBMAP_CMB_FULL);
  fixture::remove_file(f);
}

Test(serve, no_permission_on_the_pool) {
  const size_t len = 16 * page();
  fixture::File f = fixture::make_file(len, O_RDONLY);
  fake_tier::deny(true);
  uint64_t served = 1;
  fixture::Planned p;
  void* at = fixture::map_and_serve(f.fd, len, PROT_READ, MAP_SHARED, fixture::default_options(), &served, &p);
  ordinary(at, len, f, served);
  all_reasons(p.plan, CMBMAP_NO_PERMISSION);
  fixture::remove_file(f);
}

Test(serve, failed_fill_maps_the_file_back) {
  // The drive cannot write into the device memory (EFAULT): the range must
  // not be served unfilled.
  const size_t len = 16 * page();
  fixture::File f = fixture::make_file(len, O_RDONLY);
  fake_tier::unwritable(true);
  uint64_t served = 1;
  fixture::Planned p;
  void* at = fixture::map_and_serve(f.fd, len, PROT_READ, MAP_SHARED, fixture::default_options(), &served, &p);
  ordinary(at, len, f, served);
  all_reasons(p.plan, CMBMAP_FILL_FAILED);
  fixture::remove_file(f);
}

Test(serve, file_shrunk_before_the_lease_falls_back) {
  // The file shrinks between planning and the lease: the plan is stale.
  const size_t len = 16 * page();
  fixture::File f = fixture::make_file(len, O_RDONLY);
  fixture::Planned p;
  fixture::plan_whole_file(f.fd, len, &p);
  void* at = mmap(nullptr, len, PROT_READ, MAP_SHARED, f.fd, 0);
  cr_assert_eq(truncate(f.path, (off_t)(len / 2)), 0);
  const serve::Request req{at, len, PROT_READ, MAP_SHARED, f.fd, 0, changes::epoch()};
  uint64_t served = serve::overlay(req, p.facts, fixture::default_options(), &p.plan);
  ordinary(at, len / 2, f, served);
  all_reasons(p.plan, CMBMAP_FILE_CHANGED);
  fixture::remove_file(f);
}

Test(serve, map_count_gate) {
  // More runs than vm.max_map_count leaves room for: nothing is served.
  const size_t len = 4 * page();
  fixture::File f = fixture::make_file(len, O_RDONLY);
  fixture::Planned p;
  fixture::plan_whole_file(f.fd, len, &p);
  const size_t n = 2 * 70000;  // alternating eligible / hole segments
  std::vector<Segment> segs(n);
  for (size_t i = 0; i < n; ++i) segs[i] = Segment{i * page(), page(), 0, 0, false, i % 2 ? CMBMAP_HOLE : CMBMAP_ELIGIBLE};
  Plan plan{segs.data(), n, n, n / 2 * page()};
  void* at = mmap(nullptr, len, PROT_READ, MAP_SHARED, f.fd, 0);
  const serve::Request req{at, len, PROT_READ, MAP_SHARED, f.fd, 0, changes::epoch()};
  uint64_t served = serve::overlay(req, p.facts, fixture::default_options(), &plan);
  cr_assert_eq(served, 0u);
  cr_assert_eq(segs[0].reason, CMBMAP_MAP_COUNT);
  cr_assert_eq(lease::held(), 0u, "the map-count gate comes before the lease");
  fixture::remove_file(f);
}

Test(serve, writable_needs_a_write_lease_on_an_own_open) {
  // A read-write fd this process did not open through the hook (inherited,
  // say) may be shared with another process: no write lease, not served.
  const size_t len = 8 * page();
  fixture::File f = fixture::make_file(len, O_RDWR);
  uint64_t served = 1;
  fixture::Planned p;
  void* at = fixture::map_and_serve(f.fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, fixture::default_options(),
                                    &served, &p);
  cr_assert_eq(served, 0u);
  all_reasons(p.plan, CMBMAP_WRITE_LEASE_DENIED);
  cr_assert(!fake_tier::is_cmb(at));
  fixture::remove_file(f);
}

Test(serve, own_change_during_the_serve_falls_back) {
  // This process's own write does not break its write lease: a serve that
  // overlaps a change of the file must not register what may be old bytes.
  const size_t len = 8 * page();
  fixture::File f = fixture::make_file(len, O_RDWR);
  lease::note_open(f.fd, O_RDWR);
  changes::starting();  // a write runs in another thread
  uint64_t served = 1;
  fixture::Planned p;
  void* at = fixture::map_and_serve(f.fd, len, PROT_READ, MAP_SHARED, fixture::default_options(), &served, &p);
  changes::finished();
  cr_assert_eq(served, 0u);
  all_reasons(p.plan, CMBMAP_FILE_CHANGED);
  cr_assert(!fake_tier::is_cmb(at));
  cr_assert(fixture::holds_file(at, len, f.fd));
  fixture::remove_file(f);
}

Test(serve, file_grown_before_the_lease_is_not_served_stale) {
  // Another process appends between planning (fstat) and the lease: the
  // bytes past the old end must not be served as zeros.
  const size_t size = 8 * page() + 100;
  fixture::File f = fixture::make_file(size, O_RDONLY);
  fixture::Planned p;
  fixture::plan_whole_file(f.fd, 9 * page(), &p);
  int other = open(f.path, O_WRONLY | O_APPEND);
  cr_assert_eq(write(other, "appended", 8), 8);
  close(other);
  void* at = mmap(nullptr, 9 * page(), PROT_READ, MAP_SHARED, f.fd, 0);
  const serve::Request req{at, 9 * page(), PROT_READ, MAP_SHARED, f.fd, 0, changes::epoch()};
  serve::overlay(req, p.facts, fixture::default_options(), &p.plan);
  cr_assert(fixture::holds_file(at, size + 8, f.fd), "the appended bytes read as zeros");
  if (fake_tier::is_cmb(at)) revoke::range(at, 9 * page(), CMBMAP_RECLAIMED);
  fixture::remove_file(f);
}

Test(serve, own_change_between_planning_and_the_lease_falls_back) {
  // The counter of this process's own changes is read before planning: a
  // write that ran (and ended) after the plan but before the lease makes
  // the plan stale, and a write lease does not see it.
  const size_t len = 8 * page();
  fixture::File f = fixture::make_file(len, O_RDWR);
  lease::note_open(f.fd, O_RDWR);
  const uint64_t epoch = changes::epoch();
  fixture::Planned p;
  fixture::plan_whole_file(f.fd, len, &p);
  changes::starting();  // a pwrite in another thread, start to end
  cr_assert_eq(pwrite(f.fd, "x", 1, 0), 1);
  changes::finished();
  void* at = mmap(nullptr, len, PROT_READ, MAP_SHARED, f.fd, 0);
  const serve::Request req{at, len, PROT_READ, MAP_SHARED, f.fd, 0, epoch};
  uint64_t served = serve::overlay(req, p.facts, fixture::default_options(), &p.plan);
  cr_assert_eq(served, 0u, "served from a plan older than the program's own write");
  all_reasons(p.plan, CMBMAP_FILE_CHANGED);
  fixture::remove_file(f);
}

Test(serve, write_lease_serve_without_changes) {
  const size_t len = 8 * page();
  fixture::File f = fixture::make_file(len, O_RDWR);
  lease::note_open(f.fd, O_RDWR);
  uint64_t served = 0;
  void* at = fixture::map_and_serve(f.fd, len, PROT_READ, MAP_SHARED, fixture::default_options(), &served);
  cr_assert_eq(served, len);
  cr_assert(lease::any_write_lease());
  cr_assert(fixture::holds_file(at, len, f.fd));
  revoke::range(at, len, CMBMAP_RECLAIMED);
  fixture::remove_file(f);
}

// A serve that reuses the fd of another range of its file, and must give
// that range back to make room: the fd stays open for the new range (it was
// closed with the range it came from, the new range registered with a
// closed fd, and its give-back, unable to map the file, left it
// inaccessible: the program crashed on its next read).
Test(serve, making_room_keeps_the_fd_the_serve_shares) {
  const size_t len = 4 * page();
  fixture::File f = fixture::make_file(len, O_RDONLY);
  fake_tier::set_pool(len);
  const Options opts = fixture::default_options();
  uint64_t served = 0;
  void* first = fixture::map_and_serve(f.fd, len, PROT_READ, MAP_SHARED, opts, &served);
  cr_assert_eq(served, len);
  registry::Range r0;
  cr_assert_eq(registry::collect((uintptr_t)first, len, &r0, 1), 1u);
  void* second = fixture::map_and_serve(f.fd, len, PROT_READ, MAP_SHARED, opts, &served);
  cr_assert_eq(served, len, "the second mapping was not served (room was not made)");
  cr_assert(!fake_tier::is_cmb(first), "the first range was not given back to make room");
  registry::Range r1;
  cr_assert_eq(registry::collect((uintptr_t)second, len, &r1, 1), 1u);
  cr_assert_eq(r1.fd, r0.fd, "the serve did not share the first range's fd: the test proves nothing");
  cr_assert_geq(fcntl(r1.fd, F_GETFD), 0, "the served range's fd was closed while making room for it");
  cr_assert_eq(revoke::range(second, len, CMBMAP_RECLAIMED), len);
  cr_assert(fixture::holds_file(second, len, f.fd), "the range given back does not read the file");
  cr_assert(fixture::holds_file(first, len, f.fd));
  fixture::remove_file(f);
}

// Debian's default soft RLIMIT_NOFILE is 1024, and every served file costs
// cmbmap an fd or two (its duplicate, its lease), all kept at or above a
// floor of 1000: 24 numbers, so a program mapping a hundred files had
// about ten of them served. With a soft limit under 2000 the floor is half
// of it (at least 256).
Test(serve, a_hundred_files_are_served_under_the_default_fd_limit, .timeout = 60) {
  rlimit r;
  getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_max < 1024) cr_skip_test("the hard RLIMIT_NOFILE is under 1024");
  r.rlim_cur = 1024;
  cr_assert_eq(setrlimit(RLIMIT_NOFILE, &r), 0);
  constexpr int kFiles = 100;
  const Options opts = fixture::default_options();
  std::vector<fixture::File> files;
  std::vector<void*> at;
  int served_whole = 0;
  for (int i = 0; i < kFiles; ++i) {
    files.push_back(fixture::make_file(4 * page(), O_RDONLY, (unsigned)i));
    uint64_t served = 0;
    at.push_back(fixture::map_and_serve(files.back().fd, 4 * page(), PROT_READ, MAP_SHARED, opts, &served));
    served_whole += served == 4 * page();
    close(files.back().fd);  // the program's fd: cmbmap keeps its own
    files.back().fd = -1;
  }
  cr_assert_eq(served_whole, kFiles, "%d of %d files were served under a soft fd limit of 1024", served_whole, kFiles);
  for (int i = 0; i < kFiles; ++i) {
    cr_assert(fake_tier::is_cmb(at[i]));
    revoke::range(at[i], 4 * page(), CMBMAP_RECLAIMED);
    fixture::remove_file(files[i]);
  }
}

// Where no fd number above the floor is left, a mapping stays ordinary and
// says why: NO_FD, not a failed fill or a lease the filesystem refused.
Test(serve, no_fd_left_above_the_floor_is_its_own_reason, .timeout = 60) {
  rlimit r;
  getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_max < 300) cr_skip_test("the hard RLIMIT_NOFILE is under 300");
  r.rlim_cur = 300;  // a floor of 256: 44 numbers, two per served file
  cr_assert_eq(setrlimit(RLIMIT_NOFILE, &r), 0);
  const Options opts = fixture::default_options();
  std::vector<fixture::File> files;
  std::vector<void*> at;
  int served_whole = 0, no_fd = 0, other = 0;
  for (int i = 0; i < 40; ++i) {
    files.push_back(fixture::make_file(4 * page(), O_RDONLY, (unsigned)i));
    uint64_t served = 0;
    fixture::Planned planned;
    at.push_back(fixture::map_and_serve(files.back().fd, 4 * page(), PROT_READ, MAP_SHARED, opts, &served, &planned));
    if (served == 4 * page()) ++served_whole;
    else if (planned.plan.segments[0].reason == CMBMAP_NO_FD) ++no_fd;
    else ++other;
    cr_assert(served == 4 * page() || fixture::holds_file(at.back(), 4 * page(), files.back().fd));
  }
  cr_assert_gt(served_whole, 0);
  cr_assert_gt(no_fd, 0, "every file was served: the limit did not bite");
  cr_assert_eq(other, 0, "%d mappings fell back for another reason", other);
  for (int i = 0; i < 40; ++i) {
    revoke::range(at[i], 4 * page(), CMBMAP_RECLAIMED);
    fixture::remove_file(files[i]);
  }
}

