// The per-process statistics block (struct cmbmap_stats in the public
// header). Lives in a small shared file under /run/cmbmap/ (or
// /tmp/cmbmap-UID/ where /run is not writable) so `cmbmap stat` can read a
// running process; created on the first decision, removed at exit.
#pragma once

#include <cstdint>

#include "cmbmap/cmbmap.h"

namespace cmbmap::stats {

cmbmap_stats* get();          // never null; a static block until the file exists
void add(uint64_t cmbmap_stats::*field, uint64_t v);
void add_fallback(int reason, uint64_t bytes);
void add_fill(int engine, uint64_t bytes, uint64_t ns);
// A revocation of bytes for cause (a cmbmap_reason): counted per cause.
void add_revoke(int cause, uint64_t bytes);
// The slot (0..7) of a controller in held_by_controller, claimed on first
// use; -1 when all slots are taken (its bytes then count in no slot).
int controller_slot(const char* name);
// CMB now held on a slot changes by delta bytes (the registry calls this).
void add_held(int slot, int64_t delta);
void publish();               // create the stats file (idempotent)
void unpublish();             // remove the file; counting goes on in memory
void after_fork_child();      // the child gets a fresh block of its own
void print();                 // CMBMAP_STATS=1 at exit

// Directory candidates, in order; shared with the CLI.
const char* run_dir();        // "/run/cmbmap"
void user_dir(char* buf, unsigned cap);  // "/tmp/cmbmap-UID"

}  // namespace cmbmap::stats
