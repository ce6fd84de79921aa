// The library's system calls, seen and held in place by tests: which fds a
// call (fdatasync, say) was made on, and a thread stopped inside one (a
// slow fdatasync) to see what it holds meanwhile, or made to fail. The library makes its
// system calls through libc's syscall() (prim/prim.cpp), which the
// unit-test binary interposes; nothing is seen or held until a test asks.
#pragma once

#include <cstddef>
#include <sys/types.h>

namespace cmbmap::syscall_watch {

// From now on, calls of system call nr are counted with their first
// argument (an fd); one call number at a time.
void count(long nr);
size_t counted();  // so far
// Of the calls counted from `from` on, those made on an fd of file dev/ino
// (still open: the fds are looked at now).
int counted_on(size_t from, dev_t dev, ino_t ino);

// The `times` calls of system call nr after the next `skip` ones (by any
// thread) are not made: they fail with err, as a failing kernel or device
// would fail them.
void fail_next(long nr, int err, int skip = 0, int times = 1);

// The next call of system call nr (by any thread) waits, after it is made,
// until release(); at most one at a time.
void hold_next(long nr);
// Whether a call is being held now; waits up to 2 s for one to arrive.
bool held_within_2s();
// Lets the held call (or the next one, if none arrived) return.
void release();

}  // namespace cmbmap::syscall_watch
