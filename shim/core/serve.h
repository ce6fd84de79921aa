// Serving: after the kernel has made the ordinary file mapping (so address,
// hint, MAP_FIXED and every error are exactly the kernel's), each run of
// eligible segments is replaced in place by CMB memory filled from the file.
// A run that cannot be served keeps the file mapping and gets its reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

#include "resolver/resolve.h"
#include "common/options.h"

namespace cmbmap::serve {

struct Request {
  void* base;       // where the kernel put the mapping
  size_t len;
  int prot;
  int flags;        // as the program passed them
  int fd;
  off_t offset;
  uint64_t epoch;   // this process's changes (changes::epoch()), read before planning
};

// Overlays CMB memory on the eligible runs of plan (segment reasons are
// updated for runs that fall back). Returns the bytes now served.
uint64_t overlay(const Request& req, const FileFacts& facts, const Options& opts, Plan* plan);

// The kernel flags for the first, ordinary mapping: no prefaulting, which
// would fill the page cache for ranges about to be served.
int initial_flags(int flags, const Plan& plan);

// Applies MAP_POPULATE / MAP_LOCKED to the finished mapping.
void finish_flags(const Request& req);

}  // namespace cmbmap::serve
