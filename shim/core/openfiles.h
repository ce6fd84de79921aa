// Questions about this process's own open files and mappings, answered from
// /proc/self with raw syscalls (no heap): is a file open for writing here,
// and how many mappings does the process have.
#pragma once

#include <cstddef>
#include <sys/types.h>

namespace cmbmap::openfiles {

// True if any fd of this process refers to (dev, ino) opened for writing.
// skip_fd is left out (cmbmap's own descriptor).
bool open_for_write(dev_t dev, ino_t ino, int skip_fd = -1);

// Number of mappings (lines of /proc/self/maps), or 0 if unknown.
size_t map_count();

// vm.max_map_count, read once.
size_t max_map_count();

// "/proc/self/fd/N" into out (32 bytes are enough): reopening or naming fd.
void proc_fd_path(int fd, char* out);

// cmbmap's duplicates of the program's fds live at or above this number,
// out of the way of programs that count on low fd numbers.
constexpr int kOwnFdFloor = 1000;

size_t page_size();
size_t page_round_up(size_t len);
bool page_aligned(const void* addr);

}  // namespace cmbmap::openfiles
