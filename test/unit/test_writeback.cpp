// Writable served mappings on the host with the fake CMB tier: stores land
// in device memory, dirty tracking sees each page once, and a commit writes
// exactly the stored pages to the file (through the file here: the fake
// target has no NVMe char device), durable on request; a give-back keeps
// every store; a writeback that fails keeps its pages dirty, so a later one
// writes them; stores past end of file never grow it.
#include <criterion/criterion.h>
#include <csignal>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

#include "common/stats.h"
#include "prim/prim.h"
#include "shim/core/core.h"
#include "shim/core/serve.h"
#include "shim/giveback/changes.h"
#include "shim/giveback/commit.h"
#include "shim/giveback/dirty.h"
#include "shim/giveback/lease.h"
#include "shim/giveback/revoke.h"
#include "shim/giveback/writeback.h"
#include "shim/tier/registry.h"
#include "shim/tier/served_lock.h"
#include "test/unit/fake/fake_tier.h"
#include "test/unit/fake/fixture.h"
#include "test/unit/fake/syscall_watch.h"
#include "test/unit/fake/writers.h"

using namespace cmbmap;

using fixture::page;
using fixture::Served;
using namespace writers;

TestSuite(writeback, .init = fixture::serving_setup);

Test(writeback, commit_writes_exactly_the_stored_pages) {
  Served s = serve_writable(32 * page());
  const uint64_t faults0 = stats::get()->dirty_faults;
  store_pages(s, 3, 4);
  s.at[3 * page() + 18] = 1;  // a second store to a dirty page does not fault again
  cr_assert_eq(stats::get()->dirty_faults - faults0, 4u);
  writeback::Outcome o = commit::range(s.at, s.len, writeback::Mode::Durable);
  cr_assert_eq(o.err, 0);
  cr_assert_eq(o.bytes, 4 * page());
  cr_assert_eq(stats::get()->writeback_file_bytes, 4 * page());
  for (size_t k = 3; k < 7; ++k) cr_assert_eq(file_byte(s, k * page() + 17), stored(k));
  cr_assert_eq(file_byte(s, 3 * page() + 18), 1);
  cr_assert_eq(file_byte(s, 8 * page() + 17), fixture::pattern(8 * page() + 17));
  // Clean now: nothing more to write, and the range is still served.
  cr_assert_eq(commit::range(s.at, s.len, writeback::Mode::Current).bytes, 0u);
  cr_assert(fake_tier::is_cmb(s.at));
  store_pages(s, 3, 1);  // and a new store dirties the page anew
  cr_assert_eq(commit::range(s.at, s.len, writeback::Mode::Current).bytes, page());
  revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
  fixture::remove_file(s.f);
}

Test(writeback, shared_validate_stores_are_tracked) {
  // A writable MAP_SHARED_VALIDATE mapping is a writable shared one: its
  // stores are tracked and reach the file.
  fixture::File f = fixture::make_file(8 * page(), O_RDWR);
  lease::note_open(f.fd, O_RDWR);
  uint64_t served = 0;
  auto* at = static_cast<uint8_t*>(fixture::map_and_serve(f.fd, 8 * page(), PROT_READ | PROT_WRITE,
                                                          MAP_SHARED_VALIDATE, fixture::default_options(), &served));
  cr_assert_eq(served, 8 * page());
  at[5 * page()] = 0x42;
  cr_assert(dirty::any(), "the stores of a MAP_SHARED_VALIDATE mapping are not tracked");
  revoke::range(at, 8 * page(), CMBMAP_RECLAIMED);
  uint8_t b = 0;
  cr_assert_eq(pread(f.fd, &b, 1, (off_t)(5 * page())), 1);
  cr_assert_eq(b, 0x42, "a store to a MAP_SHARED_VALIDATE mapping never reached the file");
  fixture::remove_file(f);
}

Test(writeback, append_only_open_writes_at_the_pages_offset) {
  // The program opened the file O_APPEND: a write through its open file
  // (no passthrough here) must still land at the page's offset, not at
  // the end (pwrite on an O_APPEND fd appends on Linux).
  fixture::File f = fixture::make_file(8 * page(), O_RDWR | O_APPEND);
  lease::note_open(f.fd, O_RDWR);
  uint64_t served = 0;
  auto* at = static_cast<uint8_t*>(fixture::map_and_serve(f.fd, 8 * page(), PROT_READ | PROT_WRITE, MAP_SHARED,
                                                          fixture::default_options(), &served));
  cr_assert_eq(served, 8 * page());
  at[2 * page() + 1] = 0x99;
  cr_assert_eq(commit::range(at, 8 * page(), writeback::Mode::Durable).err, 0);
  struct stat st;
  fstat(f.fd, &st);
  cr_assert_eq((size_t)st.st_size, 8 * page(), "the writeback appended to the file");
  uint8_t b = 0;
  cr_assert_eq(pread(f.fd, &b, 1, (off_t)(2 * page() + 1)), 1);
  cr_assert_eq(b, 0x99, "the store did not reach its page");
  revoke::range(at, 8 * page(), CMBMAP_RECLAIMED);
  fixture::remove_file(f);
}

Test(writeback, populate_write_on_a_clean_range) {
  // MADV_POPULATE_WRITE prefaults writable pages; on a served writable
  // range it must work as on an ordinary one (the kernel would meet the
  // clean pages' write-protection), and the pages count as stored.
  Served s = serve_writable(8 * page());
  errno = 0;
  cr_assert_eq(core::advise(s.at, s.len, MADV_POPULATE_WRITE), 0, "MADV_POPULATE_WRITE failed (errno %d)", errno);
  cr_assert(fake_tier::is_cmb(s.at));
  cr_assert_eq(commit::range(s.at, s.len, writeback::Mode::Current).bytes, s.len);
  revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
  fixture::remove_file(s.f);
}

