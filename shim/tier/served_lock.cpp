// The served-ranges lock (see serial.h).
#include "shim/tier/served_lock.h"

#include <pthread.h>

namespace cmbmap::served_lock {
namespace {
pthread_mutex_t g_mutex = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
}  // namespace

void lock() { pthread_mutex_lock(&g_mutex); }
void unlock() { pthread_mutex_unlock(&g_mutex); }

void before_fork() { lock(); }
void after_fork_parent() { unlock(); }
void after_fork_child() {
  // Only the forking thread exists in the child, and it held the lock.
  pthread_mutex_t fresh = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
  g_mutex = fresh;
}

}  // namespace cmbmap::served_lock
