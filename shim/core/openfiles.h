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

}  // namespace cmbmap::openfiles