Test(writeback, give_back_keeps_every_store) {
  Served s = serve_writable(16 * page());
  store_pages(s, 0, 16);
  cr_assert_eq(revoke::range(s.at, s.len, CMBMAP_LEASE_BROKEN), s.len);
  cr_assert(!fake_tier::is_cmb(s.at));
  cr_assert(!dirty::any());
  for (size_t k = 0; k < 16; ++k) {
    cr_assert_eq(s.at[k * page() + 17], stored(k), "page %zu lost its store in the mapping", k);
    cr_assert_eq(file_byte(s, k * page() + 17), stored(k), "page %zu lost its store in the file", k);
  }
  s.at[0] = 9;  // file pages now: stores need no tracking
  fixture::remove_file(s.f);
}

Test(writeback, failed_writeback_keeps_pages_dirty) {
  // Writes past RLIMIT_FSIZE fail (EFBIG): the pages must stay dirty and
  // reach the file once writing works again.
  Served s = serve_writable(16 * page());
  store_pages(s, 10, 2);
  const rlimit old = fail_writes_past(8 * page());
  writeback::Outcome o = commit::range(s.at, s.len, writeback::Mode::Current);
  cr_assert_neq(o.err, 0, "the writeback did not report its failure");
  cr_assert_geq(stats::get()->writeback_errors, 1u);
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
  o = commit::range(s.at, s.len, writeback::Mode::Current);
  cr_assert_eq(o.err, 0);
  cr_assert_eq(o.bytes, 2 * page(), "pages of the failed writeback were not written later");
  cr_assert_eq(file_byte(s, 10 * page() + 17), stored(10));
  cr_assert_eq(file_byte(s, 11 * page() + 17), stored(11));
  revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
  fixture::remove_file(s.f);
}

Test(writeback, give_back_after_a_failed_write_keeps_the_range) {
  // The stores cannot be written (writes past RLIMIT_FSIZE fail, as a
  // failing drive would): giving the range back would drop them, so it
  // stays served, and the next fsync reports the failure.
  Served s = serve_writable(16 * page());
  store_pages(s, 10, 2);
  const rlimit old = fail_writes_past(8 * page());
  cr_assert_eq(revoke::range(s.at, s.len, CMBMAP_LEASE_BROKEN), 0u, "a range whose stores failed to write was given back");
  cr_assert(fake_tier::is_cmb(s.at), "the range is no longer served");
  cr_assert_eq(s.at[10 * page() + 17], stored(10), "the store is gone from the mapping");
  cr_assert_eq(s.at[11 * page() + 17], stored(11));
  cr_assert(registry::overlaps((uintptr_t)s.at, s.len));
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
  // fsync: the stores are written now, and the earlier failure is reported once.
  cr_assert_eq(core::syncing(s.f.fd), EIO, "the failed writeback was not reported by the next fsync");
  cr_assert_eq(core::syncing(s.f.fd), 0, "a writeback error was reported twice");
  cr_assert_eq(file_byte(s, 10 * page() + 17), stored(10));
  cr_assert_eq(file_byte(s, 11 * page() + 17), stored(11));
  cr_assert_eq(revoke::range(s.at, s.len, CMBMAP_LEASE_BROKEN), s.len);
  cr_assert_eq(s.at[10 * page() + 17], stored(10));
  fixture::remove_file(s.f);
}

Test(writeback, stores_after_the_exit_writeback_are_kept) {
  // exit: the stores go to the file, durably, and the ranges become file
  // pages, so a store another thread makes after that (before the process
  // is gone) lands in the page cache as on an ordinary mapping.
  Served s = serve_writable(8 * page());
  store_pages(s, 0, 8);
  commit::at_exit();
  for (size_t k = 0; k < 8; ++k) cr_assert_eq(file_byte(s, k * page() + 17), stored(k));
  s.at[3 * page() + 40] = 0x3c;  // a late store
  cr_assert_eq(file_byte(s, 3 * page() + 40), 0x3c, "a store after the exit writeback was lost");
  cr_assert(!fake_tier::is_cmb(s.at));
  fixture::remove_file(s.f);
}

Test(writeback, file_commit_reaches_every_range_of_the_file) {
  // A sparse file whose data pages are separated by holes: one writable
  // mapping, 70 served ranges. fsync and friends (commit::file) must write
  // the stores of all of them, not only of the first batch of 64.
  const size_t runs = 70;
  fixture::File f = fixture::make_file(2 * runs * page(), O_RDWR);
  for (size_t k = 0; k < runs; ++k)
    cr_assert_eq(fallocate(f.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)((2 * k + 1) * page()),
                           (off_t)page()), 0);
  fsync(f.fd);
  lease::note_open(f.fd, O_RDWR);
  uint64_t served = 0;
  auto* at = static_cast<uint8_t*>(fixture::map_and_serve(f.fd, 2 * runs * page(), PROT_READ | PROT_WRITE,
                                                          MAP_SHARED, fixture::default_options(), &served));
  if (served != runs * page()) cr_skip_test("the filesystem merged the extents (served %llu)", (unsigned long long)served);
  cr_assert_eq(registry::count(), runs);
  for (size_t k = 0; k < runs; ++k) at[2 * k * page() + 5] = (uint8_t)(k + 1);
  struct stat st;
  fstat(f.fd, &st);
  writeback::Outcome o = commit::file(st.st_dev, st.st_ino, writeback::Mode::Durable);
  cr_assert_eq(o.err, 0);
  cr_assert_eq(o.bytes, runs * page());
  for (size_t k = 0; k < runs; ++k) {
    uint8_t b = 0;
    cr_assert_eq(pread(f.fd, &b, 1, (off_t)(2 * k * page() + 5)), 1);
    cr_assert_eq(b, (uint8_t)(k + 1), "range %zu: its store did not reach the file", k);
  }
  revoke::range(at, 2 * runs * page(), CMBMAP_RECLAIMED);
  fixture::remove_file(f);
}

