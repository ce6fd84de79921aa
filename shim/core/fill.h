// Filling CMB memory from the file: the drive DMAs the blocks straight into
// the device pages (O_DIRECT), so the data never passes through host RAM or
// the page cache. Bytes past end of file in the last page are zeroed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cmbmap::fill {

struct Result {
  int err;            // 0 or errno
  uint64_t read;      // bytes the drive delivered
  uint64_t zeroed;    // bytes zeroed past EOF
  uint64_t ns;        // time taken
};

// Fills [dst, dst+len) with the file's bytes from file_offset. fd is any fd
// of the file (reopened with O_DIRECT through /proc/self/fd). Anything short
// of the whole range up to EOF is an error: the caller falls back.
Result pread_direct(int fd, void* dst, uint64_t file_offset, size_t len, uint64_t file_size);

}  // namespace cmbmap::fill
