// One change to the served ranges at a time. The program's threads (mapping
// calls, serving, their own writes) and cmbmap's watcher thread (lease
// breaks, reclaim) all change which ranges are CMB and which are file pages;
// without this lock the watcher could map the file back over an address the
// program has just unmapped and reused. Recursive: revoking a file revokes
// its ranges under the same hold. Not taken from signal handlers: cmbmap's
// hooks forward directly while the thread is already inside cmbmap.
#pragma once

namespace cmbmap::served_lock {

void lock();
void unlock();

// Called by the holder between steps of a long job (a writeback's I/O):
// if it holds the lock once (not nested) and other threads wait for it,
// lets one of them have it, then takes it again. True if it did: the
// caller must check that what it works on is still there.
bool let_others_in();
// The caller holds the lock once, not nested: unlock() lets it go entirely.
bool held_once();

struct Hold {
  Hold() { lock(); }
  ~Hold() { unlock(); }
  Hold(const Hold&) = delete;
  Hold& operator=(const Hold&) = delete;
};

// fork: the child must not inherit a lock held by a thread it does not have.
void before_fork();
void after_fork_parent();
void after_fork_child();

}  // namespace cmbmap::served_lock
