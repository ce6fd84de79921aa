// CMB memory goes back to the pool empty. p2pmem pages keep their bytes when
// they are freed, and the next allocation, by any process allowed to open
// p2pmem/allocate, gets them as they are: so every byte cmbmap put there is
// zeroed before its last mapping goes. The memory is first moved out of the
// program's sight (mremap to an address only cmbmap knows), so no reader
// ever sees the zeros, then zeroed and unmapped. SIGKILL and crashes skip
// this: the kernel frees the pages holding what they held.
#pragma once

#include <cstddef>

namespace cmbmap::scrub {

// CMBMAP_SCRUB (set once at start-up): off, memory goes back as it is
// (counted as unscrubbed, not logged) and give-backs map the file over it.
void set_enabled(bool on);
bool enabled();

// Takes the CMB pages at [at, at+len) (page aligned, wholly CMB) out of the
// program's sight and releases them: each of its mappings is moved to an
// address of the kernel's choice (mremap MREMAP_DONTUNMAP, never to a fixed
// address), zeroed and unmapped there. `at` is never left unmapped, not for
// an instant: another thread's mmap (malloc's, a thread stack's) would be
// given that hole and then lose it to what the caller puts there. The
// range is made inaccessible first and keeps an empty, inaccessible mapping
// until the caller maps over or unmaps it; a thread touching it meanwhile
// faults (dirty.h's hide makes it wait). Pages that could not move stay at
// `at`, inaccessible: zeroed in place there if zero_left_in_place (the
// program is unmapping them), else their bytes are returned for the caller
// to map over and report (unscrubbed()).
size_t clear_out(void* at, size_t len, bool zero_left_in_place);
// Zeroes CMB memory nobody else sees (moved aside, or never shown to the
// program) and unmaps it: its pages go back to the pool holding nothing.
void release(void* aside, size_t len);
// Zeroes CMB memory at [at, at+len) that the program has not seen (a serve
// that failed after the fill), in place, before the file is mapped over it.
void in_place(void* at, size_t len);
// CMB memory went back to the pool holding its bytes: counted and logged.
void unscrubbed(const void* at, size_t len, const char* why);

}  // namespace cmbmap::scrub
