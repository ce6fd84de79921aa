// A durable commit (msync(MS_SYNC), the commit before fsync, exit) of
// writable served mappings, on the host with the fake CMB tier: when it
// returns 0, every store it covers is in the file and the file is synced,
// whoever wrote the stores and whatever changed meanwhile; an earlier failed
// writeback is reported; and its I/O, the sync included, runs without the
// served-ranges lock. (Found in a review of the writeback/give-back interplay.)
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cmbmap/cmbmap.h"
#include "shim/core/core.h"
#include "shim/giveback/commit.h"
#include "shim/giveback/revoke.h"
#include "shim/giveback/writeback.h"
#include "test/unit/fake/syscall_watch.h"
#include "test/unit/fake/writers.h"

using namespace cmbmap;
using namespace cmbmap::writers;
using fixture::page;

namespace {

// fdatasync calls on s's file since the count's mark `from`.
int syncs_of(const Served& s, size_t from) {
  struct stat st;
  cr_assert_eq(fstat(s.f.fd, &st), 0);
  return syscall_watch::counted_on(from, st.st_dev, st.st_ino);
}

}  // namespace

TestSuite(durable_commit, .init = fixture::serving_setup, .timeout = 120);

// commit::range collects a batch of pieces, then writes them one after the
// other, letting the lock go between windows. A later piece of the batch
// changed meanwhile (split by a give-back of one page: an
// mprotect/madvise/mlock of another thread) was skipped: msync(MS_SYNC)
// returned 0 with that range's stores only in CMB memory.
Test(durable_commit, writes_a_later_range_changed_while_it_wrote_an_earlier_one) {
  install_pause();
  constexpr size_t kPages = 512;  // 2 MiB each: two windows
  for (int attempt = 0; attempt < 20; ++attempt) {
    Served x = serve_writable(kPages * page(), 1), y = serve_writable(kPages * page(), 2);
    Served& first = x.at < y.at ? x : y;
    Served& second = x.at < y.at ? y : x;
    store_every_other_page(x, kPages);
    store_every_other_page(y, kPages);
    Job b{first.at, (size_t)(second.at + second.len - first.at), writeback::Mode::Durable};
    pthread_t tb;
    if (!start_paused(&b, &tb, (1u << 20) / 2)) {
      forget(x);
      forget(y);
      continue;
    }
    // B is in the first range's first window; its batch holds both ranges.
    // One page of the second range is given back (written by its give-back).
    cr_assert_eq(revoke::range(second.at + 10 * page(), page(), CMBMAP_REMAPPED), page());
    release_b();
    pthread_join(tb, nullptr);
    const size_t lost = missing_in_file(second, 0, kPages);
    cr_assert_eq(b.o.err, 0);
    cr_assert_eq(missing_in_file(first, 0, kPages), 0u);
    cr_assert_eq(lost, 0u,
                 "the durable commit returned 0 with %zu stored pages of a range split meanwhile not in the file", lost);
    forget(x);
    forget(y);
    return;
  }
  cr_assert_fail("B could not be paused in its first window in 20 tries");
}

// The same in one range: C, msync(MS_SYNC) of a 2 MiB range, waits (the lock
// let go) for B's window of its first MiB; meanwhile one page at 1.5 MiB is
// given back. C found its range changed and returned 0 without writing
// [1 MiB, 2 MiB).
Test(durable_commit, writes_its_range_split_while_it_waited_for_another_writer) {
  install_pause();
  constexpr size_t kPages = 512;
  for (int attempt = 0; attempt < 20; ++attempt) {
    Served s = serve_writable(kPages * page());
    store_every_other_page(s, kPages);
    Job b{s.at, 1u << 20, writeback::Mode::Durable};
    pthread_t tb;
    if (!start_paused(&b, &tb, (1u << 20) / 2)) {
      forget(s);
      continue;
    }
    Job c{s.at, s.len, writeback::Mode::Durable};
    pthread_t tc;
    pthread_create(&tc, nullptr, run_commit, &c);
    while (!__atomic_load_n(&c.tid, __ATOMIC_ACQUIRE)) sched_yield();
    const bool waiting = waiting_for_a_window(c.tid);
    cr_assert_eq(revoke::range(s.at + 384 * page(), page(), CMBMAP_REMAPPED), page());
    release_b();
    pthread_join(tb, nullptr);
    pthread_join(tc, nullptr);
    if (!waiting) cr_skip_test("C never waited for B's window (a loaded machine): inconclusive");
    const size_t lost = missing_in_file(s, 0, kPages);
    cr_assert_eq(b.o.err, 0);
    cr_assert_eq(c.o.err, 0);
    cr_assert_eq(lost, 0u, "msync(MS_SYNC) returned 0 with %zu stored pages not in the file", lost);
    forget(s);
    return;
  }
  cr_assert_fail("B could not be paused in its window in 20 tries");
}

