// The served-ranges lock (see served_lock.h).
#include "shim/tier/served_lock.h"

#include <pthread.h>
#include <sched.h>

#include "prim/prim.h"

namespace cmbmap::served_lock {
namespace {
pthread_mutex_t g_mutex = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
unsigned g_depth;       // the holder's nesting (changed by the holder only)
unsigned g_waiting;     // threads in lock() that do not hold it yet
unsigned long g_takes;  // outermost acquisitions so far
}  // namespace

void lock() {
  __atomic_add_fetch(&g_waiting, 1, __ATOMIC_RELAXED);
  pthread_mutex_lock(&g_mutex);
  __atomic_sub_fetch(&g_waiting, 1, __ATOMIC_RELAXED);
  if (g_depth++ == 0) __atomic_add_fetch(&g_takes, 1, __ATOMIC_RELEASE);
}

void unlock() {
  --g_depth;
  pthread_mutex_unlock(&g_mutex);
}

bool held_once() { return g_depth == 1; }

bool let_others_in() {
  if (g_depth != 1 || __atomic_load_n(&g_waiting, __ATOMIC_RELAXED) == 0) return false;
  // A recursive holder (depth > 1) keeps the lock: its callers count on
  // nothing changing under them.
  const unsigned long takes = __atomic_load_n(&g_takes, __ATOMIC_ACQUIRE);
  unlock();
  // Until one of them has had it (a mutex is not fair: unlocking and
  // locking again at once would usually win it back). Bounded: a waiter
  // may be slow to be scheduled, or leave lock() by a signal handler's
  // longjmp and never take it.
  const uint64_t give_up = prim::monotonic_ns() + 50 * 1000 * 1000;
  while (__atomic_load_n(&g_takes, __ATOMIC_ACQUIRE) == takes && __atomic_load_n(&g_waiting, __ATOMIC_RELAXED) != 0 &&
         prim::monotonic_ns() < give_up)
    sched_yield();
  lock();
  return true;
}

void before_fork() { lock(); }
void after_fork_parent() { unlock(); }
void after_fork_child() {
  // Only the forking thread exists in the child, and it held the lock once.
  pthread_mutex_t fresh = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
  g_mutex = fresh;
  g_depth = 0;
  g_waiting = 0;
}

}  // namespace cmbmap::served_lock
