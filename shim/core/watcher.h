// The watcher thread: cmbmap's one thread of its own. It waits for one
// real-time signal (CMBMAP_SIGNAL) that only it receives: lease breaks
// (the kernel sends them to it by F_SETOWN_EX/F_OWNER_TID) and `cmbmap
// reclaim` requests (sent to its thread id with rt_tgsigqueueinfo). It blocks
// every signal, so the program's signal masks and handlers play no part, and
// a break is answered even when every program thread blocks all signals.
// Started the first time a lease is needed.
#pragma once

#include <sys/types.h>

namespace cmbmap::watcher {

// The watcher's thread id, starting it if needed; 0 if it cannot run.
pid_t ensure(int signal);
// A forked child has no watcher until it needs one.
void after_fork_child();

}  // namespace cmbmap::watcher