Test(writeback, stores_past_eof_do_not_grow_the_file) {
  const size_t size = 3 * page() + 100;
  Served s = serve_writable(size);
  s.at[size - 1] = 0xee;       // the last byte of the file
  s.at[size + 50] = 0xdd;      // past EOF in the last page
  cr_assert_eq(commit::range(s.at, s.len, writeback::Mode::Durable).err, 0);
  struct stat st;
  fstat(s.f.fd, &st);
  cr_assert_eq((size_t)st.st_size, size, "a store past EOF grew the file");
  cr_assert_eq(file_byte(s, size - 1), 0xee);
  // The kernel zeroes a page's tail past EOF when it writes the page back:
  // so does cmbmap, and after the file grows both read zeros there, even
  // once the page is stored to and written back again.
  cr_assert_eq(s.at[size + 50], 0, "the store past EOF is still in the mapping after its writeback");
  core::resizing(s.f.fd, (off_t)s.len);
  cr_assert_eq(ftruncate(s.f.fd, (off_t)s.len), 0);
  core::file_changed();
  cr_assert(fake_tier::is_cmb(s.at), "growing the file gave the range back");
  cr_assert_eq(s.at[size + 50], 0);
  cr_assert_eq(file_byte(s, size + 50), 0);
  s.at[size - 2] = 0x11;
  cr_assert_eq(commit::range(s.at, s.len, writeback::Mode::Durable).err, 0);
  cr_assert_eq(file_byte(s, size + 50), 0, "an old store past EOF reached the file after it grew");
  revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
  fixture::remove_file(s.f);
}

namespace {

struct Watcher {
  uint64_t total;            // what the whole writeback writes
  uint64_t seen_mid = 0;     // holds of the lock that met it part-way
  bool done = false;
};

// Another thread takes the served-ranges lock again and again, as a mapping
// call would, and counts the times it got it with the writeback part-way.
void* take_the_lock(void* arg) {
  auto* w = static_cast<Watcher*>(arg);
  while (!__atomic_load_n(&w->done, __ATOMIC_ACQUIRE)) {
    served_lock::Hold hold;
    const uint64_t so_far = written_so_far();
    if (so_far > 0 && so_far < w->total) ++w->seen_mid;
  }
  return nullptr;
}

}  // namespace

Test(writeback, other_threads_take_the_lock_while_a_long_writeback_runs) {
  // A whole-mapping writeback does its I/O a window at a time and lets
  // other threads' mapping calls in between: they do not wait for all of it.
  constexpr size_t kPages = 4096;  // 16 MiB: many windows
  Served s = serve_writable(kPages * page());
  store_pages(s, 0, kPages);
  Watcher w{kPages * page()};
  pthread_t t;
  pthread_create(&t, nullptr, take_the_lock, &w);
  const writeback::Outcome o = commit::range(s.at, s.len, writeback::Mode::Durable);
  __atomic_store_n(&w.done, true, __ATOMIC_RELEASE);
  pthread_join(t, nullptr);
  cr_assert_eq(o.err, 0);
  cr_assert_eq(o.bytes, kPages * page());
  cr_assert_gt(w.seen_mid, 0u, "no other thread got the lock during the writeback");
  for (size_t k = 0; k < kPages; k += 97) cr_assert_eq(file_byte(s, k * page() + 17), stored(k), "page %zu", k);
  revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
  fixture::remove_file(s.f);
}

namespace {

// Each of those stores is in the mapping and in the file.
void expect_every_other_page(const Served& s, size_t pages, int round) {
  for (size_t k = 0; k < pages; k += 2) {
    cr_assert_eq(s.at[k * page() + 17], stored(k), "round %d: page %zu lost its store in the mapping", round, k);
    cr_assert_eq(file_byte(s, k * page() + 17), stored(k), "round %d: page %zu lost its store in the file", round, k);
  }
}

struct MidWindow {
  uint64_t window_bytes;     // what one window writes
  uint64_t total;
  uint64_t seen_inside = 0;  // holds of the lock that met a window part-written
  bool done = false;
};

// Takes the served-ranges lock again and again, as a mapping call would,
// and counts the times a window's writes were part-way: the writeback does
// its writes without the lock.
void* take_the_lock_mid_window(void* arg) {
  auto* w = static_cast<MidWindow*>(arg);
  while (!__atomic_load_n(&w->done, __ATOMIC_ACQUIRE)) {
    served_lock::Hold hold;
    const uint64_t so_far = written_so_far();
    if (so_far > 0 && so_far < w->total && so_far % w->window_bytes != 0) ++w->seen_inside;
  }
  return nullptr;
}

}  // namespace

