// Giving served ranges back (shim/giveback/revoke.cpp) on the host with the
// fake CMB tier: after a give-back the range is the ordinary file mapping
// again (the kernel's pages, the file's bytes, the program's protection),
// the CMB memory is gone, the registry, cmbmap's fds and the lease are let
// go; part of a range splits it; a range replaced behind cmbmap's back is
// left alone; forget() only drops the registry entries.
#include <criterion/criterion.h>
#include <cerrno>
#include <sys/syscall.h>
#include <cstdio>
#include <cstring>
#include <string>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/stats.h"
#include "prim/prim.h"
#include "shim/core/core.h"
#include "shim/giveback/lease.h"
#include "shim/giveback/revoke.h"
#include "shim/tier/registry.h"
#include "test/unit/fake/fake_tier.h"
#include "test/unit/fake/fixture.h"

using namespace cmbmap;

namespace {

using fixture::page;

using fixture::Served;
Served serve(size_t pages, int prot = PROT_READ, int flags = MAP_SHARED) { return fixture::serve_file(pages, prot, flags); }

// cmbmap's own fds (above the floor) open now.
int own_fds() {
  int n = 0;
  for (int fd = prim::own_fd_floor(); fd < prim::own_fd_floor() + 64; ++fd) n += fcntl(fd, F_GETFD) >= 0;
  return n;
}

}  // namespace

TestSuite(revoke, .init = fixture::serving_setup);

Test(revoke, whole_range_becomes_the_file_again) {
  Served s = serve(32);
  const int fds = own_fds();
  cr_assert_geq(fds, 2, "no own fd for the range and the lease");
  errno = 4242;
  cr_assert_eq(revoke::range(s.at, s.len, CMBMAP_LEASE_BROKEN), s.len);
  cr_assert_eq(errno, 4242);
  cr_assert(!fake_tier::is_cmb(s.at));
  cr_assert_eq(fake_tier::held(), 0u);
  cr_assert(fixture::holds_file(s.at, s.len, s.f.fd));
  cr_assert(registry::empty());
  cr_assert_eq(lease::held(), 0u);
  cr_assert_eq(own_fds(), 0, "cmbmap's fds outlived the ranges that used them");
  cr_assert_eq(stats::get()->revoked_by_reason[CMBMAP_LEASE_BROKEN], s.len);
  cr_assert_eq(stats::get()->served_bytes, 0u);
  fixture::remove_file(s.f);
}

Test(revoke, middle_piece_splits_the_range) {
  Served s = serve(16);
  cr_assert_eq(revoke::range(s.at + 4 * page(), 4 * page(), CMBMAP_REMAPPED), 4 * page());
  cr_assert(fake_tier::is_cmb(s.at));
  cr_assert(!fake_tier::is_cmb(s.at + 4 * page()));
  cr_assert(fake_tier::is_cmb(s.at + 8 * page()));
  cr_assert(fixture::holds_file(s.at, s.len, s.f.fd), "bytes differ after a partial give-back");
  registry::Range pieces[4];
  cr_assert_eq(registry::collect((uintptr_t)s.at, s.len, pieces, 4), 2u);
  cr_assert_eq(pieces[1].file_offset, 8 * page(), "the right-hand piece lost its file offset");
  cr_assert_eq(lease::held(), 1u, "the lease went while ranges of the file are served");
  struct stat st;
  fstat(s.f.fd, &st);
  cr_assert_eq(revoke::file(st.st_dev, st.st_ino, CMBMAP_FILE_CHANGED), 12 * page());
  cr_assert(registry::empty());
  cr_assert_eq(lease::held(), 0u);
  cr_assert(fixture::holds_file(s.at, s.len, s.f.fd));
  fixture::remove_file(s.f);
}

