// What this machine offers cmbmap, scanned once at start-up: the NVMe
// controllers, which of them can serve (CMB published as p2pmem and allowed
// by CMBMAP_DEVICES). If none can, the mmap hook forwards without looking.
#pragma once

#include "../../resolver/resolve.h"
#include "options.h"

namespace cmbmap::machine {

void init(const Options& opts);
bool any_usable();
const char* sysfs_root();
// Applies the process's options to a file's device verdict (CMBMAP_DEVICES).
void apply(const Options& opts, FileFacts* facts);

}  // namespace cmbmap::machine
