// The statistics blocks that running processes keep under /run/cmbmap/ (or
// /tmp/cmbmap-UID/): read by `cmbmap stat` and `cmbmap reclaim`. Blocks of
// processes that are gone are skipped.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

#include "cmbmap/cmbmap.h"

namespace cmbmap::cli {

struct LiveStats {
  cmbmap_stats s;
  std::string path;   // the block's file, to read it again
  uid_t owner;        // the file's owner (live_block::watcher_plausible)
};

std::vector<LiveStats> live_stats();
// Reads path again into *out; false if it is gone or not a block.
bool reread(const std::string& path, cmbmap_stats* out, uid_t* owner = nullptr);
// CMB the process holds now on controller name ("" or null: on all).
uint64_t held_on(const cmbmap_stats& s, const char* controller);

}  // namespace cmbmap::cli