Test(writeback, other_threads_take_the_lock_while_a_window_is_written) {
  // Every other page stored: a 1 MiB window is 128 one-page writes. Holding
  // the lock across a window's writes (as before), another thread could
  // only ever see whole windows written.
  constexpr size_t kPages = 2048;
  Served s = serve_writable(kPages * page());
  store_every_other_page(s, kPages);
  MidWindow w{(1u << 20) / 2, kPages / 2 * page()};
  pthread_t t;
  pthread_create(&t, nullptr, take_the_lock_mid_window, &w);
  const writeback::Outcome o = commit::range(s.at, s.len, writeback::Mode::Durable);
  __atomic_store_n(&w.done, true, __ATOMIC_RELEASE);
  pthread_join(t, nullptr);
  cr_assert_eq(o.err, 0);
  cr_assert_eq(o.bytes, kPages / 2 * page());
  cr_assert_gt(w.seen_inside, 0u, "no other thread got the lock while a window was being written");
  expect_every_other_page(s, kPages, 0);
  revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
  fixture::remove_file(s.f);
}

namespace {

struct GiveBack {
  Served* s;
  size_t given = 0;
};

// Gives the range back once the writeback is part-way (a lease break or the
// program's own change arriving meanwhile).
void* give_back_midway(void* arg) {
  auto* g = static_cast<GiveBack*>(arg);
  while (written_so_far() == 0) sched_yield();
  g->given = revoke::range(g->s->at, g->s->len, CMBMAP_LEASE_BROKEN);
  return nullptr;
}

}  // namespace

// Gives back two pages near the end of the first window once its writes
// have begun: their own stores are then taken (no longer marked dirty) and
// not yet written.
void* give_back_in_the_window(void* arg) {
  auto* g = static_cast<GiveBack*>(arg);
  while (written_so_far() == 0) sched_yield();
  g->given = revoke::range(g->s->at + 252 * page(), 2 * page(), CMBMAP_LEASE_BROKEN);
  return nullptr;
}

Test(writeback, give_back_of_pages_being_written_waits_for_their_writes) {
  constexpr size_t kPages = 512;
  for (int round = 0; round < 8; ++round) {
    Served s = serve_writable(kPages * page());
    store_every_other_page(s, kPages);
    GiveBack g{&s};
    pthread_t t;
    pthread_create(&t, nullptr, give_back_in_the_window, &g);
    const writeback::Outcome o = commit::range(s.at, s.len, writeback::Mode::Durable);
    pthread_join(t, nullptr);
    cr_assert_eq(o.err, 0);
    cr_assert_eq(g.given, 2 * page(), "round %d: the two pages were not given back", round);
    cr_assert_eq(commit::range(s.at, s.len, writeback::Mode::Durable).err, 0);
    expect_every_other_page(s, kPages, round);
    revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
    fixture::remove_file(s.f);
    __atomic_store_n(&stats::get()->writeback_file_bytes, 0, __ATOMIC_RELEASE);
  }
}

Test(writeback, give_back_while_a_window_is_written_keeps_every_store) {
  // Every other page stored: windows of many small writes, done without the
  // lock, so the give-back arrives in the middle of one. It must wait for
  // that window's writes: their pages are no longer marked dirty, and
  // file pages put in their place would be written back over the stores.
  constexpr size_t kPages = 2048;
  for (int round = 0; round < 4; ++round) {
    Served s = serve_writable(kPages * page());
    store_every_other_page(s, kPages);
    GiveBack g{&s};
    pthread_t t;
    pthread_create(&t, nullptr, give_back_midway, &g);
    const writeback::Outcome o = commit::range(s.at, s.len, writeback::Mode::Durable);
    pthread_join(t, nullptr);
    cr_assert_eq(o.err, 0);
    cr_assert_eq(g.given, s.len, "the range was not given back");
    expect_every_other_page(s, kPages, round);
    fixture::remove_file(s.f);
    __atomic_store_n(&stats::get()->writeback_file_bytes, 0, __ATOMIC_RELEASE);
  }
}

Test(writeback, give_back_during_a_long_writeback_keeps_every_store) {
  constexpr size_t kPages = 4096;
  Served s = serve_writable(kPages * page());
  store_pages(s, 0, kPages);
  GiveBack g{&s};
  pthread_t t;
  pthread_create(&t, nullptr, give_back_midway, &g);
  const writeback::Outcome o = commit::range(s.at, s.len, writeback::Mode::Durable);
  pthread_join(t, nullptr);
  cr_assert_eq(o.err, 0);
  cr_assert_eq(g.given, s.len, "the range was not given back");
  cr_assert(!fake_tier::is_cmb(s.at));
  cr_assert(!dirty::any());
  for (size_t k = 0; k < kPages; ++k) {
    cr_assert_eq(s.at[k * page() + 17], stored(k), "page %zu lost its store in the mapping", k);
    cr_assert_eq(file_byte(s, k * page() + 17), stored(k), "page %zu lost its store in the file", k);
  }
  fixture::remove_file(s.f);
}

namespace {

struct Reuse {
  Served* s;
  int decoy;        // the program's other file, dup2'ed over cmbmap's fd
  int moved_from = -1;
};

// Part-way through the writeback, the program reuses the number of
// cmbmap's fd for the range (dup2 of another file over it), as it may: the
// close/dup2 hook first moves cmbmap's fd out of the way, as here
// (core/file_events.cpp keep_own_fd; its in_vfork_child guard needs the
// library's constructor, which this test binary does not run).
void* reuse_fd_midway(void* arg) {
  auto* r = static_cast<Reuse*>(arg);
  while (written_so_far() == 0) sched_yield();
  registry::Range now;
  if (registry::collect((uintptr_t)r->s->at, r->s->len, &now, 1) != 1) return nullptr;
  r->moved_from = now.fd;
  {
    served_lock::Hold hold;
    writeback::wait_for_writes(0, 0, now.fd);
    const int moved = prim::dup_above_floor(now.fd);
    if (moved < 0) return nullptr;
    registry::relocate_fd(now.fd, moved);
    lease::relocate_fd(now.fd, moved);
  }
  dup2(r->decoy, now.fd);
  return nullptr;
}

}  // namespace

