// This process's own file changes (see changes.h).
#include "shim/giveback/changes.h"

namespace cmbmap::changes {
namespace {

uint64_t g_epoch;  // bumped as each change starts
int g_running;

}  // namespace

void starting() {
  __atomic_fetch_add(&g_running, 1, __ATOMIC_SEQ_CST);
  __atomic_fetch_add(&g_epoch, 1, __ATOMIC_SEQ_CST);
  // Pairs with serve's fence between registering a range and looking here:
  // either the serve sees this change, or this change sees its range.
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void finished() { __atomic_fetch_sub(&g_running, 1, __ATOMIC_SEQ_CST); }

void happened() { __atomic_fetch_add(&g_epoch, 1, __ATOMIC_SEQ_CST); }

uint64_t epoch() {
  // A change already running may be past its give-back: count it as new.
  uint64_t e = __atomic_load_n(&g_epoch, __ATOMIC_SEQ_CST);
  return __atomic_load_n(&g_running, __ATOMIC_SEQ_CST) ? e - 1 : e;
}

bool changed_since(uint64_t epoch) {
  return __atomic_load_n(&g_running, __ATOMIC_SEQ_CST) != 0 || __atomic_load_n(&g_epoch, __ATOMIC_SEQ_CST) != epoch;
}

void after_fork_child() { g_running = 0; }

}  // namespace cmbmap::changes
