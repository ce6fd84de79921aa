// Edges of dirty tracking (shim/giveback/dirty.cpp) and the hooks around
// it, found in a review: each test states what a program sees without
// cmbmap and checks that it sees the same with its stores tracked. Four are
// disabled: defects found and not fixed yet (each says how; README
// Limitations lists them). Tracking runs on anonymous
// memory of this machine, as in test_dirty.cpp: write-protection faults the
// same way there.
#include <criterion/criterion.h>
#include <csetjmp>
#include <csignal>
#include <cerrno>
#include <pthread.h>
#include <semaphore.h>
#include <string>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "shim/core/core.h"
#include "shim/giveback/dirty.h"
#include "shim/real.h"
#include "test/unit/fake/syscall_watch.h"

using namespace cmbmap;

namespace {
constexpr size_t kPages = 8;
size_t g_pg;
uint8_t* g_map;

uintptr_t page(size_t i) { return (uintptr_t)g_map + i * g_pg; }
void store(size_t i, uint8_t v) { *reinterpret_cast<volatile uint8_t*>(page(i) + 100) = v; }

void map_clean() {
  g_map = static_cast<uint8_t*>(mmap(nullptr, kPages * g_pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  cr_assert_neq(g_map, MAP_FAILED);
  cr_assert_eq(mprotect(g_map, kPages * g_pg, PROT_READ), 0);
}

void setup_untracked() {
  real::resolve();
  g_pg = (size_t)sysconf(_SC_PAGESIZE);
}

void setup() {
  setup_untracked();
  map_clean();
  cr_assert(dirty::track((uintptr_t)g_map, (uintptr_t)g_map + kPages * g_pg, PROT_READ | PROT_WRITE));
}

const char* taken() {
  dirty::Run runs[16];
  static std::string out;
  out.clear();
  uintptr_t from = page(0);
  for (size_t n; from < page(kPages) && (n = dirty::take(from, page(kPages), false, runs, 16)) > 0;
       from = runs[n - 1].end)
    for (size_t i = 0; i < n; ++i)
      out += (out.empty() ? "" : ",") + std::to_string((runs[i].start - page(0)) / g_pg) + "-" +
             std::to_string((runs[i].end - page(0)) / g_pg - 1);
  return out.c_str();
}

// The program's SIGSEGV handler, as sigaction() would hand it to cmbmap.
void program_handler(void (*h)(int, siginfo_t*, void*), int flags) {
  struct sigaction sa{};
  sa.sa_sigaction = h;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  cr_assert(dirty::installed());
  cr_assert_eq(dirty::program_sigaction(&sa, nullptr), 0);
}

void* inaccessible_page() {
  void* p = mmap(nullptr, g_pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(p, MAP_FAILED);
  return p;
}

sigjmp_buf g_jump;
volatile int g_entries, g_code, g_on_alt_stack;
void* volatile g_addr;

void record_and_jump(int, siginfo_t* si, void*) {
  ++g_entries;
  g_code = si->si_code;
  g_addr = si->si_addr;
  siglongjmp(g_jump, 1);
}
}  // namespace

// Each test sets up its own tracking (setup()): one of them needs a thread
// made before it.
TestSuite(dirty_edges, .timeout = 30);

// Every SEGV_ACCERR on a tracked page was taken for a
// store. An instruction fetch from a page of a PROT_READ|PROT_WRITE mapping
// also faults with SEGV_ACCERR; the handler makes the page "writable" and
// returns, the fetch faults again, the page is dirty now and is made
// writable again: forever. Without cmbmap the program's handler gets it.
Test(dirty_edges, an_instruction_fetch_from_a_tracked_page_reaches_the_program) {
  setup();
  program_handler(record_and_jump, SA_SIGINFO);
  if (!sigsetjmp(g_jump, 1)) reinterpret_cast<void (*)()>(page(1))();
  cr_assert_eq(g_entries, 1);
  cr_assert_eq(g_code, SEGV_ACCERR);
  cr_assert_eq(g_addr, (void*)page(1));
}

namespace {
sem_t g_opened;
int g_pipe[2];
volatile long g_read;
volatile int g_read_errno;

// What the read hook does (read.cpp: core::reading, then the call), for a
// read that blocks: a socket or a pipe the data comes to later.
void* hooked_blocking_read(void*) {
  void* at = (void*)(page(3) + 10);
  dirty::prepare_store(at, 5);
  sem_post(&g_opened);
  g_read = read(g_pipe[0], at, 5);
  g_read_errno = errno;
  return nullptr;
}
}  // namespace

// dirty.cpp:494-509 (prepare_store) opens the buffer's pages before the
// call, but nothing keeps them open until it returns: a writeback's take()
// (the periodic one every CMBMAP_WRITEBACK_MS) write-protects them again,
// and the blocked read or recv then fails with EFAULT when its data comes.
// OPEN: the hooks should mark the buffer as a store in flight (begin/end around the call) and the periodic take leave such pages writable.
Test(dirty_edges, a_writeback_during_a_blocking_read_does_not_fail_it, .disabled = true) {
  setup();
  cr_assert_eq(pipe(g_pipe), 0);
  sem_init(&g_opened, 0, 0);
  pthread_t t;
  pthread_create(&t, nullptr, hooked_blocking_read, nullptr);
  sem_wait(&g_opened);
  usleep(100000);                   // the reader is (most likely) asleep in read() now
  cr_assert_str_eq(taken(), "3-3");  // the periodic writeback takes the opened page
  cr_assert_eq(write(g_pipe[1], "hello", 5), 5);
  pthread_join(t, nullptr);
  cr_assert_eq(g_read, 5, "read() into the mapping failed (errno %d) where the kernel alone succeeds", g_read_errno);
  cr_assert_arr_eq(g_map + 3 * g_pg + 10, "hello", 5);
}

// dirty.cpp:137-140 and 130: open_pages ignores a failed mprotect (ENOMEM
// at vm.max_map_count, the split it needs), which the fault handler
// (line 243) answers by opening the whole tracked range. prepare_store
// leaves the page write-protected and the read fails with EFAULT.
Test(dirty_edges, a_read_into_a_page_that_cannot_be_split_off_does_not_fail) {
  setup();
  int p[2];
  cr_assert_eq(pipe(p), 0);
  cr_assert_eq(write(p[1], "hello", 5), 5);
  syscall_watch::fail_next(SYS_mprotect, ENOMEM);
  dirty::prepare_store((void*)(page(6) + 10), 5);
  const long n = read(p[0], (void*)(page(6) + 10), 5);
  cr_assert_eq(n, 5, "read() into the mapping failed (errno %d) where the kernel alone succeeds", errno);
}

// dirty.cpp:485-491 (clear_past_eof): the page is opened (open_pages, whose
// mprotect may fail, see above) and zeroed with every signal blocked
// (Locked). A zeroing store to a page left write-protected faults with
// SIGSEGV blocked, and the kernel kills the process.
Test(dirty_edges, zeroing_past_eof_on_a_page_that_cannot_be_opened_does_not_kill) {
  setup();
  store(0, 1);
  cr_assert_str_eq(taken(), "0-0");  // clean, write-protected, byte 100 non-zero
  syscall_watch::fail_next(SYS_mprotect, ENOMEM);
  dirty::clear_past_eof(page(0) + 50, page(1));
  cr_assert(true, "survived");
}

namespace {
// A handler that faults itself, as a crash reporter walking a broken stack
// may: the kernel has SIGSEGV blocked in it (no SA_NODEFER), so the nested
// fault ends the process.
void faults_again(int, siginfo_t*, void*) {
  if (++g_entries > 1) _exit(3);  // entered again: the kernel never does this
  *static_cast<volatile char*>(g_addr) = 1;
}
}  // namespace

// dirty.cpp:182-183 (chain): the program's handler runs with SIGSEGV
// unblocked, so a fault inside it re-enters it (recursively, until its
// stack is gone) instead of killing the process as the kernel does.
// OPEN: chain() unblocks SIGSEGV for the program's handler; keep a per-thread "blocked for the program" state and do what the kernel does for faults not cmbmap's while it is set.
Test(dirty_edges, a_fault_inside_the_programs_handler_kills_as_without_cmbmap, .signal = SIGSEGV, .disabled = true) {
  setup();
  g_addr = inaccessible_page();
  program_handler(faults_again, SA_SIGINFO);
  *static_cast<volatile char*>(inaccessible_page()) = 1;
}

namespace {
void where_am_i(int, siginfo_t*, void*) {
  stack_t ss{};
  sigaltstack(nullptr, &ss);
  g_on_alt_stack = (ss.ss_flags & SS_ONSTACK) != 0;
  ++g_entries;
  siglongjmp(g_jump, 1);
}
}  // namespace

// cmbmap's handler was installed SA_ONSTACK, and chain() calls the
// program's handler on whatever stack that is: a handler the program
// installed without SA_ONSTACK ran on the thread's alternate signal stack
// (often small: sized for another signal's handler) instead of its own.
namespace {
// With an alternate signal stack, the program's handler (flags) gets a
// fault that is not cmbmap's: whether it ran on that stack.
bool handler_ran_on_alt_stack(int flags) {
  static char alt[1 << 16];
  stack_t ss{};
  ss.ss_sp = alt;
  ss.ss_size = sizeof alt;
  cr_assert_eq(sigaltstack(&ss, nullptr), 0);
  program_handler(where_am_i, flags);
  if (!sigsetjmp(g_jump, 1)) *static_cast<volatile char*>(inaccessible_page()) = 1;
  cr_assert_eq(g_entries, 1);
  return g_on_alt_stack;
}
}  // namespace

Test(dirty_edges, a_handler_without_sa_onstack_runs_on_the_threads_stack) {
  setup();
  cr_assert_not(handler_ran_on_alt_stack(SA_SIGINFO),
                "the program's handler ran on the alternate stack it did not ask for");
}

// And one installed with SA_ONSTACK runs there, as the kernel would run it
// (its stack-overflow faults must reach it): cmbmap's own action follows.
Test(dirty_edges, a_handler_with_sa_onstack_runs_on_the_alternate_stack) {
  setup();
  cr_assert(handler_ran_on_alt_stack(SA_SIGINFO | SA_ONSTACK),
            "the program's SA_ONSTACK handler did not run on the alternate stack");
}

// dirty.cpp:168: SIG_IGN and SIG_DFL are recognized only without
// SA_SIGINFO. The kernel looks at the handler alone: a SIGSEGV sent to a
// program that set { SIG_IGN, SA_SIGINFO } is ignored; chain() calls
// address 1 instead.
Test(dirty_edges, a_sent_sigsegv_the_program_ignores_with_sa_siginfo_is_ignored) {
  setup();
  struct sigaction sa{};
  sa.sa_handler = SIG_IGN;
  sa.sa_flags = SA_SIGINFO;
  cr_assert_eq(dirty::program_sigaction(&sa, nullptr), 0);
  cr_assert_eq(raise(SIGSEGV), 0);
  store(2, 1);
  cr_assert_str_eq(taken(), "2-2");
}

// dirty.cpp:162-165: SA_RESETHAND resets the handler to SIG_DFL and
// clears every flag; the kernel resets the handler only, so sigaction()
// afterwards reports the flags (and mask) the program set.
Test(dirty_edges, sigaction_reports_what_sa_resethand_left) {
  setup();
  program_handler(record_and_jump, SA_SIGINFO | SA_RESETHAND);
  if (!sigsetjmp(g_jump, 1)) *static_cast<volatile char*>(inaccessible_page()) = 1;
  cr_assert_eq(g_entries, 1);
  struct sigaction now{};
  dirty::program_sigaction(nullptr, &now);
  cr_assert_eq((void*)now.sa_handler, (void*)SIG_DFL);
  cr_assert_eq(now.sa_flags & (SA_SIGINFO | SA_RESETHAND), SA_SIGINFO | SA_RESETHAND,
               "flags 0x%x: the kernel keeps them when it resets the handler", now.sa_flags);
}

// core::reading (under read.cpp's readv/preadv and store.cpp's recvmsg)
// read the program's iovec array directly. A bad pointer, which the kernel
// answers with EFAULT, faulted in cmbmap instead and the program got
// SIGSEGV (killed by its default disposition).
Test(dirty_edges, a_bad_iovec_pointer_is_the_kernels_efault_not_a_fault) {
  setup();
  program_handler(record_and_jump, SA_SIGINFO);
  const auto* bad = static_cast<const struct iovec*>(inaccessible_page());
  if (!sigsetjmp(g_jump, 1)) core::reading(-1, bad, 1);
  cr_assert_eq(g_entries, 0, "the readv hook faulted on the program's iovec pointer");
}

namespace {
sem_t g_go;
volatile int g_stored;
void* store_later(void*) {
  while (sem_wait(&g_go) != 0) {}
  store(2, 7);
  g_stored = 1;
  return nullptr;
}
}  // namespace

// dirty.cpp:276-287 and README Limitations: SIGSEGV is unblocked only on
// the thread that first tracks. A thread that blocked every signal before
// (the usual "signals to one sigwait thread" design: blocked in main at
// start-up, inherited by every worker) is killed by its first store to a
// clean page, long after cmbmap could have fallen back (track all-dirty,
// or not at all) instead.
// OPEN: install the handler at start-up when CMBMAP_WRITABLE=1, or track all-dirty when a thread blocks SIGSEGV.
Test(dirty_edges, a_thread_that_blocked_all_signals_before_tracking_can_store, .disabled = true) {
  setup_untracked();
  sem_init(&g_go, 0, 0);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  pthread_t t;
  pthread_create(&t, nullptr, store_later, nullptr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  map_clean();
  if (!dirty::track((uintptr_t)g_map, (uintptr_t)g_map + kPages * g_pg, PROT_READ | PROT_WRITE))
    cr_assert_eq(mprotect(g_map, kPages * g_pg, PROT_READ | PROT_WRITE), 0);  // the fallback: ordinary pages
  sem_post(&g_go);
  pthread_join(t, nullptr);
  cr_assert_eq(g_stored, 1);
  cr_assert_eq(g_map[2 * g_pg + 100], 7);
}

namespace {
void timer_store(union sigval) {
  store(2, 9);
  g_stored = 1;
}
}  // namespace

// README.md:744-746 says every mask set after cmbmap first tracked stores is
// kept free of SIGSEGV, but libc sets some itself, past every hook: the
// thread that runs a SIGEV_THREAD timer's (or mq_notify's) function has
// every signal blocked (glibc's tst-timer-sigmask checks it), so its first
// store to a clean page kills the process. (The fix is a hook, timer_create
// and mq_notify wrapping the function to unblock SIGSEGV: this test, which
// calls libc's timer_create, passes once the unit binary links it.)
// OPEN: hook timer_create/mq_notify (a trampoline that unblocks SIGSEGV) and pthread_attr_setsigmask_np; the unit binary does not link the hooks, so this belongs in a VM test once fixed.
Test(dirty_edges, a_timer_thread_can_store, .disabled = true) {
  setup();
  struct sigevent sev{};
  sev.sigev_notify = SIGEV_THREAD;
  sev.sigev_notify_function = timer_store;
  timer_t id;
  cr_assert_eq(timer_create(CLOCK_MONOTONIC, &sev, &id), 0);
  struct itimerspec when{};
  when.it_value.tv_nsec = 1000000;
  cr_assert_eq(timer_settime(id, 0, &when, nullptr), 0);
  for (int i = 0; i < 5000 && !g_stored; ++i) usleep(1000);
  cr_assert_eq(g_stored, 1);
  cr_assert_eq(g_map[2 * g_pg + 100], 9);
}