Test(writeback, fd_reuse_during_a_writeback_never_writes_into_the_programs_file) {
  // The writes run without the lock: the fd move must wait for those using
  // the fd, or they would go on into whatever the program put at its number.
  constexpr size_t kPages = 2048;
  Served s = serve_writable(kPages * page());
  store_every_other_page(s, kPages);
  char decoy_path[] = "/tmp/cmbmap-decoy.XXXXXX";
  const int decoy = mkstemp(decoy_path);
  cr_assert_geq(decoy, 0);
  Reuse r{&s, decoy};
  pthread_t t;
  pthread_create(&t, nullptr, reuse_fd_midway, &r);
  const writeback::Outcome o = commit::range(s.at, s.len, writeback::Mode::Durable);
  pthread_join(t, nullptr);
  cr_assert_geq(r.moved_from, 0, "the range had no fd to reuse");
  struct stat st;
  cr_assert_eq(fstat(decoy, &st), 0);
  cr_assert_eq(st.st_size, 0, "the writeback wrote %lld bytes into the program's other file", (long long)st.st_size);
  cr_assert_eq(o.err, 0);
  cr_assert_eq(commit::range(s.at, s.len, writeback::Mode::Durable).err, 0);
  expect_every_other_page(s, kPages, 0);
  revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
  close(decoy);
  unlink(decoy_path);
  fixture::remove_file(s.f);
}

// Two writers at once, and a range changed under a writer: a writer is held
// still in a signal handler between two of its writes (outside the lock), as
// slow I/O would hold it. (Found in review.)
namespace {

// A writable served range of `pages` pages (2 MiB: two windows), every
// other page stored, and B, a durable commit of it (msync(MS_SYNC)) held
// still in its first window.
struct PausedCommit {
  Served s;
  Job b;
  pthread_t tb;
};
void pause_a_durable_commit(PausedCommit* c, size_t pages = 512) {
  install_pause();
  for (int attempt = 0; attempt < 20; ++attempt) {
    c->s = serve_writable(pages * page());
    store_every_other_page(c->s, pages);
    c->b = Job{c->s.at, c->s.len, writeback::Mode::Durable};
    c->b.check = &c->s;
    // Paused within its first window (half of its 1 MiB is stored): ready.
    if (start_paused(&c->b, &c->tb, (1u << 20) / 2)) return;
    // Too late (B ended, or left its first window, before the signal came).
    forget(c->s);
  }
  cr_assert_fail("B could not be paused in its first window in 20 tries");
}

}  // namespace

// msync(MS_SYNC) of [0, 2 MiB) (B) runs; meanwhile another writeback (A: the
// watcher's, a read's, another thread's msync) of [1 MiB, 2 MiB) starts: B's
// pin is on [0, 1 MiB), so A does not wait, takes its first window's pages and
// writes them without the lock. B then reaches [1 MiB, 2 MiB), finds those
// pages clean (taken by A, not yet written), skips them and returns "durable".
Test(writeback, a_durable_commit_waits_for_another_writers_pages, .timeout = 120) {
  PausedCommit c;
  pause_a_durable_commit(&c);
  Served& s = c.s;
  Job& b = c.b;
  const uint64_t b_wrote = written_so_far();
  pthread_t ta;
  Job a{s.at + (1u << 20), 1u << 20, writeback::Mode::Current};
  pthread_create(&ta, nullptr, run_commit, &a);
  set_a(ta);
  while (written_so_far() == b_wrote) sched_yield();
  if (!pause_thread(ta, paused_so_far(), &a.done)) {
    release_a();  // the signal may yet reach A as it ends
    release_b();
    pthread_join(c.tb, nullptr);
    pthread_join(ta, nullptr);
    cr_skip_test("A ended before it could be paused (a loaded machine): inconclusive");
  }
  // Let B go on (A stays paused in its window, its pages taken, not written).
  // B must wait for A; a B that returns meanwhile checks the file as it
  // returns. A is let go once B returned or after a second (B waiting, as it
  // should: then B checks after A's writes).
  release_b();
  for (int i = 0; i < 1000 && !__atomic_load_n(&b.done, __ATOMIC_ACQUIRE); ++i) usleep(1000);
  release_a();
  pthread_join(c.tb, nullptr);
  pthread_join(ta, nullptr);
  // B said: every store in [0, 2 MiB) is in the file, durably.
  cr_assert_eq(b.o.err, 0);
  cr_assert_eq(b.missing, 0u, "the durable commit returned with %zu stored pages not in the file (first: page %zu)",
               b.missing, b.first_missing);
  revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
  fixture::remove_file(s.f);
}

// msync(MS_SYNC) of [0, 2 MiB) runs; while its first window is written, one
// page at 1.5 MiB is given back (an mprotect/madvise/mlock of one page by
// another thread). The piece sees its range changed and returns; the rest of
// its range, still served and dirty, is not written, and the commit reports
// success.
Test(writeback, a_durable_commit_writes_the_rest_of_a_range_split_meanwhile, .timeout = 120) {
  PausedCommit c;
  pause_a_durable_commit(&c);
  cr_assert_eq(revoke::range(c.s.at + 384 * page(), page(), CMBMAP_REMAPPED), page());
  release_b();
  pthread_join(c.tb, nullptr);
  // Page 384 was given back with its store (written by its give-back).
  cr_assert_eq(c.b.o.err, 0);
  cr_assert_eq(c.b.missing, 0u, "the durable commit returned 0 with %zu stored pages not in the file (first: page %zu)",
               c.b.missing, c.b.first_missing);
}

