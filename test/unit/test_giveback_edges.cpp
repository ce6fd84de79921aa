// The edges of giving back, serving and the hooks (shim/giveback/revoke.cpp,
// shim/tier/scrub.cpp, shim/core/serve.cpp, shim/core/mapping_calls.cpp,
// shim/core/file_events.cpp), found in a review: each test states what the
// kernel (or the file) would show without cmbmap, and fails where cmbmap
// showed something else. Kernel failures are injected through the unit
// binary's syscall() interposer (syscall_watch) or a resource limit, as a
// loaded machine would make them.
#include <criterion/criterion.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "cmbmap/cmbmap.h"
#include "common/stats.h"
#include "common/watcher_message.h"
#include "prim/prim.h"
#include "shim/core/core.h"
#include "shim/core/serve.h"
#include "shim/giveback/changes.h"
#include "shim/giveback/dirty.h"
#include "shim/giveback/lease.h"
#include "shim/giveback/reclaim.h"
#include "shim/giveback/revoke.h"
#include "shim/tier/registry.h"
#include "test/unit/fake/fake_tier.h"
#include "test/unit/fake/fixture.h"
#include "test/unit/fake/syscall_watch.h"
#include "test/unit/fake/writers.h"

using namespace cmbmap;

namespace {

using fixture::page;
using fixture::Served;

// The hooks act only for the process that started cmbmap (not a vfork
// child): start it, inactive, so it knows which one that is.
void start_core() {
  setenv("CMBMAP_DISABLE", "1", 1);
  core::init();
}

// The fd the served range at `at` maps the file back with.
int range_fd(const void* at) {
  registry::Range r;
  cr_assert_eq(registry::collect((uintptr_t)at, page(), &r, 1), 1u, "no served range at %p", at);
  return r.fd;
}

// cmbmap's lease fd (the first one above the floor), or -1.
int lease_fd() {
  for (int fd = prim::own_fd_floor(); fd < prim::own_fd_floor() + 64; ++fd)
    if (fcntl(fd, F_GETFD) >= 0 && lease::uses_fd(fd)) return fd;
  return -1;
}

// The VmFlags of the mapping holding addr in /proc/self/smaps; false if
// nothing is mapped there.
bool vm_flags(const void* addr, char* flags, size_t cap) {
  FILE* f = fopen("/proc/self/smaps", "r");
  if (!f) return false;
  char line[512];
  bool in = false, found = false;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
      in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
      found |= in;
      continue;
    }
    if (in && strncmp(line, "VmFlags:", 8) == 0) snprintf(flags, cap, "%.200s", line + 8);
  }
  fclose(f);
  return found;
}

// Total virtual size now (the kernel's total_vm), in bytes.
rlim_t vm_size_now() { return (rlim_t)fixture::status_bytes("VmSize"); }

}  // namespace

TestSuite(giveback_edges, .init = fixture::serving_setup);

// close() of a number that is cmbmap's (a daemon closing every fd from 3
// up does this): keep_own_fd moves cmbmap's fd out of the way. When the
// move fails (EMFILE: no number free at or above the floor), the close
// goes ahead anyway and the registry keeps the number. The program's next
// open gets it, and the give-back maps THAT file over the range.
Test(giveback_edges, a_close_that_cannot_move_cmbmaps_fd_does_not_map_another_file_back) {
  start_core();
  Served s = fixture::serve_file(8);
  const int own = range_fd(s.at);
  syscall_watch::fail_next(SYS_fcntl, EMFILE);  // keep_own_fd's F_DUPFD_CLOEXEC
  core::fd_replaced(own);                        // the close hook, before the real close
  close(own);
  // The program's next file lands on the freed number.
  fixture::File other = fixture::make_file(s.len, O_RDONLY, 7);
  cr_assert_eq(dup2(other.fd, own), own);
  revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
  cr_expect(fixture::holds_file(s.at, s.len, s.f.fd),
            "the range was given back with fd %d, now another file of the program's: it shows that file's bytes", own);
  cr_expect_geq(fcntl(own, F_GETFD), 0, "cmbmap closed the program's fd %d (its own number, reused)", own);
  fixture::remove_file(other);
  fixture::remove_file(s.f);
}

