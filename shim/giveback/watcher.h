// The watcher thread: cmbmap's one thread of its own. It waits for one
// real-time signal (CMBMAP_SIGNAL) that only it receives: lease breaks
// (the kernel sends them to it by F_SETOWN_EX/F_OWNER_TID) and `cmbmap
// reclaim` requests (sent to its thread id with rt_tgsigqueueinfo). It blocks
// every signal, so the program's signal masks and handlers play no part, and
// a break is answered even when every program thread blocks all signals.
// It also writes back the stores of writable served mappings every
// CMBMAP_WRITEBACK_MS and when msync(MS_ASYNC) asks. Started the first time
// a lease is needed.
#pragma once

#include <cstdint>
#include <sys/types.h>

namespace cmbmap::watcher {

// The watcher's thread id, starting it if needed; 0 if it cannot run.
// signal: CMBMAP_SIGNAL; writeback_ms: CMBMAP_WRITEBACK_MS (0: none).
pid_t ensure(int signal, uint64_t writeback_ms);
// Asks the watcher to write back now (msync MS_ASYNC); false if none runs.
bool request_writeback();
// The periodic writeback has something to do: the watcher recomputes when to wake.
void wake();
// Ends the thread (after what it guards was given back) and waits until the
// kernel no longer lists it; the next ensure() starts a new one. False if it
// would not end.
bool stop();
// A forked child has no watcher until it needs one.
void after_fork_child();

}  // namespace cmbmap::watcher