// The program replaces a range behind cmbmap's back (a raw mmap system call
// over it) while a window of it is written without the lock. The give-back
// that finds it no longer cmbmap's closes the range's fd: it must wait for
// those writes, or they go on into whatever the program opens at that number.
namespace {
struct Give {
  const Served* s;
  int done;
  int reason = CMBMAP_REMAPPED;
};
void* give_back_range(void* arg) {
  auto* g = static_cast<Give*>(arg);
  revoke::range(g->s->at, g->s->len, g->reason);
  __atomic_store_n(&g->done, 1, __ATOMIC_RELEASE);
  return nullptr;
}
}  // namespace

Test(writeback, a_range_replaced_behind_cmbmaps_back_keeps_its_fd_until_its_writes_end, .timeout = 120) {
  PausedCommit c;
  pause_a_durable_commit(&c);
  Served& s = c.s;
  c.b.check = nullptr;  // its memory is replaced below
  registry::Range now;
  cr_assert_eq(registry::collect((uintptr_t)s.at, s.len, &now, 1), 1u);
  pthread_t tg;
  // Readable memory where the range was: writes from it would succeed.
  void* over = (void*)syscall(SYS_mmap, s.at, s.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                              -1, 0);
  cr_assert_eq(over, s.at);
  Give g{&s, 0};
  pthread_create(&tg, nullptr, give_back_range, &g);
  // Not a timing: the writer stays paused until the give-back is done or 1 s passed.
  for (int i = 0; i < 1000 && !__atomic_load_n(&g.done, __ATOMIC_ACQUIRE); ++i) usleep(1000);
  // The program opens a file; it gets the number if cmbmap let it go.
  char decoy_path[] = "/tmp/cmbmap-decoy.XXXXXX";
  const int decoy = mkstemp(decoy_path);
  cr_assert_geq(decoy, 0);
  if (fcntl(now.fd, F_GETFD) < 0) dup2(decoy, now.fd);
  release_b();
  pthread_join(c.tb, nullptr);
  pthread_join(tg, nullptr);
  struct stat st;
  cr_assert_eq(fstat(decoy, &st), 0);
  cr_assert_eq(st.st_size, 0, "the writeback wrote %lld bytes into the program's other file", (long long)st.st_size);
  cr_assert_eq(registry::collect((uintptr_t)s.at, s.len, &now, 1), 0u, "the replaced range is still registered");
  close(decoy);
  unlink(decoy_path);
  fixture::remove_file(s.f);
}

// msync(MS_SYNC) of a 1 MiB range (one window) runs; while the window is
// written, another process's open breaks the lease and the range is given
// back (its give-back waits for the window, writes the rest and closes the
// range's fd). The msync then has nothing left to do: its stores are in the
// file. It must not go on as if its range were still there: syncing the
// closed fd failed, and the program's msync said EIO (VM test
// writable_threads_and_break, once in a fresh-clone check).
Test(writeback, a_range_given_back_during_its_last_window_commits_without_error, .timeout = 120) {
  PausedCommit c;
  pause_a_durable_commit(&c, 256);
  pthread_t tg;
  Give g{&c.s, 0};
  g.reason = CMBMAP_LEASE_BROKEN;
  pthread_create(&tg, nullptr, give_back_range, &g);
  // Not a timing: the give-back waits for B's window; B stays paused until
  // the give-back is waiting (or 0.2 s passed: then B goes first, and the
  // test proves less).
  usleep(200 * 1000);
  release_b();
  pthread_join(c.tb, nullptr);
  pthread_join(tg, nullptr);
  cr_assert(!fake_tier::is_cmb(c.s.at), "the range was not given back");
  cr_assert_eq(c.b.o.err, 0, "the durable commit of a range given back meanwhile failed (errno %d)", c.b.o.err);
  cr_assert_eq(c.b.missing, 0u, "the durable commit returned with %zu stored pages not in the file", c.b.missing);
  fixture::remove_file(c.s.f);
}

// A second writeback of a range (the watcher's periodic one, another
// thread's msync) waits for the first's window, written without the lock.
// It must not hold the served-ranges lock meanwhile: every mapping call of
// the process would wait behind a write it has no part in (writeback_stall:
// a thread's mmap waited a whole window behind the watcher).

Test(writeback, a_writeback_waiting_for_another_does_not_hold_the_lock, .timeout = 120) {
  PausedCommit c;
  pause_a_durable_commit(&c);
  Job w{c.s.at, c.s.len, writeback::Mode::Current};
  w.check = &c.s;
  pthread_t tw, tm;
  pthread_create(&tw, nullptr, run_commit, &w);
  // Not a timing: W cannot finish while B's window is in flight; the pause
  // only gives it time to reach its wait (a W that has not is inconclusive).
  usleep(200 * 1000);
  cr_assert(!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE), "W finished while B's window was in flight");
  int locked = 0;
  pthread_create(&tm, nullptr, take_the_lock_once, &locked);
  const bool got = set_within_2s(&locked);
  release_b();
  pthread_join(c.tb, nullptr);
  pthread_join(tw, nullptr);
  pthread_join(tm, nullptr);
  cr_assert(got, "a mapping call waited for the lock while a writeback waited for another's window");
  // Both writebacks still did their work: every store is in the file.
  cr_assert_eq(c.b.o.err, 0);
  cr_assert_eq(w.o.err, 0);
  cr_assert_eq(c.b.missing, 0u);
  cr_assert_eq(w.missing, 0u, "W returned with %zu stored pages not in the file", w.missing);
  revoke::range(c.s.at, c.s.len, CMBMAP_RECLAIMED);
  fixture::remove_file(c.s.f);
}

