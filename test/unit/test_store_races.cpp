// Stores that race the give-back of a writable served range (shim/giveback/
// dirty.cpp's fault handler with revoke.cpp): a store waiting on a frozen
// page while the range goes back to file pages must simply land there,
// never kill the program (default SIGSEGV disposition) and never reach the
// program's own SIGSEGV handler; and the handler is safe against the
// program's own signals arriving while it holds its lock.
#include <criterion/criterion.h>
#include <atomic>
#include <csignal>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "shim/giveback/commit.h"
#include "shim/giveback/dirty.h"
#include "shim/giveback/lease.h"
#include "shim/giveback/revoke.h"
#include "test/unit/fake/fake_tier.h"
#include "test/unit/fake/fixture.h"

using namespace cmbmap;
using fixture::page;

namespace {

constexpr size_t kThreads = 4, kPagesEach = 4, kPages = kThreads * kPagesEach;

std::atomic<int> g_program_faults;
void program_handler(int) { g_program_faults.fetch_add(1); }

struct Round {
  volatile uint32_t* map;
  std::atomic<bool> stop{false};
  uint32_t last[kPages];  // each page's last stored value (its thread's)
};

struct Worker {
  Round* round;
  size_t first;
  uint32_t tag;
};

void* store_loop(void* arg) {
  auto* w = static_cast<Worker*>(arg);
  for (uint32_t n = 1; !w->round->stop.load(); ++n)
    for (size_t k = w->first; k < w->first + kPagesEach; ++k) {
      const uint32_t v = w->tag << 20 | n;
      w->round->map[k * page() / 4 + 3] = v;
      w->round->last[k] = v;
    }
  return nullptr;
}

void sleep_ms(long ms) {
  timespec ts{0, ms * 1000000};
  nanosleep(&ts, nullptr);
}

// Rounds of: serve a writable mapping, threads store into every page in a
// loop, writebacks make the pages clean again (every store faults anew),
// then the range is given back while they store; every page must hold its
// last store, in the mapping and in the file.
void store_across_give_backs(int rounds) {
  for (int r = 0; r < rounds; ++r) {
    fixture::File f = fixture::make_file(kPages * page(), O_RDWR, (unsigned)r);
    lease::note_open(f.fd, O_RDWR);
    uint64_t served = 0;
    void* at = fixture::map_and_serve(f.fd, kPages * page(), PROT_READ | PROT_WRITE, MAP_SHARED,
                                      fixture::default_options(), &served);
    cr_assert_eq(served, kPages * page(), "round %d: not served", r);
    Round round;
    round.map = static_cast<volatile uint32_t*>(at);
    for (size_t k = 0; k < kPages; ++k) round.last[k] = round.map[k * page() / 4 + 3];  // a thread may not run at all
    Worker workers[kThreads];
    pthread_t th[kThreads];
    for (size_t t = 0; t < kThreads; ++t) {
      workers[t] = Worker{&round, t * kPagesEach, (uint32_t)(r * kThreads + t + 1)};
      pthread_create(&th[t], nullptr, store_loop, &workers[t]);
    }
    for (int i = 0; i < 3; ++i) {
      sleep_ms(2);
      commit::range(at, kPages * page(), writeback::Mode::Current);
    }
    revoke::range(at, kPages * page(), r % 2 ? CMBMAP_LEASE_BROKEN : CMBMAP_RECLAIMED);
    sleep_ms(2);  // stores go on, into file pages now
    round.stop = true;
    for (pthread_t t : th) pthread_join(t, nullptr);
    for (size_t k = 0; k < kPages; ++k) {
      cr_assert_eq(round.map[k * page() / 4 + 3], round.last[k], "round %d page %zu: store lost in the mapping (%x, last %x)", r, k, round.map[k * page() / 4 + 3], round.last[k]);
      uint32_t disk = 0;
      cr_assert_eq(pread(f.fd, &disk, 4, (off_t)(k * page() + 12)), 4);
      cr_assert_eq(disk, round.last[k], "round %d page %zu: the file lacks the last store", r, k);
    }
    munmap(at, kPages * page());
    fixture::remove_file(f);
  }
}

// ThreadSanitizer cannot see the ordering cmbmap's fault handler gives
// (a store waits in a signal handler until its page is replaced).
void setup() {
#if defined(__SANITIZE_THREAD__)
  cr_skip_test("ThreadSanitizer does not model stores ordered by a SIGSEGV handler");
#endif
  fixture::serving_setup();
}

}  // namespace

TestSuite(store_races, .init = setup, .timeout = 120);

Test(store_races, default_disposition_never_kills) {
  signal(SIGSEGV, SIG_DFL);
  store_across_give_backs(25);
}

Test(store_races, program_handler_sees_no_fault) {
  signal(SIGSEGV, program_handler);  // before tracking starts: cmbmap chains to it
  store_across_give_backs(25);
  cr_assert_eq(g_program_faults.load(), 0, "the program's SIGSEGV handler saw %d faults that never happened",
               g_program_faults.load());
}

namespace {

volatile uint8_t* g_timer_page;
std::atomic<long> g_timer_stores;
void timer_handler(int) {
  // A program signal handler storing into a clean served page while the
  // interrupted thread may be inside cmbmap's fault handler.
  g_timer_page[g_timer_stores.fetch_add(1) % 64] = 1;
}

}  // namespace

Test(store_races, program_signal_handler_stores_while_faulting) {
  fixture::File f = fixture::make_file(kPages * page(), O_RDWR);
  lease::note_open(f.fd, O_RDWR);
  uint64_t served = 0;
  auto* at = static_cast<volatile uint8_t*>(fixture::map_and_serve(
      f.fd, kPages * page(), PROT_READ | PROT_WRITE, MAP_SHARED, fixture::default_options(), &served));
  cr_assert_eq(served, kPages * page());
  g_timer_page = at + (kPages - 1) * page();
  struct sigaction sa{};
  sa.sa_handler = timer_handler;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, nullptr);
  itimerval every{{0, 50}, {0, 50}};  // as often as the kernel will
  setitimer(ITIMER_REAL, &every, nullptr);
  // The main thread faults on clean pages over and over (a writeback makes
  // them clean again each time round).
  const long want = 200;
  long rounds = 0;
  for (; rounds < 20000 && g_timer_stores.load() < want; ++rounds) {
    for (size_t k = 0; k + 1 < kPages; ++k) at[k * page() + 9] = (uint8_t)rounds;
    commit::range((void*)at, kPages * page(), writeback::Mode::Current);
  }
  itimerval off{};
  setitimer(ITIMER_REAL, &off, nullptr);
  cr_assert_geq(g_timer_stores.load(), want, "the timer fired only %ld times", g_timer_stores.load());
  revoke::range((void*)at, kPages * page(), CMBMAP_RECLAIMED);
  fixture::remove_file(f);
}
