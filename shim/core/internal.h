// What the core's own files share; the hooks include core.h only.
#pragma once

#include <cstddef>
#include <sys/types.h>

#include "common/options.h"

struct stat;

namespace cmbmap::core {

// The options read at start-up.
const Options& options();
// True in a vfork child (or a clone sharing memory): it must not change the
// parent's state (its fds, leases and statistics are not the parent's).
bool in_vfork_child();
// True if fd's file has served ranges (*st: its fstat); errno kept.
bool served_file(int fd, struct stat* st);
// Plans and serves a mapping the kernel has already made (after mremap).
void serve_existing(void* at, size_t len, int prot, int flags, int fd, off_t off);
// Before a call replaces or removes [addr, addr+len) (munmap, MAP_FIXED,
// mremap): stores in writable served ranges there are written back, and
// further stores wait (caller: served-ranges lock and dirty::SignalsBlocked
// held) until revoke::forget(), or replacing_failed() if the call failed.
void write_back_before_replacing(void* addr, size_t len);
void replacing_failed(void* addr, size_t len);
// Before a call that maps something else over [addr, addr+len) (MAP_FIXED,
// mremap): the served ranges there become file pages, their CMB pages
// scrubbed, so a failed call leaves the program's mapping (ordinary now).
// Caller: served-ranges lock held.
// True if a range there stayed cmbmap's (its stores could not be written)
// and was scrubbed for the replacement anyway: if the replacing call fails,
// the caller forgets it (nothing of it is CMB now).
bool give_back_before_replacing(void* addr, size_t len);
// fd's file is about to be mapped again: its writable served ranges go back
// to file pages first, so both mappings show the same stores.
void mapping_again(int fd);

}  // namespace cmbmap::core
