// Core state, start-up and the process events: fork, exec, spawn, exit
// (see core.h). The mapping decision is in map.cpp.
#include "shim/core/core.h"

#include <cstdlib>
#include <pthread.h>
#include <sys/auxv.h>

#include "common/log.h"
#include "common/options.h"
#include "common/stats.h"
#include "prim/prim.h"
#include "shim/core/internal.h"
#include "shim/core/machine.h"
#include "shim/core/policy.h"
#include "shim/giveback/changes.h"
#include "shim/giveback/commit.h"
#include "shim/giveback/dirty.h"
#include "shim/giveback/lease.h"
#include "shim/giveback/reclaim.h"
#include "shim/giveback/revoke.h"
#include "shim/giveback/share.h"
#include "shim/giveback/watcher.h"
#include "shim/giveback/writeback.h"
#include "shim/real.h"
#include "shim/tier/io_cache.h"
#include "shim/tier/registry.h"
#include "shim/tier/scrub.h"
#include "shim/tier/served_lock.h"

namespace cmbmap::core {
namespace {

enum class State : int { Uninit, Active, Disabled };
State g_state = State::Uninit;
pid_t g_pid;  // this process (see in_vfork_child)
Options g_opts;

const char* env_lookup(const char* name) { return getenv(name); }
void warn_option(const char* msg) {
  char line[600] = "cmbmap: ";
  size_t n = 8;
  for (const char* p = msg; *p && n + 1 < sizeof line; ++p) line[n++] = *p;
  line[n] = '\0';
  log::to_stderr(line);
}

// fork: no revocation may be half done in the parent as it forks, and the
// child gives back everything it inherited. Its CMB pages are the parent's
// (p2pmem is shared), and the parent's watcher neither knows about the
// child nor can the child be told of a break: file pages are right for it.
void atfork_prepare() {
  served_lock::before_fork();  // first: no serve may take a new lease from here on
  revoke::write_leased_files();
  lease::before_fork();
}
void atfork_parent() { served_lock::after_fork_parent(); }
void atfork_child() {
  served_lock::after_fork_child();
  registry::after_fork_child();
  io_cache::after_fork_child();
  dirty::after_fork_child();
  writeback::after_fork_child();
  machine::after_fork_child();
  changes::after_fork_child();
  g_pid = prim::pid();
  stats::after_fork_child();
  watcher::after_fork_child();
  size_t n = revoke::inherited();
  lease::after_fork_child();
  log::Line(LogLevel::Debug).s("fork: child gave back ").size(n)
      .s(" of inherited CMB ranges and starts with its own statistics").emit();
}

}  // namespace

Scope::Scope() : on_(false) {
  if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == State::Active && prim::t_inside == 0) {
    prim::t_inside = 1;
    on_ = true;
  }
}

Scope::~Scope() {
  if (on_) prim::t_inside = 0;
}

const Options& options() { return g_opts; }

void init() {
  if (g_state != State::Uninit) return;
  real::resolve();
  // A setuid/setgid program must not let its caller's environment choose
  // files it writes (CMBMAP_LOG=...:/etc/passwd): ignore CMBMAP_* entirely.
  if (getauxval(AT_SECURE)) {
    __atomic_store_n(&g_state, State::Disabled, __ATOMIC_RELEASE);
    return;
  }
  g_pid = prim::pid();
  parse_options(env_lookup, warn_option, &g_opts);
  log::init(g_opts);
  if (policy::mapping_reason(g_opts, false, SIZE_MAX, 0, 0) == CMBMAP_DISABLED) {
    log::Line(LogLevel::Info).s("inactive: ").s(cmbmap_reason_name(CMBMAP_DISABLED)).emit();
    __atomic_store_n(&g_state, State::Disabled, __ATOMIC_RELEASE);
    return;
  }
  machine::init(g_opts);
  scrub::set_enabled(g_opts.scrub);
  share::set_enabled(g_opts.share);
  reclaim::set_share(g_opts.share, g_opts.share_grace_ms);
  // The statistics page now, where the program's first file mapping would
  // publish it anyway: made later, the kernel could put it in a hole the
  // program has just made and means to grow into (mremap in place).
  if (machine::any_usable() || log::enabled(LogLevel::Info) || g_opts.stats) stats::publish();
  // The registry's storage too, for the same reason.
  if (machine::any_usable()) registry::init();
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
  log::Line(LogLevel::Debug).s("active: min_size ").size(g_opts.min_size)
      .s(machine::any_usable() ? ", a usable CMB is present" : ", no usable CMB on this machine")
      .emit();
  __atomic_store_n(&g_state, State::Active, __ATOMIC_RELEASE);
}

bool in_vfork_child() { return prim::pid() != g_pid; }

void before_exec() {
  if (in_vfork_child()) return;  // the parent's state is not the child's to change
  if (g_state == State::Active) {
    lease::refuse_new(true);
    revoke::write_leased_files();
    // The new image would drop the CMB pages unscrubbed: file pages now
    // (and if exec fails, the program goes on with them).
    revoke::all(0);
  }
  // The new image starts with nothing of ours: its own stats file, if any.
  stats::unpublish();
}

void before_spawn() {
  if (in_vfork_child() || g_state != State::Active) return;
  revoke::write_leased_files();
  lease::before_fork();  // the fds are the child's too now
}

void after_exec_failed() {
  if (in_vfork_child()) return;
  lease::refuse_new(false);
  log::Line(LogLevel::Debug).s("exec failed; statistics continue in memory").emit();
}

void leaving_threads() {
  if (g_state != State::Active || in_vfork_child()) return;
  revoke::all(CMBMAP_REMAPPED);
  if (!registry::empty() || lease::held() || !watcher::stop())
    log::Line(LogLevel::Warn).s("a user namespace call while cmbmap still serves (stores it could not write): "
                                "its thread stays, and the kernel will refuse the call").emit();
}

void at_exit(bool quick) {
  // A vfork child's _exit must not touch the parent's ranges (its memory).
  if (g_state != State::Active || in_vfork_child()) return;
  // Stores in CMB memory die with the process: to the file with them, and
  // the CMB memory back to the pool zeroed.
  commit::at_exit();
  lease::refuse_new(true);
  if (g_opts.stats && !quick) stats::print();
  stats::unpublish();
}

}  // namespace cmbmap::core
