// Interposers for sigaction and signal, for SIGSEGV only: once cmbmap's
// fault handler tracks stores into writable served mappings, the program's
// own SIGSEGV handler is kept by the core and called for every fault that
// is not cmbmap's, instead of replacing cmbmap's.
#include <csignal>
#include <cerrno>

#include "core/core.h"
#include "interpose.h"
#include "real.h"

using namespace cmbmap;

CMBMAP_EXPORT int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  if (sig != SIGSEGV || !core::segv_handler_installed()) return real::sigaction(sig, act, old);
  return core::program_segv_action(act, old);
}

CMBMAP_EXPORT sighandler_t signal(int sig, sighandler_t handler) {
  if (sig != SIGSEGV || !core::segv_handler_installed()) return real::signal(sig, handler);
  // glibc's signal(): BSD semantics, the signal blocked while its handler runs.
  struct sigaction act{}, old{};
  act.sa_handler = handler;
  act.sa_flags = SA_RESTART;
  sigemptyset(&act.sa_mask);
  sigaddset(&act.sa_mask, sig);
  if (core::program_segv_action(&act, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}