Test(revoke, every_range_of_a_file_across_batches_and_no_other) {
  // Many ranges of one file (more than a batch), another file's ranges
  // between them: giving the file back takes all of its ranges, a batch at
  // a time, and none of the other's.
  constexpr int kRanges = 150;
  fixture::File a = fixture::make_file(page(), O_RDONLY, 1), b = fixture::make_file(page(), O_RDONLY, 2);
  uint8_t* at_a[kRanges];
  uint8_t* at_b[kRanges];
  for (int i = 0; i < kRanges; ++i) {
    uint64_t served = 0;
    at_a[i] = static_cast<uint8_t*>(fixture::map_and_serve(a.fd, page(), PROT_READ, MAP_SHARED,
                                                           fixture::default_options(), &served));
    cr_assert_eq(served, page(), "range %d of a not served", i);
    at_b[i] = static_cast<uint8_t*>(fixture::map_and_serve(b.fd, page(), PROT_READ, MAP_SHARED,
                                                           fixture::default_options(), &served));
    cr_assert_eq(served, page(), "range %d of b not served", i);
  }
  struct stat st;
  fstat(a.fd, &st);
  cr_assert_eq(revoke::file(st.st_dev, st.st_ino, CMBMAP_LEASE_BROKEN), kRanges * page());
  cr_assert_eq(stats::get()->revoked_by_reason[CMBMAP_LEASE_BROKEN], kRanges * page());
  for (int i = 0; i < kRanges; ++i) {
    cr_assert(!fake_tier::is_cmb(at_a[i]), "range %d of a still served", i);
    cr_assert(fixture::holds_file(at_a[i], page(), a.fd), "range %d of a differs from its file", i);
    cr_assert(fake_tier::is_cmb(at_b[i]), "range %d of b given back with a", i);
    cr_assert(fixture::holds_file(at_b[i], page(), b.fd), "range %d of b differs from its file", i);
  }
  fstat(b.fd, &st);
  cr_assert_eq(revoke::file(st.st_dev, st.st_ino, CMBMAP_LEASE_BROKEN), kRanges * page());
  cr_assert(registry::empty());
  cr_assert_eq(lease::held(), 0u);
  fixture::remove_file(a);
  fixture::remove_file(b);
}

Test(revoke, keeps_the_programs_protection_and_sharing) {
  Served s = serve(8, PROT_READ, MAP_PRIVATE);
  revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
  // A private file mapping again: writable by mprotect, copy-on-write.
  cr_assert_eq(mprotect(s.at, s.len, PROT_READ | PROT_WRITE), 0);
  s.at[5] ^= 0xff;
  uint8_t b;
  cr_assert_eq(pread(s.f.fd, &b, 1, 5), 1);
  cr_assert_eq(b, fixture::pattern(5), "a store to a private mapping reached the file");
  fixture::remove_file(s.f);
}

namespace {
// The VmFlags of the mapping holding addr, from /proc/self/smaps.
std::string vm_flags(const void* addr) {
  FILE* f = fopen("/proc/self/smaps", "r");
  char line[512];
  bool in = false;
  std::string flags;
  while (f && fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, ' ') == line + strcspn(line, " ") &&
        line[strcspn(line, " ") - 1] != ':')
      in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
    else if (in && !strncmp(line, "VmFlags:", 8))
      flags = line + 8;
  }
  if (f) fclose(f);
  return flags;
}
bool has_flag(const std::string& flags, const char* f) { return flags.find(std::string(" ") + f) != std::string::npos; }
}  // namespace

Test(revoke, keeps_what_the_program_set_on_the_range) {
  // mlock, MADV_DONTDUMP, MADV_DONTFORK on a served range: the file pages
  // that replace it carry them too.
  Served s = serve(8);
  cr_assert_eq(syscall(SYS_mlock, s.at, s.len), 0);  // the system call: ASan's mlock locks nothing
  cr_assert_eq(madvise(s.at, s.len, MADV_DONTDUMP), 0);
  cr_assert_eq(madvise(s.at + 2 * page(), 2 * page(), MADV_DONTFORK), 0);
  revoke::range(s.at, s.len, CMBMAP_LEASE_BROKEN);
  cr_assert(!fake_tier::is_cmb(s.at));
  const std::string first = vm_flags(s.at), middle = vm_flags(s.at + 2 * page());
  cr_assert(has_flag(first, "lo"), "not locked after the give-back: %s", first.c_str());
  cr_assert(has_flag(first, "dd"), "dumped after the give-back: %s", first.c_str());
  cr_assert(has_flag(middle, "dc"), "copied to a fork after the give-back: %s", middle.c_str());
  cr_assert(!has_flag(first, "dc"), "MADV_DONTFORK spread past its pages: %s", first.c_str());
  cr_assert(fixture::holds_file(s.at, s.len, s.f.fd));
  fixture::remove_file(s.f);
}

