// The core: what the hooks (shim/interpose/) ask, and nothing else does. A
// hook forwards at once unless a Scope is on, then calls one or two of these
// (a question such as range_is_ours, then the call itself) and returns what
// the real call returned; the core decides, logs and counts. The core asks
// the rooms below it (giveback/, tier/, resolver/), never the other way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

struct iovec;
struct sigaction;

namespace cmbmap::core {

// Re-entrancy guard: a hook runs cmbmap logic only if Scope::on() is true
// (cmbmap active, this thread not already inside cmbmap). Inside, any libc
// call that lands in another hook forwards directly. Every core function
// leaves errno as the real call set it.
class Scope {
 public:
  Scope();
  ~Scope();
  bool on() const { return on_; }
 private:
  bool on_;
};

void init();  // library constructor

// --- mapping calls (map.cpp, mapping_calls.cpp) ----------------------------
// mmap of a file: the kernel maps, then eligible runs are served.
void* map_file(void* addr, size_t len, int prot, int flags, int fd, off_t off);
// An anonymous MAP_FIXED mapping over served ranges: they are gone.
void* map_anonymous_over(void* addr, size_t len, int prot, int flags, int fd, off_t off);
// True if [addr, addr+len) touches a range cmbmap serves.
bool range_is_ours(const void* addr, size_t len);
// The mapping calls on ranges cmbmap serves (range_is_ours was true).
int unmap(void* addr, size_t len);
void* remap(void* old, size_t old_len, size_t new_len, int flags, void* new_addr);
// mprotect (pkey -1) and pkey_mprotect.
int protect(void* addr, size_t len, int prot, int pkey = -1);
int advise(void* addr, size_t len, int advice);
// MADV_POPULATE_READ/WRITE over served ranges (MAP_POPULATE too): the
// kernel populates the parts between them.
int populate(void* addr, size_t len, int advice);
// mlock/mlock2 over served pages: the kernel refuses to lock device memory
// (EREMOTEIO), so they go back to file pages first, which it locks.
int lock(const void* addr, size_t len, unsigned flags);
int unlock(const void* addr, size_t len);
// msync of served ranges: writable ones write their stores back.
int sync_range(void* addr, size_t len, int flags);
// mprotect of a range cmbmap does not serve: making a shared mapping of a
// write-leased file writable gives that file's ranges back first.
void protect_other(void* addr, size_t len, int prot);
// Before madvise(MADV_REMOVE) anywhere: it punches holes in the files of
// the shared mappings there, whose served ranges go back first.
void punching(void* addr, size_t len);

// --- writable served mappings (writable.cpp) ---------------------------------
bool writable_served();  // one load: any writable range served?
// The program is about to read fd into the buffers: the file's stores are
// written back first (fd -1: no file), and the buffers made writable (see
// interpose/read.cpp, interpose/store.cpp). iov is the program's array,
// read without trusting it (a bad one is the kernel's EFAULT to give).
void reading(int fd, const struct iovec* iov, int cnt);
void reading_into(int fd, void* buf, size_t len);
// Copies len bytes of the program's memory at src (not trusted) to dst:
// false if it is not readable. CMB memory of a served range is (the
// kernel's process_vm_readv refuses device pages: read directly there).
bool read_program_memory(void* dst, const void* src, size_t len);
// fsync and friends on fd (-1: sync, syncfs): its stores go to the file,
// durably, first. 0, or the errno the call must fail with: this writeback
// failed, or an earlier one of the file did (reported once, as the page
// cache reports writeback errors).
int syncing(int fd);
bool segv_handler_installed();
int program_segv_action(const struct sigaction* act, struct sigaction* old);

// --- fd and file events (file_events.cpp) ------------------------------------
bool fd_is_ours(int fd);         // cmbmap's own descriptors (log file)
void opened(int fd, int flags);  // the program's open returned fd
// fd's file may now be written where no hook sees it (a stdio FILE): give
// its ranges back, and take no write lease on fd again.
void fd_written_elsewhere(int fd);
// fd's file may now be read where no hook sees it (a stdio FILE reading
// it): its writable served ranges go back to file pages first.
void fd_read_elsewhere(int fd);
void fd_replaced(int fd);  // about to be closed or dup2'ed over
// close_range/closefrom over [first, last]: the ranges and leases whose fds
// lie there are given back first (there is no fd number left to move them to).
// True if fds_closed() must follow the close.
bool fds_closing(unsigned first, unsigned last);
void fds_closed();
// The file behind fd / path is about to change (write, truncate,
// fallocate...): served ranges of it must not outlive the change, and until
// file_changed() a serve under a write lease (which this process's own
// writes do not break) falls back rather than register possibly old bytes.
void file_changing(int fd);
void path_changing(int dirfd, const char* path);
// ftruncate(fd, len): growing keeps what is served, shrinking is
// file_changing. Either way, file_changed() after.
void resizing(int fd, off_t len);
void file_changed();
// The program is about to open path with flags: for writing, or at all
// while cmbmap holds a write lease on it (which the open would break).
// True if the open changes the file (O_TRUNC): call file_changed() after.
bool opening(int dirfd, const char* path, int flags);

// --- process events (core.cpp) -------------------------------------------------
void before_exec();
// posix_spawn/system/popen: the child shares every open file (like fork).
void before_spawn();
void after_exec_failed();
// unshare(CLONE_NEWUSER) or setns into a user namespace is about to run: the
// kernel refuses it in a process with more than one thread, so cmbmap gives
// back what it serves and ends its thread first (a new one starts with the
// next serve).
void leaving_threads();
// The process ends: exit (the library's destructor) or, with
// quick (no statistics printed), _exit, _Exit and quick_exit.
void at_exit(bool quick = false);

}  // namespace cmbmap::core