// The same for the lease's fd: the program's close drops the lease (its
// private open had no other reference), so nothing is broken when another
// writer changes the file, and the range keeps showing the old bytes.
Test(giveback_edges, a_close_that_cannot_move_the_lease_fd_does_not_leave_the_range_unguarded) {
  start_core();
  Served s = fixture::serve_file(8);
  const int lfd = lease_fd();
  cr_assert_geq(lfd, 0, "no lease fd found above the floor");
  syscall_watch::fail_next(SYS_fcntl, EMFILE);  // keep_own_fd's F_DUPFD_CLOEXEC
  core::fd_replaced(lfd);
  close(lfd);
  // Another writer (no hook of this process sees it: another process would
  // do the same) changes the file. With the lease held, its open waits until
  // cmbmap has given the range back.
  int w = open(s.f.path, O_WRONLY);
  cr_assert_geq(w, 0);
  std::vector<uint8_t> fresh(s.len, 0x3c);
  cr_assert_eq(pwrite(w, fresh.data(), fresh.size(), 0), (ssize_t)fresh.size());
  close(w);
  cr_expect(fixture::holds_file(s.at, s.len, s.f.fd),
            "the file changed under a served range whose lease the program's close dropped: stale CMB bytes");
  revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
  fixture::remove_file(s.f);
}

// mremap(old, 0, new_len, MREMAP_MAYMOVE) makes a second mapping of the
// same shared object. Over a served range that is the CMB memory (not the
// file), unregistered: the give-back of the original then scrubs it under
// the duplicate (zeros here; a real p2pmem mapping has no pages to fault
// in: SIGBUS). Without cmbmap the duplicate is the file.
Test(giveback_edges, a_duplicate_made_by_mremap_of_length_zero_is_the_file) {
  Served s = fixture::serve_file(8);
  void* q = core::remap(s.at, 0, s.len, MREMAP_MAYMOVE, nullptr);
  cr_assert_neq(q, MAP_FAILED, "mremap(old_len 0): %s", strerror(errno));
  cr_expect(!fake_tier::is_cmb(q), "the duplicate maps CMB memory that no range registers");
  struct stat st;
  fstat(s.f.fd, &st);
  revoke::file(st.st_dev, st.st_ino, CMBMAP_FILE_CHANGED);  // e.g. the program writes the file
  cr_expect(fixture::holds_file(q, s.len, s.f.fd), "the duplicate does not hold the file's bytes after the give-back");
  munmap(q, s.len);
  fixture::remove_file(s.f);
}

// fork: the child gives back what it inherited. A range the program had
// marked MADV_DONTFORK was not inherited at all: the child must have no
// mapping there (the kernel left a hole), not a new file mapping.
// In a fork child of this process: fn's exit status (0: as it should be,
// 2: the kernel did not do what the test starts from).
static int in_fork_child(const Served& s, int (*fn)(const Served&)) {
  const pid_t c = fork();
  if (c == 0) _exit(fn(s));
  int status = 0;
  cr_assert_eq(waitpid(c, &status, 0), c);
  cr_assert(WIFEXITED(status));
  return WEXITSTATUS(status);
}

Test(giveback_edges, a_fork_child_gets_no_mapping_where_the_parent_had_dontfork) {
  Served s = fixture::serve_file(8);
  cr_assert_eq(madvise(s.at, s.len, MADV_DONTFORK), 0);
  const int status = in_fork_child(s, [](const Served& s) {
    char flags[256] = "";
    const bool before = vm_flags(s.at, flags, sizeof flags);
    revoke::inherited();  // what the atfork child handler does
    const bool after = vm_flags(s.at, flags, sizeof flags);
    return before ? 2 : after ? 1 : 0;
  });
  cr_assert_neq(status, 2, "the kernel gave the child the MADV_DONTFORK range");
  cr_expect_eq(status, 0, "the fork child has a file mapping where the kernel left it none (MADV_DONTFORK)");
  revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
  fixture::remove_file(s.f);
}

