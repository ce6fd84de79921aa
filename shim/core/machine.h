// What this machine offers cmbmap, scanned once at start-up: the NVMe
// controllers, which of them can serve (CMB published as p2pmem and allowed
// by CMBMAP_DEVICES). If none can, the mmap hook forwards without looking.
#pragma once

#include "resolver/resolve.h"
#include "common/options.h"

namespace cmbmap::machine {

void init(const Options& opts);
bool any_usable();
const char* sysfs_root();
// Applies the process's options to a file's device verdict (CMBMAP_DEVICES).
void apply(const Options& opts, FileFacts* facts);

// Devices (st_dev) found unable to serve, so the next mapping of a file on
// them costs one fstat instead of a walk through sysfs. Only refusals are
// remembered: a stale entry can only keep a mapping ordinary, never serve one.
bool known_unusable(dev_t dev, int* reason);
void remember_unusable(dev_t dev, int reason);
void after_fork_child();  // the verdict lock may have been held by a thread the child lacks

}  // namespace cmbmap::machine