// Taking a window's pages write-protects them: an mprotect and its TLB
// shootdown, milliseconds on a busy machine. It must not hold the
// served-ranges lock either (writeback_stall: another thread's mmap and
// munmap each waited for a window's take).
Test(writeback, taking_a_windows_pages_does_not_hold_the_lock, .timeout = 120) {
  Served s = serve_writable(256 * page());
  store_every_other_page(s, 256);
  Job w{s.at, s.len, writeback::Mode::Current};
  w.check = &s;
  const WhileHeld h = run_with_call_held(SYS_mprotect, &w);  // the take's write-protection
  cr_assert(h.held, "the writeback write-protected nothing");
  cr_assert(h.lock_free, "a mapping call waited for the lock while a writeback took a window's pages");
  cr_assert_eq(w.o.err, 0);
  cr_assert_eq(w.missing, 0u, "the writeback returned with %zu stored pages not in the file", w.missing);
  forget(s);
}

// The take holds the dirty tracker's lock across that mprotect (the fault
// handler must not see a page half taken). A mapping call on memory cmbmap
// does not track asks the tracker too (munmap: "are these pages tracked?")
// and must not wait for it (writeback_stall: another thread's munmap spun
// on it for a take's TLB shootdown).
namespace {
struct Ask {
  const void* at;
  int answered;
  bool tracked;
};
void* ask_the_tracker(void* arg) {
  auto* a = static_cast<Ask*>(arg);
  a->tracked = dirty::tracks((uintptr_t)a->at, page());
  __atomic_store_n(&a->answered, 1, __ATOMIC_RELEASE);
  return nullptr;
}
}  // namespace

