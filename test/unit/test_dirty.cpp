// Dirty-page tracking (shim/core/dirty.cpp) on anonymous memory of this
// machine, where write-protection faults the same way: a store to a clean
// page faults once and is counted, take() hands out exactly the stored
// pages, frozen pages hold a store until the range is replaced, a read()
// into a tracked page does not fail with EFAULT, and faults that are not
// cmbmap's reach the program's own SIGSEGV handler.
#include <criterion/criterion.h>
#include <csetjmp>
#include <csignal>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <cerrno>
#include <unistd.h>

#include "shim/giveback/dirty.h"
#include "common/stats.h"
#include "shim/real.h"

using namespace cmbmap;

namespace {
constexpr size_t kPages = 8;
size_t g_pg;
uint8_t* g_map;

void setup() {
  real::resolve();
  g_pg = (size_t)sysconf(_SC_PAGESIZE);
  g_map = static_cast<uint8_t*>(mmap(nullptr, kPages * g_pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  cr_assert_neq(g_map, MAP_FAILED);
  cr_assert_eq(mprotect(g_map, kPages * g_pg, PROT_READ), 0);
  cr_assert(dirty::track((uintptr_t)g_map, (uintptr_t)g_map + kPages * g_pg, PROT_READ | PROT_WRITE));
}

uintptr_t page(size_t i) { return (uintptr_t)g_map + i * g_pg; }

void store(size_t i, uint8_t v) { *reinterpret_cast<volatile uint8_t*>(page(i) + 100) = v; }

// Runs of dirty pages as "first-last,..." (page numbers). The text stays valid until
// the next call: cr_assert_str_eq keeps the pointer past the full expression, so
// the c_str() of a returned temporary would be read after it is destroyed.
const char* taken(bool freeze) {
  dirty::Run runs[16];
  static std::string out;
  out.clear();
  uintptr_t from = page(0);
  for (size_t n; from < page(kPages) && (n = dirty::take(from, page(kPages), freeze, runs, 16)) > 0;
       from = runs[n - 1].end)
    for (size_t i = 0; i < n; ++i)
      out += (out.empty() ? "" : ",") + std::to_string((runs[i].start - page(0)) / g_pg) + "-" +
             std::to_string((runs[i].end - page(0)) / g_pg - 1);
  return out.c_str();
}

sigjmp_buf g_jump;
int g_own_signal;
void own_handler(int sig, siginfo_t*, void*) {
  g_own_signal = sig;
  siglongjmp(g_jump, 1);
}
}  // namespace

TestSuite(dirty, .init = setup);

Test(dirty, a_store_faults_once_per_page_and_is_taken_once) {
  const uint64_t before = stats::get()->dirty_faults;
  store(2, 1);
  store(2, 2);
  store(5, 3);
  store(6, 4);
  cr_assert_eq(stats::get()->dirty_faults - before, 3u);
  cr_assert_str_eq(taken(false), "2-2,5-6");
  cr_assert_str_eq(taken(false), "", "taken pages are clean until stored again");
  store(5, 9);
  cr_assert_str_eq(taken(false), "5-5");
  cr_assert_eq(g_map[5 * g_pg + 100], 9);
  cr_assert_eq(stats::get()->dirty_faults - before, 4u, "a taken page is write-protected again");
}

Test(dirty, redirty_keeps_a_failed_writeback) {
  store(1, 1);
  cr_assert_str_eq(taken(false), "1-1");
  dirty::redirty(page(1), page(2));
  cr_assert_str_eq(taken(false), "1-1");
}

namespace {
volatile int g_stored;
void* store_page3(void*) {
  store(3, 7);
  g_stored = 1;
  return nullptr;
}
}  // namespace

Test(dirty, a_store_to_a_frozen_page_waits_for_the_replacement) {
  store(3, 1);
  cr_assert_str_eq(taken(true), "3-3");
  pthread_t t;
  pthread_create(&t, nullptr, store_page3, nullptr);
  usleep(100000);
  cr_assert_eq(g_stored, 0, "the store went into a frozen page");
  // Replace the range (as giving it back does), then let go of it.
  void* r = mmap(g_map, kPages * g_pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  cr_assert_eq(r, (void*)g_map);
  dirty::untrack(page(0), page(kPages));
  pthread_join(t, nullptr);
  cr_assert_eq(g_stored, 1);
  cr_assert_eq(g_map[3 * g_pg + 100], 7, "the store landed in what replaced the range");
  cr_assert_not(dirty::any());
}

Test(dirty, thaw_after_a_failed_replacement) {
  store(4, 1);
  cr_assert_str_eq(taken(true), "4-4");
  dirty::thaw(page(0), page(kPages));
  store(4, 2);  // would wait forever if still frozen
  cr_assert_str_eq(taken(false), "4-4");
}

Test(dirty, a_read_into_a_tracked_page_succeeds) {
  int p[2];
  cr_assert_eq(pipe(p), 0);
  cr_assert_eq(write(p[1], "hello", 5), 5);
  dirty::prepare_store((void*)(page(6) + 10), 5);
  cr_assert_eq(read(p[0], (void*)(page(6) + 10), 5), 5, "read() into a write-protected page: EFAULT");
  cr_assert_arr_eq(g_map + 6 * g_pg + 10, "hello", 5);
  cr_assert_str_eq(taken(false), "6-6");
}

Test(dirty, other_faults_reach_the_programs_handler) {
  struct sigaction sa {}, old{};
  sa.sa_sigaction = own_handler;
  sa.sa_flags = SA_SIGINFO;
  cr_assert(dirty::installed());
  cr_assert_eq(dirty::program_sigaction(&sa, &old), 0);
  struct sigaction now{};
  dirty::program_sigaction(nullptr, &now);
  cr_assert_eq((void*)now.sa_sigaction, (void*)own_handler);
  void* none = mmap(nullptr, g_pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (!sigsetjmp(g_jump, 1)) *static_cast<volatile char*>(none) = 1;
  cr_assert_eq(g_own_signal, SIGSEGV);
  store(0, 5);  // cmbmap's own faults are still cmbmap's
  cr_assert_str_eq(taken(false), "0-0");
}

Test(dirty, a_fault_with_the_default_action_still_kills, .signal = SIGSEGV) {
  void* none = mmap(nullptr, g_pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  *static_cast<volatile char*>(none) = 1;
}

namespace {
// read(2) straight to the kernel, as io_uring, AIO or an ioctl would store:
// nothing of cmbmap's runs before the kernel writes into the page.
long raw_read_into(size_t i) {
  int p[2];
  cr_assert_eq(pipe(p), 0);
  cr_assert_eq(write(p[1], "kernel", 6), 6);
  const long n = syscall(SYS_read, p[0], (void*)(page(i) + 200), 6);
  const int err = errno;
  close(p[0]);
  close(p[1]);
  return n < 0 ? -err : n;
}
}  // namespace

Test(dirty, a_store_cmbmap_does_not_see_fails_on_a_clean_page) {
  // The limit CMBMAP_DIRTY=all lifts: the kernel cannot fault a clean page
  // open on the program's behalf.
  cr_assert_eq(raw_read_into(7), -EFAULT);
}

Test(dirty, all_dirty_lets_any_system_call_store) {
  dirty::untrack(page(0), page(kPages));
  cr_assert(dirty::track(page(0), page(kPages), PROT_READ | PROT_WRITE, true));
  const uint64_t before = stats::get()->dirty_faults;
  cr_assert_eq(raw_read_into(7), 6, "a store by the kernel into an all-dirty range failed");
  cr_assert_arr_eq(g_map + 7 * g_pg + 200, "kernel", 6);
  store(1, 3);
  cr_assert_eq(stats::get()->dirty_faults - before, 0u, "an all-dirty range faulted");
  cr_assert_str_eq(taken(false), "0-7");
  cr_assert_str_eq(taken(false), "0-7", "an all-dirty range is whole again at the next writeback");
  // Frozen for a give-back that then failed: writable again afterwards.
  cr_assert_str_eq(taken(true), "0-7");
  dirty::thaw(page(0), page(kPages));
  cr_assert_eq(raw_read_into(2), 6, "a thawed all-dirty page was left write-protected");
  cr_assert_str_eq(taken(false), "0-7");
}