// A durable commit made the file durable only if it wrote something itself.
// Stores another writeback wrote (the watcher's periodic pass, MS_ASYNC, a
// read of the file) are in the file but were only sync_file_range'd (by NVMe
// command: in the drive's volatile cache); msync(MS_SYNC) then found every
// page clean, synced nothing and returned 0 (the kernel's msync of the CMB
// mapping syncs no file).
Test(durable_commit, makes_durable_what_the_periodic_writeback_wrote) {
  Served s = serve_writable(16 * page());
  syscall_watch::count(SYS_fdatasync);
  // A durable commit that writes syncs the file.
  store_every_other_page(s, 16);
  cr_assert_eq(core::sync_range(s.at, s.len, MS_SYNC), 0);
  cr_assert_geq(syncs_of(s, 0), 1, "control: a durable commit that wrote did not fdatasync the file");
  // Now the periodic writeback writes the next stores (not durably).
  for (size_t k = 1; k < 16; k += 2) s.at[k * page() + 9] = (uint8_t)k;
  commit::all(writeback::Mode::Background);
  for (size_t k = 1; k < 16; k += 2) cr_assert_eq(file_byte(s, k * page() + 9), (uint8_t)k);
  const size_t before = syscall_watch::counted();
  errno = 0;
  cr_assert_eq(core::sync_range(s.at, s.len, MS_SYNC), 0, "msync failed (errno %d)", errno);
  cr_assert_geq(syncs_of(s, before), 1,
                "msync(MS_SYNC) returned 0 without syncing the file: the stores the periodic writeback wrote "
                "(sync_file_range only) are not durable");
  forget(s);
}

// The same while the periodic pass is writing a window of the range: the
// msync waited for that window, found its pages clean, wrote nothing and
// returned 0 without syncing.
Test(durable_commit, makes_durable_the_periodic_window_it_waited_for) {
  install_pause();
  constexpr size_t kPages = 256;  // one window
  for (int attempt = 0; attempt < 20; ++attempt) {
    Served s = serve_writable(kPages * page());
    store_every_other_page(s, kPages);
    Job p{s.at, s.len, writeback::Mode::Background};
    pthread_t tp;
    if (!start_paused(&p, &tp, (1u << 20) / 4)) {
      forget(s);
      continue;
    }
    syscall_watch::count(SYS_fdatasync);
    Job m{s.at, s.len, writeback::Mode::Durable};
    pthread_t tm;
    pthread_create(&tm, nullptr, run_commit, &m);
    while (!__atomic_load_n(&m.tid, __ATOMIC_ACQUIRE)) sched_yield();
    const bool waiting = waiting_for_a_window(m.tid);
    release_b();
    pthread_join(tp, nullptr);
    pthread_join(tm, nullptr);
    if (!waiting) cr_skip_test("the msync never waited for the periodic window: inconclusive");
    cr_assert_eq(m.o.err, 0);
    cr_assert_eq(missing_in_file(s, 0, kPages), 0u);
    cr_assert_geq(syncs_of(s, 0), 1,
                  "the durable commit returned 0 without syncing the file after waiting for the periodic pass's window");
    forget(s);
    return;
  }
  cr_assert_fail("the periodic pass could not be paused in its window in 20 tries");
}

// A failed writeback is kept to be reported as the page cache reports its
// writeback errors, but only fsync and friends asked: msync(MS_SYNC), which
// on an ordinary shared mapping reports the file's writeback error, returned
// 0 after the periodic writeback failed, once its own retry succeeded.
Test(durable_commit, msync_reports_an_earlier_failed_writeback_once) {
  Served s = serve_writable(16 * page());
  s.at[10 * page() + 17] = stored(10);
  const rlimit old = fail_writes_past(8 * page());
  const writeback::Outcome bg = commit::all(writeback::Mode::Background);
  cr_assert_neq(bg.err, 0, "control: the periodic writeback did not fail");
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
  errno = 0;
  const int r = core::sync_range(s.at, s.len, MS_SYNC);
  cr_assert_eq(file_byte(s, 10 * page() + 17), stored(10));
  cr_assert(r == -1 && errno == EIO, "msync(MS_SYNC) returned %d (errno %d) after a failed writeback of its pages", r,
            errno);
  cr_assert_eq(core::sync_range(s.at, s.len, MS_SYNC), 0, "the failure was reported twice");
  forget(s);
}

// A durable commit's last step, the file's fdatasync (and the drive's cache
// flush for NVMe writes), is I/O like its writes: it must not hold the
// served-ranges lock either (writeback_stall: the program's msync held it
// through its fdatasync, and another thread's mmap waited 100+ ms).
Test(durable_commit, syncs_the_file_without_the_lock) {
  Served s = serve_writable(256 * page());
  store_every_other_page(s, 256);
  Job b{s.at, s.len, writeback::Mode::Durable};
  b.check = &s;
  const WhileHeld h = run_with_call_held(SYS_fdatasync, &b);
  cr_assert(h.held, "the durable commit made no fdatasync");
  cr_assert(h.lock_free, "a mapping call waited for the lock while a durable commit synced the file");
  cr_assert_eq(b.o.err, 0);
  cr_assert_eq(b.missing, 0u, "the durable commit returned with %zu stored pages not in the file", b.missing);
  forget(s);
}
