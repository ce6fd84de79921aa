// The one core the interposers ask. Each hook calls exactly one function
// here and returns what it returns; the core decides, logs and counts, and
// the interposers hold no policy. With cmbmap disabled, uninitialised, or
// re-entered on this thread, the hooks forward directly (see Scope).
#pragma once

#include <cstddef>
#include <sys/types.h>

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
int advise(void* addr, size_t len, int advice);
int sync_range(void* addr, size_t len, int flags);
// Gives served ranges back to the page cache (cause: a reason code for
// stats and log). Returns the bytes given back.
size_t revoke_range(const void* addr, size_t len, int cause);
size_t revoke_file(dev_t dev, ino_t ino, int cause);

// fd events
bool fd_is_ours(int fd);              // cmbmap's own descriptors (log file)
void fd_replaced(int fd);             // about to be closed or dup2'ed over
void keep_own_fd(int fd);             // move a served range's fd out of the program's way
// The file behind fd / path is about to change (write, truncate, open for
// writing...): served ranges of it must not outlive the change.
void file_changing(int fd);
void path_changing(int dirfd, const char* path);

// process events
void before_exec();
void after_exec_failed();
void at_exit();

}  // namespace cmbmap::core
