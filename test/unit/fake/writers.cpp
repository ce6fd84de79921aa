// Shared by the tests of writable served mappings (see writers.h).
#include "test/unit/fake/writers.h"

#include <criterion/criterion.h>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cmbmap/cmbmap.h"
#include "common/stats.h"
#include "shim/giveback/commit.h"
#include "shim/giveback/lease.h"
#include "shim/giveback/revoke.h"
#include "shim/tier/served_lock.h"
#include "test/unit/fake/syscall_watch.h"

namespace cmbmap::writers {

using fixture::page;

Served serve_writable(size_t size, unsigned seed) {
  Served s{fixture::make_file(size, O_RDWR, seed), nullptr, (size + page() - 1) / page() * page()};
  lease::note_open(s.f.fd, O_RDWR);  // the program opened it (through the open hook)
  uint64_t served = 0;
  s.at = static_cast<uint8_t*>(fixture::map_and_serve(s.f.fd, s.len, PROT_READ | PROT_WRITE, MAP_SHARED,
                                                      fixture::default_options(), &served));
  cr_assert_eq(served, s.len, "the writable mapping was not served");
  cr_assert(lease::any_write_lease());
  return s;
}

void forget(Served& s) {
  revoke::range(s.at, s.len, CMBMAP_RECLAIMED);
  fixture::remove_file(s.f);
}

uint8_t stored(size_t i) { return (uint8_t)(0x5a ^ i); }

void store_pages(Served& s, size_t first, size_t count) {
  for (size_t k = first; k < first + count; ++k) s.at[k * page() + 17] = stored(k);
}

void store_every_other_page(Served& s, size_t pages) {
  for (size_t k = 0; k < pages; k += 2) s.at[k * page() + 17] = stored(k);
}

uint8_t file_byte(const Served& s, uint64_t off) {
  uint8_t b = 0;
  cr_assert_eq(pread(s.f.fd, &b, 1, (off_t)off), 1);
  return b;
}

size_t missing_in_file(const Served& s, size_t from, size_t to) {
  size_t missing = 0;
  for (size_t k = from; k < to; k += 2) missing += file_byte(s, k * page() + 17) != stored(k);
  return missing;
}

uint64_t written_so_far() { return __atomic_load_n(&stats::get()->writeback_file_bytes, __ATOMIC_ACQUIRE); }

rlimit fail_writes_past(size_t bytes) {
  signal(SIGXFSZ, SIG_IGN);
  rlimit old, low{bytes, RLIM_INFINITY};
  getrlimit(RLIMIT_FSIZE, &old);
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &low), 0);
  return old;
}

void* run_commit(void* arg) {
  auto* j = static_cast<Job*>(arg);
  __atomic_store_n(&j->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
  j->o = commit::range(j->at, j->len, j->mode);
  if (j->check)
    for (size_t k = 0; k < j->len / page(); k += 2)
      if (file_byte(*j->check, k * page() + 17) != stored(k) && !j->missing++) j->first_missing = k;
  __atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
  return nullptr;
}

namespace {
int g_release_a, g_release_b;
int g_paused;
pthread_t g_a;
bool g_a_set;
void pause_here(int) {
  const bool is_a = __atomic_load_n(&g_a_set, __ATOMIC_ACQUIRE) && pthread_equal(pthread_self(), g_a);
  __atomic_add_fetch(&g_paused, 1, __ATOMIC_ACQ_REL);
  while (!__atomic_load_n(is_a ? &g_release_a : &g_release_b, __ATOMIC_ACQUIRE)) sched_yield();
}
}  // namespace

void install_pause() {
  struct sigaction sa{};
  sa.sa_handler = pause_here;
  sigaction(SIGUSR1, &sa, nullptr);
}
void set_a(pthread_t a) {
  g_a = a;
  __atomic_store_n(&g_a_set, true, __ATOMIC_RELEASE);
}
void release_a() { __atomic_store_n(&g_release_a, 1, __ATOMIC_RELEASE); }
void release_b() { __atomic_store_n(&g_release_b, 1, __ATOMIC_RELEASE); }
void hold_b_again() { __atomic_store_n(&g_release_b, 0, __ATOMIC_RELEASE); }
int paused_so_far() { return __atomic_load_n(&g_paused, __ATOMIC_ACQUIRE); }

bool pause_thread(pthread_t t, int already, const int* done) {
  pthread_kill(t, SIGUSR1);
  while (paused_so_far() == already) {
    if (__atomic_load_n(done, __ATOMIC_ACQUIRE)) return false;
    sched_yield();
  }
  return true;
}

bool start_paused(Job* j, pthread_t* t, uint64_t within) {
  const uint64_t before = written_so_far();
  pthread_create(t, nullptr, run_commit, j);
  while (written_so_far() == before && !__atomic_load_n(&j->done, __ATOMIC_ACQUIRE)) sched_yield();
  const int already = paused_so_far();
  if (pause_thread(*t, already, &j->done) && written_so_far() - before < within) return true;
  release_b();
  pthread_join(*t, nullptr);
  hold_b_again();
  return false;
}

bool set_within_2s(const int* flag) {
  for (int i = 0; i < 2000 && !__atomic_load_n(flag, __ATOMIC_ACQUIRE); ++i) usleep(1000);
  return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

void* take_the_lock_once(void* got) {
  served_lock::Hold hold;
  __atomic_store_n(static_cast<int*>(got), 1, __ATOMIC_RELEASE);
  return nullptr;
}

WhileHeld run_with_call_held(long nr, Job* j) {
  syscall_watch::hold_next(nr);
  pthread_t tj, tm;
  pthread_create(&tj, nullptr, run_commit, j);
  WhileHeld w{syscall_watch::held_within_2s(), false};
  int locked = 0;
  pthread_create(&tm, nullptr, take_the_lock_once, &locked);
  w.lock_free = w.held && set_within_2s(&locked);
  syscall_watch::release();
  pthread_join(tj, nullptr);
  pthread_join(tm, nullptr);
  return w;
}

bool waiting_for_a_window(pid_t tid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
  for (int i = 0; i < 20000; ++i) {
    FILE* f = fopen(path, "r");
    long nr = -1;
    if (f) {
      if (fscanf(f, "%ld", &nr) != 1) nr = -1;
      fclose(f);
    }
    if (nr == SYS_clock_nanosleep) return true;
    usleep(100);
  }
  return false;
}

}  // namespace cmbmap::writers
