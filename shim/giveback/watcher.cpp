// The watcher thread (see watcher.h).
#include "shim/giveback/watcher.h"

#include <cerrno>
#include <csignal>
#include <pthread.h>
#include <time.h>

#include "common/log.h"
#include "common/stats.h"
#include "common/watcher_message.h"
#include "prim/prim.h"
#include "prim/text.h"
#include "shim/giveback/commit.h"
#include "shim/giveback/lease.h"
#include "shim/giveback/reclaim.h"

namespace cmbmap::watcher {
namespace {

pid_t g_tid;        // 0 until the thread runs
int g_signal;
uint64_t g_writeback_ms;
bool g_failed;      // creation failed once: do not retry on every mmap
int g_stopping;     // stop() sent kStop: the watcher may act on it (another process can forge one)

void* run(void*) {
  prim::t_inside = 1;  // the hooks this thread reaches forward directly
  // Only cmbmap's own signal: a waited-for signal counts as unblocked here,
  // so waiting for SIGIO too would steal the program's. A break whose
  // real-time signal did not fit the queue (the kernel then sends SIGIO,
  // which stays blocked here) is found by looking once a second.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, g_signal);
  const pid_t tid = prim::tid();
  stats::get()->watcher_signal = (uint64_t)g_signal;
  stats::get()->watcher_tid = (uint64_t)tid;
  __atomic_store_n(&g_tid, tid, __ATOMIC_RELEASE);
  for (;;) {
    siginfo_t si;
    const bool leases = lease::held() > 0;
    // Wake at least once a second while leases are held, and when the
    // periodic writeback is due.
    long wait_ms = commit::periodic(g_writeback_ms);
    if (leases && (wait_ms < 0 || wait_ms > 1000)) wait_ms = 1000;
    const int got = prim::wait_signal(&set, &si, wait_ms);
    if (got < 0) {
      if (got == -EAGAIN && leases) reclaim::lease_breaks();
      continue;
    }
    const uint64_t value = (uint64_t)(uintptr_t)si.si_value.sival_ptr;
    const bool own = si.si_code == SI_QUEUE && si.si_pid == prim::pid();
    if (own && value == watcher_message::kWriteback)
      commit::all(writeback::Mode::Current);
    else if (own && value == watcher_message::kWake)
      continue;  // the loop computes its next wake-up
    else if (own && value == watcher_message::kStop && __atomic_load_n(&g_stopping, __ATOMIC_ACQUIRE))
      break;  // only when stop() asked: any process of the user can queue a signal that names this pid
    else if (si.si_code == SI_QUEUE)
      reclaim::requested(value, si.si_pid);
    else
      reclaim::lease_breaks();
  }
  stats::get()->watcher_tid = 0;
  __atomic_store_n(&g_tid, 0, __ATOMIC_RELEASE);
  return nullptr;
}

}  // namespace

pid_t ensure(int signal, uint64_t writeback_ms) {
  pid_t tid = __atomic_load_n(&g_tid, __ATOMIC_ACQUIRE);
  if (tid || g_failed) return tid;
  g_signal = signal;
  g_writeback_ms = writeback_ms;
  __atomic_store_n(&g_stopping, 0, __ATOMIC_RELEASE);
  // The thread starts with every signal blocked (it inherits this mask).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 << 10);
  pthread_t th;
  prim::KeepErrno keep;
  int err = pthread_create(&th, &attr, run, nullptr);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (err) {
    g_failed = true;
    log::Line(LogLevel::Warn).s("cannot start the watcher thread (error ").i(err)
        .s("): no leases, nothing served").emit();
    return 0;
  }
  pthread_setname_np(th, "cmbmap-watch");
  while (!(tid = __atomic_load_n(&g_tid, __ATOMIC_ACQUIRE))) {
    timespec ts{0, 50000};
    nanosleep(&ts, nullptr);
  }
  log::Line(LogLevel::Debug).s("watcher thread ").i(tid).s(" waits for signal ").i(signal).emit();
  return tid;
}

namespace {

bool send(uint64_t value) {
  const pid_t tid = __atomic_load_n(&g_tid, __ATOMIC_ACQUIRE);
  return tid && watcher_message::send(prim::pid(), tid, g_signal, value) == 0;
}

}  // namespace

bool request_writeback() { return send(watcher_message::kWriteback); }

bool stop() {
  const pid_t tid = __atomic_load_n(&g_tid, __ATOMIC_ACQUIRE);
  if (!tid) return true;
  __atomic_store_n(&g_stopping, 1, __ATOMIC_RELEASE);
  if (!send(watcher_message::kStop)) {
    __atomic_store_n(&g_stopping, 0, __ATOMIC_RELEASE);
    return false;
  }
  // Gone when the kernel no longer lists it (the program's next call may
  // need this process to be single-threaded).
  char path[48] = "/proc/self/task/";
  text::append_u64(path, sizeof path, (uint64_t)tid);
  for (int i = 0; i < 2000 && prim::exists(path); ++i) {
    timespec ts{0, 1000000};
    nanosleep(&ts, nullptr);
  }
  return !prim::exists(path);
}
void wake() { send(watcher_message::kWake); }

void after_fork_child() {
  g_tid = 0;
  g_failed = false;
  g_stopping = 0;
  stats::get()->watcher_tid = 0;
}

}  // namespace cmbmap::watcher
