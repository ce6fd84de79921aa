// What the tests of writable served mappings share: a served writable file,
// stores into it and reading them back through the file, and writebacks
// run on other threads, held still between two of their writes (in a
// signal handler, outside the served-ranges lock) as slow I/O would hold
// them.
#pragma once

#include <pthread.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "shim/giveback/writeback.h"
#include "test/unit/fake/fixture.h"

namespace cmbmap::writers {

using fixture::Served;

// A writable MAP_SHARED mapping of a new file of `size` bytes, served
// whole, under a write lease (asserted).
Served serve_writable(size_t size, unsigned seed = 0);
void forget(Served& s);  // gives it back and removes the file

uint8_t stored(size_t i);  // what page i is stored
void store_pages(Served& s, size_t first, size_t count);
void store_every_other_page(Served& s, size_t pages);  // windows of many one-page writes
// The file's byte at offset off (read through the program's own fd:
// another open would break the write lease).
uint8_t file_byte(const Served& s, uint64_t off);
// Pages in [from, to) stored by store_every_other_page whose store is not in the file.
size_t missing_in_file(const Served& s, size_t from, size_t to);

uint64_t written_so_far();  // bytes written back through the file (stats)

// Writes past `bytes` of a file fail from now on (EFBIG, as a failing drive
// would fail them); the limit that was in force, to restore.
rlimit fail_writes_past(size_t bytes);

// A commit of [at, at+len) run on another thread.
struct Job {
  const void* at;
  size_t len;
  writeback::Mode mode;
  writeback::Outcome o{};
  const Served* check = nullptr;  // counts its stores not in the file the moment the commit returns
  size_t missing = 0, first_missing = 0;
  pid_t tid = 0;
  int done = 0;
};
void* run_commit(void* job);

// Pausing writers: SIGUSR1 holds the thread that gets it in its handler
// until it is released; thread A (set_a) and the others (B) are released
// apart.
void install_pause();
void set_a(pthread_t a);
void release_a();
void release_b();
void hold_b_again();  // the next B paused stays until release_b()
int paused_so_far();
// Pauses thread t (at its next return from a system call: between two of
// its writes). False if t's job ended first (a loaded machine may not run
// this thread in time): then the signal found nobody.
bool pause_thread(pthread_t t, int already, const int* done);
// Starts j on *t and pauses it before it wrote `within` bytes. False if it
// could not be (it ended first, or wrote more): then it has been let go and
// joined.
bool start_paused(Job* j, pthread_t* t, uint64_t within);

// Whether *flag is set within 2 s (not a timing: what is waited for is
// either free to happen at once or held until the paused writer goes on).
bool set_within_2s(const int* flag);
// Takes the served-ranges lock once, as a mapping call would, and sets *got.
void* take_the_lock_once(void* got);

// Runs j on another thread with its next system call nr held in place
// (syscall_watch) and meanwhile takes the served-ranges lock from a third
// thread, as a mapping call would. j has ended on return.
struct WhileHeld {
  bool held;       // j made the call
  bool lock_free;  // the lock was had within 2 s while the call was held
};
WhileHeld run_with_call_held(long nr, Job* j);

// Thread tid sleeps in a wait for another writer's window (its 50 us
// sleeps), within 2 s (polled; not a timing).
bool waiting_for_a_window(pid_t tid);

}  // namespace cmbmap::writers