// The child's inherited ranges become file mappings: what the program had
// set on them (MADV_DONTDUMP, which the kernel copies into the child) is
// put back, as a give-back in the parent does (restore_sticky).
Test(giveback_edges, a_fork_child_keeps_dontdump_on_its_inherited_ranges) {
  Served s = fixture::serve_file(8);
  cr_assert_eq(madvise(s.at, s.len, MADV_DONTDUMP), 0);
  const int status = in_fork_child(s, [](const Served& s) {
    char before[256] = "", after[256] = "";
    vm_flags(s.at, before, sizeof before);
    revoke::inherited();
    vm_flags(s.at, after, sizeof after);
    return !strstr(before, " dd") ? 2 : !strstr(after, " dd") ? 1 : 0;
  });
  cr_assert_neq(status, 2, "the child did not inherit MADV_DONTDUMP");
  cr_expect_eq(status, 0, "the fork child's range lost MADV_DONTDUMP when it became file pages");
  revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
  fixture::remove_file(s.f);
}

// A give-back whose file mapping cannot be made (ENOMEM: RLIMIT_AS, or
// vm.max_map_count) makes the range inaccessible and drops it from the
// registry. It kept the CMB pages there unscrubbed, and the program's
// later munmap is not cmbmap's business (range_is_ours is false): the
// pages went back to the pool holding the file's bytes, for the next
// process to read. They are scrubbed before the range is dropped now.
Test(giveback_edges, a_give_back_that_cannot_map_the_file_does_not_leak_the_cmb_bytes) {
  Served s = fixture::serve_file(8);
  rlimit old;
  getrlimit(RLIMIT_AS, &old);
  const rlimit tight{vm_size_now(), old.rlim_max};
  cr_assert_eq(setrlimit(RLIMIT_AS, &tight), 0);
  revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
  cr_assert_eq(setrlimit(RLIMIT_AS, &old), 0);
  // The program unmaps it, through the hook.
  if (core::range_is_ours(s.at, s.len)) core::unmap(s.at, s.len);
  else munmap(s.at, s.len);
  const size_t left = fake_tier::leftover();
  cr_expect_eq(left, 0u, "%zu bytes of the file went back to the CMB pool unscrubbed (and uncounted: %llu)", left,
               (unsigned long long)stats::get()->unscrubbed_bytes);
  fixture::remove_file(s.f);
}

// The same with vm.max_map_count nearly reached: the file can still be
// mapped aside (one more mapping), but every mremap fails (the kernel's
// mremap_to refuses from map_count + 2 >= max - 3 on): the CMB pages cannot
// move aside, the file cannot move in nor be mapped over. The give-back took
// the clear-out as done, though nothing had moved: the CMB pages stayed,
// PROT_NONE, holding the file's bytes, and went back to the pool with the
// program's munmap (counted, but nothing stopped cmbmap zeroing them).
Test(giveback_edges, a_give_back_whose_pages_could_not_move_nor_the_file_map_scrubs_them) {
  Served s = fixture::serve_file(8);
  // clear_out's whole move, its per-piece move, the file's move in, the
  // move of swap_in_file's map_over, the move of give_back's map_over.
  syscall_watch::fail_next(SYS_mremap, ENOMEM, 0, 5);
  revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
  syscall_watch::fail_next(-2, 0, 0, 0);  // no call has number -2: the rest is off
  cr_assert(!core::range_is_ours(s.at, s.len), "the range is still registered");
  munmap(s.at, s.len);  // the program unmaps it (not ours: the plain call)
  const size_t left = fake_tier::leftover();
  cr_expect_eq(left, 0u, "%zu bytes of the file went back to the CMB pool unscrubbed (counted: %llu)", left,
               (unsigned long long)stats::get()->unscrubbed_bytes);
  fixture::remove_file(s.f);
}