Test(revoke, replaced_behind_cmbmaps_back_is_left_alone) {
  // The program replaced the range with a raw system call: what is there
  // now is not cmbmap's to map the file over.
  Served s = serve(8);
  void* anon = (void*)prim::map(s.at, s.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  cr_assert_eq(anon, (void*)s.at);
  s.at[0] = 42;
  revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
  cr_assert_eq(s.at[0], 42, "cmbmap mapped the file over a mapping that was not its own");
  cr_assert(registry::empty());
  fixture::remove_file(s.f);
}

Test(revoke, forget_drops_only_the_registry_entries) {
  Served s = serve(8);
  cr_assert_eq(munmap(s.at, s.len), 0);  // the kernel removed it (what the munmap hook forwards)
  cr_assert_eq(revoke::forget(s.at, s.len), s.len);
  cr_assert(registry::empty());
  cr_assert_eq(lease::held(), 0u);
  cr_assert_eq(stats::get()->freed_bytes, s.len);
  cr_assert_eq(stats::get()->revoked_bytes, 0u, "forgetting is not a revocation");
  fixture::remove_file(s.f);
}

Test(revoke, unaligned_address_changes_nothing) {
  Served s = serve(4);
  cr_assert_eq(revoke::range(s.at + 1, page(), CMBMAP_REMAPPED), 0u);
  cr_assert(fake_tier::is_cmb(s.at));
  revoke::range(s.at, s.len, CMBMAP_REMAPPED);
  fixture::remove_file(s.f);
}

Test(revoke, inherited_ranges_in_a_child) {
  Served s = serve(8);
  cr_assert_eq(revoke::inherited(), s.len);
  cr_assert(registry::empty());
  cr_assert(!fake_tier::is_cmb(s.at));
  cr_assert(fixture::holds_file(s.at, s.len, s.f.fd));
  fixture::remove_file(s.f);
}

// The pieces of a split range share one fd: every piece is mapped back
// before it is closed.
Test(revoke, inherited_split_ranges_in_a_child) {
  Served s = serve(8);
  revoke::range(s.at + 3 * page(), page(), 0);  // the middle back: two ranges, one fd
  registry::Range piece;
  cr_assert_eq(registry::collect((uintptr_t)s.at, s.len, &piece, 1), 1u);
  cr_assert_eq(registry::count(), 2u);
  cr_assert_eq(revoke::inherited(), s.len - page());
  for (size_t pg = 0; pg < 8; ++pg) cr_assert(!fake_tier::is_cmb(s.at + pg * page()), "page %zu still CMB", pg);
  cr_assert(fixture::holds_file(s.at, s.len, s.f.fd));
  cr_assert(fcntl(piece.fd, F_GETFD) < 0, "the ranges' fd is still open");
  fixture::remove_file(s.f);
}

Test(revoke, mlock_locks_file_pages_in_place_of_served_ones) {
  // The kernel refuses to lock device pages (mlock fails with EREMOTEIO on
  // p2pmem; LTP madvise02): the locked part goes back to file pages first.
  Served s = serve(16);
  const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  cr_assert_eq(core::lock(s.at + 4 * pg + 100, 4 * pg, 0), 0, "mlock: %s", strerror(errno));
  cr_assert(!fake_tier::is_cmb(s.at + 4 * pg), "a locked page is still CMB");
  cr_assert(!fake_tier::is_cmb(s.at + 8 * pg), "the page holding the locked range's last byte is still CMB");
  cr_assert(fake_tier::is_cmb(s.at) && fake_tier::is_cmb(s.at + 9 * pg), "pages outside the locked range were given back");
  cr_assert(fixture::holds_file(s.at, s.len, s.f.fd));
  cr_assert_eq(stats::get()->revoked_by_reason[CMBMAP_REMAPPED], 5 * pg);
  munlock(s.at, s.len);
  core::unmap(s.at, s.len);
  fixture::remove_file(s.f);
}

Test(revoke, a_files_ranges_keep_their_settings_past_other_files_between_them) {
  // The file's ranges go back a batch at a time, reading /proc/self/smaps
  // once over the batch's span: other files' ranges between them, with
  // settings of their own, must not crowd the file's out.
  fixture::File a = fixture::make_file(page(), O_RDONLY, 1), b = fixture::make_file(page(), O_RDONLY, 2);
  auto map = [](fixture::File& f) {
    uint64_t served = 0;
    auto* p = static_cast<uint8_t*>(fixture::map_and_serve(f.fd, page(), PROT_READ, MAP_SHARED,
                                                           fixture::default_options(), &served));
    cr_assert_eq(served, page());
    cr_assert_eq(madvise(p, page(), MADV_DONTDUMP), 0);
    return p;
  };
  uint8_t* first = map(a);
  uint8_t* others[80];
  for (auto& o : others) o = map(b);
  uint8_t* last = map(a);
  struct stat st;
  fstat(a.fd, &st);
  cr_assert_eq(revoke::file(st.st_dev, st.st_ino, CMBMAP_LEASE_BROKEN), 2 * page());
  cr_assert(has_flag(vm_flags(first), "dd"), "dumped after the give-back: %s", vm_flags(first).c_str());
  cr_assert(has_flag(vm_flags(last), "dd"), "dumped after the give-back: %s", vm_flags(last).c_str());
  for (auto* o : others) cr_assert(fake_tier::is_cmb(o));
  fstat(b.fd, &st);
  revoke::file(st.st_dev, st.st_ino, CMBMAP_LEASE_BROKEN);
  fixture::remove_file(a);
  fixture::remove_file(b);
}
