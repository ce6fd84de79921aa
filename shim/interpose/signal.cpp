// Interposers for sigaction, signal (bsd_signal, sysv_signal), sigprocmask
// and pthread_sigmask. Once
// cmbmap's fault handler tracks stores into writable served mappings:
//   - the program's own SIGSEGV handler is kept by the core and called for
//     every fault that is not cmbmap's, instead of replacing cmbmap's;
//   - SIGSEGV is never blocked (the kernel ends a process whose store
//     faults while SIGSEGV is blocked, and a store to a clean served page
//     always faults): it is left out of the masks the program sets, for a
//     thread or for the duration of its signal handlers.
#include <csignal>

#include "shim/core/core.h"
#include "common/export.h"
#include "shim/real.h"

using namespace cmbmap;

namespace {

// set without SIGSEGV, in *copy, if cmbmap's handler needs that; else set.
const sigset_t* without_segv(const sigset_t* set, sigset_t* copy) {
  if (!set || !core::segv_handler_installed() || !sigismember(set, SIGSEGV)) return set;
  *copy = *set;
  sigdelset(copy, SIGSEGV);
  return copy;
}

}  // namespace

CMBMAP_EXPORT int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  if (sig == SIGSEGV && core::segv_handler_installed()) return core::program_segv_action(act, old);
  if (!act || !core::segv_handler_installed() || !sigismember(&act->sa_mask, SIGSEGV))
    return real::sigaction(sig, act, old);
  struct sigaction copy = *act;
  sigdelset(&copy.sa_mask, SIGSEGV);
  return real::sigaction(sig, &copy, old);
}

namespace {

// signal() and its variants for SIGSEGV, as the sigaction they stand for.
sighandler_t segv_handler(sighandler_t handler, int flags, bool block_self) {
  struct sigaction act{}, old{};
  act.sa_handler = handler;
  act.sa_flags = flags;
  sigemptyset(&act.sa_mask);
  if (block_self) sigaddset(&act.sa_mask, SIGSEGV);
  if (core::program_segv_action(&act, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}

}  // namespace

CMBMAP_EXPORT sighandler_t signal(int sig, sighandler_t handler) {
  if (sig != SIGSEGV || !core::segv_handler_installed()) return real::signal(sig, handler);
  // glibc's signal() and bsd_signal(): BSD semantics, the signal blocked
  // while its handler runs, system calls restarted.
  return segv_handler(handler, SA_RESTART, true);
}
CMBMAP_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler) { return signal(sig, handler); }
CMBMAP_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler) {
  if (sig != SIGSEGV || !core::segv_handler_installed()) return real::sysv_signal(sig, handler);
  // System V semantics: one-shot, not blocked while the handler runs.
  return segv_handler(handler, SA_RESETHAND | SA_NODEFER, false);
}

CMBMAP_EXPORT int sigprocmask(int how, const sigset_t* set, sigset_t* old) {
  sigset_t copy;
  return real::sigprocmask(how, how == SIG_UNBLOCK ? set : without_segv(set, &copy), old);
}

CMBMAP_EXPORT int pthread_sigmask(int how, const sigset_t* set, sigset_t* old) {
  sigset_t copy;
  return real::pthread_sigmask(how, how == SIG_UNBLOCK ? set : without_segv(set, &copy), old);
}
