// The watcher thread (see watcher.h).
#include "watcher.h"

#include <cerrno>
#include <csignal>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "lease.h"
#include "reclaim_request.h"
#include "log.h"
#include "stats.h"

namespace cmbmap::watcher {
namespace {

pid_t g_tid;        // 0 until the thread runs
int g_signal;
bool g_failed;      // creation failed once: do not retry on every mmap

void* run(void*) {
  core::enter_internal_thread();
  // Only cmbmap's own signal: a waited-for signal counts as unblocked here,
  // so waiting for SIGIO too would steal the program's. A break whose
  // real-time signal did not fit the queue (the kernel then sends SIGIO,
  // which stays blocked here) is found by looking once a second.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, g_signal);
  const pid_t tid = (pid_t)syscall(SYS_gettid);
  stats::get()->watcher_signal = (uint64_t)g_signal;
  stats::get()->watcher_tid = (uint64_t)tid;
  __atomic_store_n(&g_tid, tid, __ATOMIC_RELEASE);
  for (;;) {
    siginfo_t si;
    const bool leases = lease::held() > 0;
    // Wake at least once a second while leases are held, and when the
    // periodic writeback is due.
    long wait_ms = core::writeback_tick();
    if (leases && (wait_ms < 0 || wait_ms > 1000)) wait_ms = 1000;
    timespec timeout{wait_ms / 1000, (wait_ms % 1000) * 1000000};
    if (syscall(SYS_rt_sigtimedwait, &set, &si, wait_ms >= 0 ? &timeout : nullptr, _NSIG / 8) < 0) {
      if (errno == EAGAIN && leases) core::on_lease_break();
      continue;
    }
    const uint64_t value = (uint64_t)(uintptr_t)si.si_value.sival_ptr;
    const bool own = si.si_code == SI_QUEUE && si.si_pid == getpid();
    if (own && value == reclaim_request::kWriteback)
      core::on_writeback_request();
    else if (own && value == reclaim_request::kWake)
      continue;  // the loop computes its next wake-up
    else if (si.si_code == SI_QUEUE)
      core::on_reclaim(value);
    else
      core::on_lease_break();
  }
  return nullptr;
}

}  // namespace

pid_t ensure(int signal) {
  pid_t tid = __atomic_load_n(&g_tid, __ATOMIC_ACQUIRE);
  if (tid || g_failed) return tid;
  g_signal = signal;
  // The thread starts with every signal blocked (it inherits this mask).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 << 10);
  pthread_t th;
  const int saved = errno;
  int err = pthread_create(&th, &attr, run, nullptr);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (err) {
    g_failed = true;
    log::Line(LogLevel::Warn).s("cannot start the watcher thread (error ").i(err)
        .s("): no leases, nothing served").emit();
    errno = saved;
    return 0;
  }
  pthread_setname_np(th, "cmbmap-watch");
  while (!(tid = __atomic_load_n(&g_tid, __ATOMIC_ACQUIRE))) {
    timespec ts{0, 50000};
    nanosleep(&ts, nullptr);
  }
  errno = saved;
  log::Line(LogLevel::Debug).s("watcher thread ").i(tid).s(" waits for signal ").i(signal).emit();
  return tid;
}

namespace {

bool send(uint64_t value) {
  const pid_t tid = __atomic_load_n(&g_tid, __ATOMIC_ACQUIRE);
  if (!tid) return false;
  siginfo_t si{};
  si.si_signo = g_signal;
  si.si_code = SI_QUEUE;
  si.si_pid = getpid();
  si.si_uid = getuid();
  si.si_value.sival_ptr = (void*)(uintptr_t)value;
  const int saved = errno;
  const bool sent = syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, g_signal, &si) == 0;
  errno = saved;
  return sent;
}

}  // namespace

bool request_writeback() { return send(reclaim_request::kWriteback); }
void wake() { send(reclaim_request::kWake); }

void after_fork_child() {
  g_tid = 0;
  g_failed = false;
  stats::get()->watcher_tid = 0;
}

}  // namespace cmbmap::watcher