// An anonymous MAP_FIXED over a writable served range whose stores cannot
// be written: the give-back keeps the range (the only copy of the stores),
// and the mapping call then replaces it without scrubbing. munmap scrubs
// (scrub_before_unmap) whatever it could not give back; a MAP_FIXED over
// it must too, or the CMB pages go back to the pool with the file's bytes.
Test(giveback_edges, a_map_fixed_over_a_kept_range_scrubs_it) {
  Served s = writers::serve_writable(16 * page());
  writers::store_pages(s, 10, 2);
  const rlimit old = writers::fail_writes_past(8 * page());
  void* r = core::map_anonymous_over(s.at, s.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
  cr_assert_eq(r, (void*)s.at);
  cr_expect(registry::empty());
  const size_t left = fake_tier::leftover();
  cr_expect_eq(left, 0u, "%zu bytes went back to the CMB pool unscrubbed under MAP_FIXED", left);
  fixture::remove_file(s.f);
}

namespace {
// Maps len bytes of f MAP_SHARED with prot and serves them: nothing is
// served, for `reason`, and the mapping shows the file. Returns it.
uint8_t* served_none(const fixture::File& f, size_t len, int prot, int reason) {
  uint64_t served = 1;
  fixture::Planned p;
  auto* at = static_cast<uint8_t*>(
      fixture::map_and_serve(f.fd, len, prot, MAP_SHARED, fixture::default_options(), &served, &p));
  cr_assert_eq(served, 0u);
  cr_expect_eq(p.plan.segments[0].reason, reason, "fell back for %s, not %s",
               cmbmap_reason_name(p.plan.segments[0].reason), cmbmap_reason_name(reason));
  cr_expect(fixture::holds_file(at, len, f.fd), "the mapping shows %#x at offset 0, not the file's %#x", at[0],
            fixture::pattern(0));
  return at;
}
}  // namespace

// A run whose fill failed was zeroed in place and the file mapped back over
// it. When mapping the file back failed (the move's mremap: ENOMEM), the
// run stayed CMB memory, zeroed, writable though mapped read-only,
// unregistered: the program read zeros where the file has bytes. The fill
// now happens aside: a failed fill leaves the file's pages where they were,
// whatever mremap does.
Test(giveback_edges, a_run_that_cannot_be_mapped_back_does_not_show_zeros) {
  const size_t len = 16 * page();
  fixture::File f = fixture::make_file(len, O_RDONLY);
  fake_tier::unwritable(true);  // the fill fails (EFAULT)
  // The serve's second mremap fails: when CMB memory was moved over the run
  // before the fill (the first), the second was the file's move back.
  syscall_watch::fail_next(SYS_mremap, ENOMEM, 1);
  served_none(f, len, PROT_READ, CMBMAP_FILL_FAILED);
  fixture::remove_file(f);
}

// The filled memory is moved over the run last (mremap). When that move
// fails (ENOMEM: vm.max_map_count), the run keeps the file's pages, nothing
// stays registered or tracked, and the CMB memory, which holds the file's
// bytes by then, goes back to the pool zeroed.
Test(giveback_edges, a_run_whose_filled_memory_cannot_be_moved_into_place_keeps_the_file) {
  const size_t len = 16 * page();
  for (int prot : {PROT_READ, PROT_READ | PROT_WRITE}) {
    fixture::File f = fixture::make_file(len, prot & PROT_WRITE ? O_RDWR : O_RDONLY);
    if (prot & PROT_WRITE) lease::note_open(f.fd, O_RDWR);  // the program opened it (the open hook)
    syscall_watch::fail_next(SYS_mremap, ENOMEM);  // the move into place: the serve's first mremap
    uint8_t* at = served_none(f, len, prot, CMBMAP_MAP_COUNT);
    cr_expect(!fake_tier::is_cmb(at), "CMB memory in the program's mapping");
    cr_expect(registry::empty());
    cr_expect(!dirty::tracks((uintptr_t)at, len), "pages of a mapping that is not served are tracked");
    cr_expect_eq(fake_tier::leftover(), 0u, "the filled CMB memory went back to the pool unscrubbed");
    munmap(at, len);
    fixture::remove_file(f);
  }
}

// A failed move into place mostly leaves the program's mapping untouched
// (the kernel refuses before it unmaps the target: ENOMEM at
// vm.max_map_count): then it stays as it was, with what the program set on
// it (an mremap'd mapping served again keeps MADV_DONTDUMP, mlock). The
// fallback mapped the file over it all the same, and that was lost.
Test(giveback_edges, a_run_that_cannot_be_moved_into_place_keeps_what_the_program_set_on_its_mapping) {
  const size_t len = 16 * page();
  fixture::File f = fixture::make_file(len, O_RDONLY);
  fixture::Planned p;
  const uint64_t epoch = changes::epoch();
  fixture::plan_whole_file(f.fd, len, &p);
  void* at = mmap(nullptr, len, PROT_READ, MAP_SHARED, f.fd, 0);
  cr_assert_neq(at, MAP_FAILED);
  cr_assert_eq(madvise(at, len, MADV_DONTDUMP), 0);
  syscall_watch::fail_next(SYS_mremap, ENOMEM);  // the move into place
  const serve::Request req{at, len, PROT_READ, MAP_SHARED, f.fd, 0, epoch};
  cr_assert_eq(serve::overlay(req, p.facts, fixture::default_options(), &p.plan), 0u);
  char flags[256] = "";
  cr_assert(vm_flags(at, flags, sizeof flags));
  cr_expect(strstr(flags, " dd"), "the mapping lost MADV_DONTDUMP: %s", flags);
  cr_expect(fixture::holds_file(at, len, f.fd));
  munmap(at, len);
  fixture::remove_file(f);
}

// Eviction (a full CMB, CMBMAP_BUDGET, another process asking) gives back
// the least recently used ranges until it has freed enough. It stopped at
// the first that gave back nothing: one unmapped behind cmbmap's back (a raw
// munmap: forgotten, nothing to give), or one kept because its stores could
// not be written. The CMB stayed full for the mapping that asked, though
// other ranges could have gone.
Test(giveback_edges, eviction_goes_on_past_a_range_unmapped_behind_its_back) {
  Served a = fixture::serve_file(8);
  Served b = fixture::serve_file(8);
  munmap(a.at, a.len);  // not interposed in the unit binary: as a raw system call
  const size_t freed = reclaim::evict(-1, b.len, 0, 0, CMBMAP_CMB_FULL);
  cr_expect_eq(freed, b.len, "evicted %zu bytes of the %zu asked for", freed, b.len);
  cr_expect(registry::empty());
  fixture::remove_file(a.f);
  fixture::remove_file(b.f);
}

Test(giveback_edges, eviction_goes_on_past_a_range_it_must_keep) {
  Served w = writers::serve_writable(16 * page());
  Served r = fixture::serve_file(8);
  writers::store_pages(w, 10, 2);
  const rlimit old = writers::fail_writes_past(8 * page());  // w's stores cannot be written: it is kept
  const size_t freed = reclaim::evict(-1, r.len, 0, 0, CMBMAP_CMB_FULL);
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
  cr_expect_eq(freed, r.len, "evicted %zu bytes of the %zu asked for", freed, r.len);
  cr_expect(core::range_is_ours(w.at, w.len), "the range whose stores could not be written was not kept");
  cr_expect(!registry::overlaps((uintptr_t)r.at, r.len));
  writers::forget(w);
  fixture::remove_file(r.f);
}

// The watcher takes a message as its own when si_pid is this process's.
// With SI_QUEUE the sender chooses si_pid (rt_tgsigqueueinfo: the kernel
// only refuses si_code >= 0 and SI_TKILL): any process of the same user
// can send kStop, and the watcher leaves while ranges are served and
// leases held. Their breaks then go to a thread that is gone: nobody gives
// the ranges back, and after lease-break-time the kernel lets the writer
// change the file under them.
Test(giveback_edges, a_stop_forged_by_another_process_does_not_stop_the_watcher) {
  Served s = fixture::serve_file(8);
  const pid_t tid = (pid_t)stats::get()->watcher_tid;
  const int sig = (int)stats::get()->watcher_signal;
  cr_assert_gt(tid, 0, "no watcher thread");
  const pid_t parent = getpid();
  const pid_t c = fork();
  if (c == 0) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = sig;
    si.si_code = SI_QUEUE;
    si.si_pid = parent;  // forged
    si.si_uid = getuid();
    si.si_value.sival_ptr = (void*)(uintptr_t)watcher_message::kStop;
    _exit(syscall(SYS_rt_tgsigqueueinfo, parent, tid, sig, &si) == 0 ? 0 : 1);
  }
  int status = 0;
  cr_assert_eq(waitpid(c, &status, 0), c);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child could not queue the signal");
  // Either it stops at once (the message is taken) or it never does.
  for (int i = 0; i < 2000 && stats::get()->watcher_tid != 0; ++i) usleep(1000);
  cr_expect_neq(stats::get()->watcher_tid, 0u,
                "another process's forged kStop ended the watcher while %zu bytes are served under a lease", s.len);
  revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
  fixture::remove_file(s.f);
}

