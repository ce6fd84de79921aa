// Which pages of the writable served ranges hold stores not yet written
// back. A clean page is write-protected; the first store to it faults, and
// cmbmap's SIGSEGV handler marks the page dirty and lets the store through:
// one fault per page per writeback, as the page cache's page_mkwrite does.
//
// The handler is async-signal-safe: a spinlock that every other holder takes
// with all signals blocked (so it never interrupts its own thread's holder),
// raw mprotect, no allocation. A fault that is not cmbmap's goes to the
// program's own SIGSEGV disposition: sigaction() and signal() for SIGSEGV
// are answered here once cmbmap's handler is installed, so it stays first.
#pragma once

#include <csignal>
#include <cstddef>
#include <cstdint>

namespace cmbmap::dirty {

struct Run {
  uintptr_t start, end;  // pages with stores to write back
};

// Starts tracking [start, end) (page aligned, mapped read-only by the
// caller): every page clean; a store makes it prot (the program's) again.
// With all_dirty (CMBMAP_DIRTY=all) every page is dirty from the start and
// made prot here, and stays so after each writeback: no store ever faults,
// so system calls and devices cmbmap never sees can store into the range,
// at the price of writing all of it back each time. False if the table is
// full or the handler cannot be installed.
bool track(uintptr_t start, uintptr_t end, int prot, bool all_dirty = false);
bool any();                                  // one load: anything tracked?
bool tracks(uintptr_t start, size_t len);   // any tracked page in the range

// Takes the dirty pages in [lo, hi) for writing back, at most cap runs:
// they are write-protected again and counted clean, so a store from now on
// dirties them anew (a page that cannot be write-protected stays dirty).
// With freeze (the range is about to stop being CMB), all tracked pages in
// the range are frozen first: a store to a frozen page waits in the handler
// until untrack() (it then lands in what replaced the range) or thaw().
// Runs come in address order: call again from the last run's end until it
// returns 0. A dirty page that cannot be write-protected to freeze it stays
// dirty and writable, not taken, and *unfrozen is set: the caller must not
// replace the range (a store to it now would be lost).
size_t take(uintptr_t lo, uintptr_t hi, bool freeze, Run* out, size_t cap, bool* unfrozen = nullptr);
// The dirty pages in [lo, hi), at most cap runs, left as they are (dirty,
// writable): what a freeze could not take, to write all the same.
size_t dirty_runs(uintptr_t lo, uintptr_t hi, Run* out, size_t cap);
// Frozen pages in [lo, hi) become ordinary clean pages again (the range
// stays CMB after all: the call that was to replace it failed).
void thaw(uintptr_t lo, uintptr_t hi);
// Pages written back that could not be written: dirty again.
void redirty(uintptr_t lo, uintptr_t hi);
// [lo, hi) is no longer CMB (replaced, unmapped): forget its pages.
void untrack(uintptr_t lo, uintptr_t hi);
// The page holding [from, to) was written back and the file ends at from:
// bytes stored past EOF there are zeroed, as the kernel's writeback of a
// partial page zeroes them. A page that holds any is made dirty and
// writable first, so a store racing this is never missed.
void clear_past_eof(uintptr_t from, uintptr_t to);

// A system call is about to store into [p, p+len) (a read into the
// mapping): its tracked pages are made dirty and writable first, or the
// kernel would fail the call with EFAULT on a write-protected page.
void prepare_store(const void* p, size_t len);

// [lo, hi) leaves the program's sight for an instant: revoke moves its CMB
// pages aside and the file's pages in, two mremaps with nothing mapped
// there in between. A thread touching it meanwhile waits in the SIGSEGV
// handler and then runs again on the file pages (installed here first, if
// need be). False if the handler cannot be installed: then the caller must
// not open the gap. A system call reading or writing there in that instant
// still fails with EFAULT.
bool hide(uintptr_t lo, uintptr_t hi);
void show(uintptr_t lo, uintptr_t hi);  // the file's pages are there now

// The program's sigaction/signal for SIGSEGV once cmbmap's handler is in
// place (installed() true): kept here, called for faults not cmbmap's.
bool installed();
int program_sigaction(const struct sigaction* act, struct sigaction* old);

// Blocks every signal for the scope (if when): between freezing pages and
// replacing them no handler may run on this thread and store into them.
class SignalsBlocked {
 public:
  explicit SignalsBlocked(bool when);
  ~SignalsBlocked() { end(); }
  void end();  // unblock before the scope ends
 private:
  bool on_;
  uint64_t old_;
};

void after_fork_child();

}  // namespace cmbmap::dirty
