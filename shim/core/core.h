// The one core the interposers ask. Each hook calls exactly one function
// here and returns what it returns; the core decides, logs and counts, and
// the interposers hold no policy. With cmbmap disabled, uninitialised, or
// re-entered on this thread, the hooks forward directly (see Scope).
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

#include "options.h"

struct iovec;
struct sigaction;
struct stat;

namespace cmbmap::core {

// Re-entrancy guard: a hook runs cmbmap logic only if Scope::on() is true.
// Inside, any libc call that lands in another hook forwards directly.
// errno is the core functions' business: each leaves it as the real call set it.
class Scope {
 public:
  Scope();
  ~Scope();
  bool on() const { return on_; }
 private:
  bool on_;
};

void init();  // library constructor

// mmap family: the decision for a file mapping, then the real call.
void* map_file(void* addr, size_t len, int prot, int flags, int fd, off_t off);
// Plans and serves a mapping the kernel has already made (after mremap).
void serve_existing(void* at, size_t len, int prot, int flags, int fd, off_t off);
// True if [addr, addr+len) touches a range cmbmap serves.
bool range_is_ours(const void* addr, size_t len);
// The mapping calls on ranges cmbmap serves (range_is_ours was true).
int unmap(void* addr, size_t len);
void* remap(void* old, size_t old_len, size_t new_len, int flags, void* new_addr);
int protect(void* addr, size_t len, int prot);
// mprotect of a range cmbmap does not serve: making a shared mapping of a
// write-leased file writable gives that file's ranges back first.
void protect_other(void* addr, size_t len, int prot);
int advise(void* addr, size_t len, int advice);
// msync of served ranges: writable ones write their stores back (writable.cpp).
int sync_range(void* addr, size_t len, int flags);
// Before a call replaces or removes [addr, addr+len) (munmap, MAP_FIXED,
// mremap): stores in writable served ranges there are written back, and
// further stores wait (caller: serial lock and dirty::SignalsBlocked held)
// until forget_range(), or replacing_failed() if the call failed.
void write_back_before_replacing(void* addr, size_t len);
void replacing_failed(void* addr, size_t len);
// An anonymous MAP_FIXED mapping over served ranges: they are gone.
void* map_anonymous_over(void* addr, size_t len, int prot, int flags, int fd, off_t off);
// Drops [addr, addr+len) from what cmbmap serves after the kernel replaced
// or removed it; returns the bytes dropped.
size_t forget_range(void* addr, size_t len);
// Gives served ranges back to the page cache (cause: a reason code for
// stats and log). Returns the bytes given back.
size_t revoke_range(const void* addr, size_t len, int cause);
size_t revoke_file(dev_t dev, ino_t ino, int cause);
// In a forked child: every inherited range back to file pages, quietly (the
// child's statistics start from zero). Returns the bytes given back.
size_t give_back_inherited();

// Writable served mappings (writable.cpp).
bool writable_served();               // one load: any writable range served?
// The program is about to read fd into the buffers: the file's stores are
// written back first, and the buffers made writable (see interpose_read.cpp).
void reading(int fd, const struct iovec* iov, int cnt);
// fsync and friends on fd (-1: sync, syncfs): its stores go to the file,
// durably, first.
void syncing(int fd);
bool segv_handler_installed();
int program_segv_action(const struct sigaction* act, struct sigaction* old);
// Watcher: time for the periodic writeback? (CMBMAP_WRITEBACK_MS); returns
// the milliseconds until the next one is due (-1: none).
long writeback_tick();
// An msync(MS_ASYNC) writeback handed to the watcher, and the watcher doing it.
void writeback_async();
void on_writeback_request();
void write_back_at_exit();
// The options read at start-up.
const Options& options();

// fd events
bool fd_is_ours(int fd);              // cmbmap's own descriptors (log file)
void opened(int fd, int flags);       // the program's open returned fd
// fd's file may now be written where no hook sees it (a stdio FILE): give
// its ranges back, and take no write lease on fd again.
void fd_written_elsewhere(int fd);
void fd_replaced(int fd);             // about to be closed or dup2'ed over
void keep_own_fd(int fd);             // move a served range's fd out of the program's way
// close_range/closefrom over [first, last]: the ranges and leases whose fds
// lie there are given back first (there is no fd number left to move them to).
void fds_closing(unsigned first, unsigned last);
// The file behind fd / path is about to change (write, truncate,
// fallocate...): served ranges of it must not outlive the change, and until
// file_changed() a serve under a write lease (which this process's own
// writes do not break) falls back rather than register possibly old bytes.
void file_changing(int fd);
void path_changing(int dirfd, const char* path);
// True if fd's file has served ranges (*st: its fstat); errno kept.
bool served_file(int fd, struct stat* st);
// ftruncate(fd, len): growing keeps what is served (see ranges.cpp),
// shrinking is file_changing. Either way, file_changed() after.
void resizing(int fd, off_t len);
// fd's file is about to be mapped again: its writable served ranges go back
// to file pages first, so both mappings show the same stores.
void mapping_again(int fd);
void file_changed();
// A serve under a write lease: take the count before, ask after.
uint64_t change_epoch();
bool changed_since(uint64_t epoch);
// The program is about to open path with flags: for writing, or at all
// while cmbmap holds a write lease on it (which the open would break).
// True if the open changes the file (O_TRUNC): call file_changed() after.
bool opening(int dirfd, const char* path, int flags);

// Giving CMB back (reclaim.cpp). Least recently used ranges on controller
// slot ctrl (-1: any), outside [keep, keep+keep_len), are revoked until
// `bytes` are given back; returns the bytes given back.
size_t evict(int ctrl, uint64_t bytes, uintptr_t keep, size_t keep_len, int cause);
// Watcher thread events.
void enter_internal_thread();         // hooks on this thread always forward
void on_lease_break();                // a lease break signal, or time to look
void on_reclaim(uint64_t request);    // see reclaim_request.h

// process events
// True in a vfork child (or a clone sharing memory): it must not change the
// parent's state (its fds, leases and statistics are not the parent's).
bool in_vfork_child();
void changes_after_fork_child();
void before_exec();
// posix_spawn/system/popen: the child shares every open file (like fork).
void before_spawn();
void after_exec_failed();
void at_exit();

}  // namespace cmbmap::core