// A give-back hides the range for an instant (dirty::hide): a thread that
// touches it then waits in the SIGSEGV handler until the file's pages are
// in. The thread doing the give-back is not protected from its own signal
// handlers: a read-only range's give-back (dirty::any() false) runs with
// the program's signals unblocked, so a handler that reads the range on
// that thread (a timer's, a profiler's) waits for a give-back that can
// only finish once the handler returns: the thread hangs for ever, with
// the served-ranges lock held (every mapping call, close and the watcher
// after it).
namespace {
volatile uint8_t* g_touch;
volatile uint8_t g_seen;
int g_entered;
void touch_the_range(int) {
  __atomic_store_n(&g_entered, 1, __ATOMIC_RELEASE);
  g_seen = *g_touch;
}
struct GiveBack {
  Served* s;
  int done;
};
void* give_back_on_a_thread(void* arg) {
  auto* g = static_cast<GiveBack*>(arg);
  revoke::range(g->s->at, g->s->len, CMBMAP_FILE_CHANGED);  // e.g. the program's write() to the file
  __atomic_store_n(&g->done, 1, __ATOMIC_RELEASE);
  return nullptr;
}
}  // namespace

Test(giveback_edges, a_signal_handler_reading_the_range_during_its_give_back_does_not_hang_the_thread) {
  Served s = fixture::serve_file(8);
  g_touch = s.at + 3 * page();
  struct sigaction sa{};
  sa.sa_handler = touch_the_range;
  sigemptyset(&sa.sa_mask);
  cr_assert_eq(sigaction(SIGUSR2, &sa, nullptr), 0);
  syscall_watch::hold_next(SYS_mremap);  // scrub::clear_out moving the CMB pages aside: the range is hidden
  GiveBack g{&s, 0};
  pthread_t t;
  pthread_create(&t, nullptr, give_back_on_a_thread, &g);
  cr_assert(syscall_watch::held_within_2s(), "the give-back made no mremap");
  pthread_kill(t, SIGUSR2);
  bool entered = writers::set_within_2s(&g_entered);
  syscall_watch::release();
  const bool done = writers::set_within_2s(&g.done);
  cr_assert(entered || done, "the signal handler never ran");
  cr_expect(done, "the thread giving the range back hangs in its own signal handler, which touched the hidden range");
  if (!done) {  // the thread holds the served-ranges lock for ever: leave it
    unlink(s.f.path);
    return;
  }
  pthread_join(t, nullptr);
  cr_expect_eq(g_seen, fixture::pattern(3 * page()));
  fixture::remove_file(s.f);
}