Test(writeback, asking_about_untracked_memory_does_not_wait_for_a_take, .timeout = 120) {
  Served s = serve_writable(256 * page());
  store_every_other_page(s, 256);
  void* other = mmap(nullptr, page(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(other, MAP_FAILED);
  syscall_watch::hold_next(SYS_mprotect);  // the take's write-protection
  Job w{s.at, s.len, writeback::Mode::Current};
  pthread_t tw, ta;
  pthread_create(&tw, nullptr, run_commit, &w);
  const bool held = syscall_watch::held_within_2s();
  Ask a{other, 0, true};
  pthread_create(&ta, nullptr, ask_the_tracker, &a);
  const bool answered = held && set_within_2s(&a.answered);
  syscall_watch::release();
  pthread_join(tw, nullptr);
  pthread_join(ta, nullptr);
  cr_assert(held, "the writeback write-protected nothing");
  cr_assert(answered, "asking whether untracked memory is tracked waited for a writeback's take");
  cr_assert(!a.tracked);
  cr_assert(dirty::tracks((uintptr_t)s.at, page()), "the served range is not tracked");
  cr_assert_eq(w.o.err, 0);
  munmap(other, page());
  forget(s);
}

// A writeback needs the file's size (stores past EOF are dropped, as the
// kernel drops them). When fstat failed it took the size as 0: every run
// counted as past EOF, "written", its pages clean, the stores never in the
// file and nothing reported. (Found in review.)
Test(writeback, a_writeback_that_cannot_see_the_files_size_keeps_its_pages_dirty) {
  Served s = serve_writable(16 * page());
  store_every_other_page(s, 16);
  syscall_watch::fail_next(SYS_fstat, EIO, 1);  // the first is the commit check's
  const writeback::Outcome o = commit::range(s.at, s.len, writeback::Mode::Current);
  cr_assert(!o.moved, "the commit check failed, not the writeback");
  cr_assert_eq(o.err, EIO, "the writeback reported %d, not the failed fstat's EIO", o.err);
  // The pages are still dirty: the next writeback writes them.
  cr_assert_eq(commit::range(s.at, s.len, writeback::Mode::Durable).err, 0);
  cr_assert_eq(missing_in_file(s, 0, 16), 0u, "stores were lost: the failed writeback counted them as written");
  forget(s);
}

// A give-back freezes the range's dirty pages (write-protected: a store
// waits until the file's pages are in) and writes them. When the
// write-protection failed (mprotect's ENOMEM at vm.max_map_count), the
// pages stayed writable but counted as frozen: a store made while the
// give-back wrote them landed in CMB memory, and the file's pages that
// replaced it never had it. (Found in review.)
namespace {
struct GiveBackJob {
  Served* s;
  size_t given;
};
void* give_it_back(void* arg) {
  auto* g = static_cast<GiveBackJob*>(arg);
  g->given = revoke::range(g->s->at, g->s->len, CMBMAP_LEASE_BROKEN);
  return nullptr;
}
}  // namespace

Test(writeback, a_give_back_that_cannot_freeze_a_page_keeps_the_range, .timeout = 120) {
  Served s = serve_writable(16 * page());
  store_pages(s, 0, 16);
  // The freeze's write-protection and its fallback (the whole stretch) fail.
  syscall_watch::fail_next(SYS_mprotect, ENOMEM, 0, 2);
  syscall_watch::hold_next(SYS_pwrite64);  // the give-back writing the pages
  GiveBackJob g{&s, 0};
  pthread_t tg;
  pthread_create(&tg, nullptr, give_it_back, &g);
  // The program stores while the give-back writes (or, if it writes
  // nothing, after 2 s: a give-back that refuses at once is right too).
  syscall_watch::held_within_2s();
  s.at[3 * page() + 17] = 0xee;
  syscall_watch::release();
  pthread_join(tg, nullptr);
  // Kept served, or given back with the store: either way it is not lost.
  if (g.given == 0) cr_assert_eq(commit::range(s.at, s.len, writeback::Mode::Durable).err, 0);
  cr_assert_eq(s.at[3 * page() + 17], 0xee, "the store made during the give-back is not in the mapping");
  cr_assert_eq(file_byte(s, 3 * page() + 17), 0xee, "the store made during the give-back is not in the file");
  forget(s);
}

// munmap cannot refuse: the pages a freeze could not write-protect are
// written all the same before they go.
Test(writeback, munmap_writes_the_pages_a_freeze_could_not_protect) {
  Served s = serve_writable(16 * page());
  store_pages(s, 0, 16);
  syscall_watch::fail_next(SYS_mprotect, ENOMEM, 0, 2);
  cr_assert_eq(core::unmap(s.at, s.len), 0);
  for (size_t k = 0; k < 16; ++k)
    cr_assert_eq(file_byte(s, k * page() + 17), stored(k), "page %zu: its store did not reach the file", k);
  fixture::remove_file(s.f);
}

// A writable range given back in part keeps its blocks entry while the
// rest is served; the part given back may be served again, for another
// file. That file's writeback looked its blocks up by address and found the
// first file's: the commit check failed and the range was given back for
// nothing (or, had the check passed, written to the other file's blocks).
// (Found in review.)
Test(writeback, a_range_served_where_another_was_given_back_writes_its_own_blocks) {
  constexpr size_t kPages = 16, kHalf = kPages / 2;
  Served a = serve_writable(kPages * page(), 1);
  cr_assert_eq(revoke::range(a.at + kHalf * page(), kHalf * page(), CMBMAP_REMAPPED), kHalf * page());
  // Another file served over the half given back.
  fixture::File b = fixture::make_file(kHalf * page(), O_RDWR, 2);
  lease::note_open(b.fd, O_RDWR);
  fixture::Planned planned;
  const uint64_t epoch = changes::epoch();
  fixture::plan_whole_file(b.fd, kHalf * page(), &planned);
  uint8_t* at = a.at + kHalf * page();
  cr_assert_eq(mmap(at, kHalf * page(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, b.fd, 0), (void*)at);
  const serve::Request req{at, kHalf * page(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, b.fd, 0, epoch};
  cr_assert_eq(serve::overlay(req, planned.facts, fixture::default_options(), &planned.plan), kHalf * page(),
               "the other file was not served");
  at[17] = 0x77;
  const writeback::Outcome o = commit::range(at, kHalf * page(), writeback::Mode::Durable);
  cr_assert_eq(o.err, 0);
  cr_assert(!o.moved, "the other file's writeback took the first file's blocks for its own");
  cr_assert(fake_tier::is_cmb(at), "the other file's range was given back");
  uint8_t got = 0;
  cr_assert_eq(pread(b.fd, &got, 1, 17), 1);
  cr_assert_eq(got, 0x77);
  revoke::range(at, kHalf * page(), CMBMAP_RECLAIMED);
  fixture::remove_file(b);
  revoke::range(a.at, kHalf * page(), CMBMAP_RECLAIMED);
  fixture::remove_file(a.f);
}

// The periodic writeback leaves to another writer what it is writing now:
// waiting for it would only add a thread competing for the lock and the
// CPU with the program's own (writeback_stall: the program's msync and the
// watcher's periodic pass wrote the same mapping at once, and the other
// threads' mapping calls waited for both).
namespace {
// The periodic pass itself (commit::periodic) is due when the fixture's
// watcher says; its mode is called here.
void* run_periodic(void* done) {
  commit::all(writeback::Mode::Background);
  __atomic_store_n(static_cast<int*>(done), 1, __ATOMIC_RELEASE);
  return nullptr;
}
}  // namespace

Test(writeback, the_periodic_writeback_leaves_a_range_being_written_to_its_writer, .timeout = 120) {
  PausedCommit c;
  pause_a_durable_commit(&c);
  int done = 0;
  pthread_t tw;
  pthread_create(&tw, nullptr, run_periodic, &done);
  const bool returned = set_within_2s(&done);
  release_b();
  pthread_join(c.tb, nullptr);
  pthread_join(tw, nullptr);
  cr_assert(returned, "the periodic writeback waited for the range another thread was writing");
  cr_assert_eq(c.b.o.err, 0);
  cr_assert_eq(c.b.missing, 0u, "the durable commit returned with %zu stored pages not in the file", c.b.missing);
  revoke::range(c.s.at, c.s.len, CMBMAP_RECLAIMED);
  fixture::remove_file(c.s.f);
}

// Writable served ranges have no fixed limit: the table of their blocks
// grows (it held 128, and the 129th writable mapping stayed ordinary).
Test(writeback, hundreds_of_writable_ranges_are_served_and_written_back, .timeout = 120) {
  constexpr size_t kRanges = 300;
  // Three fds per file: the program's, cmbmap's duplicate and its lease.
  rlimit r;
  getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_max < 3 * kRanges + 2 * prim::kOwnFdFloor) cr_skip_test("RLIMIT_NOFILE's hard limit leaves no room");
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
  std::vector<Served> all;
  for (size_t i = 0; i < kRanges; ++i) {
    all.push_back(serve_writable(page()));  // asserts each was served
    all.back().at[17] = stored(i);
  }
  for (size_t i = 0; i < kRanges; ++i) {
    const writeback::Outcome o = commit::range(all[i].at, all[i].len, writeback::Mode::Current);
    cr_assert_eq(o.err, 0);
    cr_assert_eq(file_byte(all[i], 17), stored(i), "range %zu: its store is not in the file", i);
  }
  for (Served& s : all) {
    revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
    fixture::remove_file(s.f);
  }
}
