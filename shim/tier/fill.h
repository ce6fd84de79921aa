// Filling CMB memory from the file: the drive DMAs the blocks straight into
// the device pages, so the data never passes through host RAM or the page
// cache. Three engines (CMBMAP_FILL): O_DIRECT pread, io_uring reads on an
// O_DIRECT fd, and NVMe read commands passed through io_uring to the
// namespace's generic char device using the resolver's LBAs. Whatever
// engine, bytes past end of file in the last page are zeroed, and anything
// short of the whole range up to EOF is an error (the caller falls back).
#pragma once

#include <cstddef>
#include <cstdint>

#include "resolver/types.h"

namespace cmbmap::fill {

enum Engine : int { kPread = 0, kUring = 1, kPassthru = 2, kEngineCount = 3 };
const char* engine_name(int engine);
// "pread", "uring", "passthru" → engine; -1 if unknown.
int engine_from_name(const char* name);

struct Source {
  int fd;                  // the program's fd of the file
  int direct_fd;           // an O_DIRECT fd of the file to read from, or -1: reopen fd O_DIRECT
  bool no_reopen;          // the file must not be opened again (a write lease lives on fd):
                           // read through fd itself, then drop the pages that put in the cache
  uint64_t file_size;
  const NvmeTarget* dev;   // passthru: namespace, LBA size, partition offset
  const Segment* segs;     // passthru: the run's segments (physically contiguous each)
  size_t nsegs;
};

struct Result {
  int err;            // 0 or errno
  uint64_t read;      // file bytes delivered (up to EOF)
  uint64_t zeroed;    // bytes zeroed past EOF
  uint64_t ns;        // time taken
  int engine;         // the engine that did it (passthru → uring → pread when unavailable)
};

// Fills [dst, dst+len) (page multiple) with the file's bytes from file_offset.
// An engine that cannot start here (no char device access, io_uring
// disabled) hands over to the next: passthru → uring → pread.
Result run(int engine, const Source& src, void* dst, uint64_t file_offset, size_t len);

// Zeroes device memory: plain 1-8 byte stores (vector instructions have
// faulted on emulated CMBs).
void zero(void* dst, size_t n);

}  // namespace cmbmap::fill