// A program maps its file again over the mapping its readers use
// (mmap MAP_FIXED at the same address: to grow or refresh it). Without
// cmbmap the readers see the file's bytes throughout. With it, the serve
// moved CMB memory over the run BEFORE the fill: until the drive had
// filled it the readers saw whatever the pool held (p2pmem is not zeroed:
// a crashed or CMBMAP_SCRUB=0 process's file bytes; poison here).
namespace {
struct Remap {
  fixture::File* f;
  void* at;
  size_t len;
  uint64_t served;
  int done;
};
void* map_again_over(void* arg) {
  auto* r = static_cast<Remap*>(arg);
  const uint64_t epoch = changes::epoch();
  static fixture::Planned p;
  fixture::plan_whole_file(r->f->fd, r->len, &p);
  // What core::map_file does: the kernel maps (MAP_FIXED), then serve.
  void* at = mmap(r->at, r->len, PROT_READ, MAP_SHARED | MAP_FIXED, r->f->fd, 0);
  if (at == r->at) {
    const serve::Request req{at, r->len, PROT_READ, MAP_SHARED | MAP_FIXED, r->f->fd, 0, epoch};
    r->served = serve::overlay(req, p.facts, fixture::default_options(), &p.plan);
  }
  __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
  return nullptr;
}
}  // namespace

