// Questions about this process's own fds and mappings, answered from
// /proc/self with raw syscalls (no heap): how many mappings the process has,
// the /proc path of an fd; and page arithmetic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

namespace cmbmap::openfiles {

// One line of /proc/self/maps.
struct Mapping {
  uintptr_t start, end;
  bool write, shared;
  dev_t dev;
  ino_t ino;
};
// Calls fn for each mapping of this process until it returns false; false
// if /proc/self/maps could not be read.
bool for_each_mapping(bool (*fn)(const Mapping& m, void* ctx), void* ctx);
// True if this process maps (dev, ino) outside [start, start+len) (only
// writable MAP_SHARED mappings with writable_only: stores through them
// change the file without a system call).
bool mapped_elsewhere(dev_t dev, ino_t ino, uintptr_t start, size_t len, bool writable_only);

// Number of mappings (lines of /proc/self/maps), or 0 if unknown.
size_t map_count();

// vm.max_map_count, read once.
size_t max_map_count();

// "/proc/self/fd/N" into out (32 bytes are enough): reopening or naming fd.
void proc_fd_path(int fd, char* out);

// cmbmap's duplicates of the program's fds live at or above this number,
// out of the way of programs that count on low fd numbers.
constexpr int kOwnFdFloor = 1000;
// A close-on-exec duplicate of fd at or above kOwnFdFloor, or -1 (errno).
int dup_above_floor(int fd);

size_t page_size();
size_t page_round_up(size_t len);
bool page_aligned(const void* addr);

}  // namespace cmbmap::openfiles