Test(giveback_edges, readers_of_a_mapping_replaced_in_place_never_see_unfilled_cmb_memory) {
  // 1 MiB: filled by pread (io_uring from 2 MiB) in two 512 KiB reads; the
  // first is held once made, the second half still unfilled.
  const size_t len = size_t{1} << 20;
  fixture::File f = fixture::make_file(len, O_RDONLY);
  auto* at = static_cast<volatile uint8_t*>(mmap(nullptr, len, PROT_READ, MAP_SHARED, f.fd, 0));
  cr_assert_neq((void*)at, MAP_FAILED);
  size_t k = (size_t{768} << 10) + 17;
  while (fixture::pattern(k) == fake_tier::kPoison || fixture::pattern(k) == 0) ++k;
  syscall_watch::hold_next(SYS_pread64);  // the fill's first read (nothing else on the serve path preads)
  Remap r{&f, (void*)at, len, 0, 0};
  pthread_t t;
  pthread_create(&t, nullptr, map_again_over, &r);
  cr_assert(syscall_watch::held_within_2s(), "the serve did not fill with pread");
  const bool cmb_now = fake_tier::is_cmb((const void*)(at + k));
  const uint8_t seen = at[k];  // a reader of the program's mapping, meanwhile
  syscall_watch::release();
  pthread_join(t, nullptr);
  cr_assert_eq(r.served, len, "not served");
  cr_expect_eq(seen, fixture::pattern(k),
               "a reader saw %#x at offset %zu while the serve filled (%s), not the file's %#x", seen, k,
               cmb_now ? "CMB memory already in place" : "file pages", fixture::pattern(k));
  revoke::range((void*)at, len, CMBMAP_RECLAIMED);
  fixture::remove_file(f);
}

// A vfork child shares the parent's memory but not its fd table. Its open
// of a served file for writing (a redirection before exec) reaches
// core::opening, which gives the PARENT's ranges back and releases its
// lease from the child: registry and lease table (shared memory) forget
// them, but the fds they used are closed in the child's table only. The
// parent keeps cmbmap's duplicate and lease fds open for ever, used by
// nothing (each counts against RLIMIT_NOFILE). keep_own_fd, opened and
// fds_closing already stay out of a vfork child; opening does not.
namespace {
char g_child_stack[1 << 20];
int open_in_vfork_child(void* path) {
  core::opening(AT_FDCWD, static_cast<const char*>(path), O_WRONLY);  // the open hook, before the open
  syscall(SYS_exit, 0);
  return 0;
}
}  // namespace

Test(giveback_edges, a_vfork_childs_open_leaves_the_parents_fds_alone) {
  start_core();
  Served s = fixture::serve_file(8);
  const int rfd = range_fd(s.at), lfd = lease_fd();
  cr_assert_geq(lfd, 0);
  const pid_t c = clone(open_in_vfork_child, g_child_stack + sizeof g_child_stack, CLONE_VM | CLONE_VFORK | SIGCHLD,
                        s.f.path);
  cr_assert_gt(c, 0, "clone: %s", strerror(errno));
  cr_assert_eq(waitpid(c, nullptr, 0), c);
  const bool served = registry::overlaps((uintptr_t)s.at, s.len);
  const bool range_fd_open = fcntl(rfd, F_GETFD) >= 0, lease_fd_open = fcntl(lfd, F_GETFD) >= 0;
  cr_expect(served || (!range_fd_open && !lease_fd_open),
            "the vfork child gave the parent's range back: the parent's fds %d (%s) and %d (%s) are left open, "
            "used by nothing", rfd, range_fd_open ? "open" : "closed", lfd, lease_fd_open ? "open" : "closed");
  if (served) revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
  fixture::remove_file(s.f);
}
