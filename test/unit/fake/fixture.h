// Host-test helpers for the served path with the fake CMB tier: files of a
// known pattern on a filesystem with FIEMAP, O_DIRECT and leases (/var/tmp),
// their real plans, and a mapping served through serve::overlay as the mmap
// hook would serve it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/mman.h>
#include <sys/stat.h>

#include "common/options.h"
#include "resolver/resolve.h"

namespace cmbmap::fixture {

constexpr int kSignal = 64 - 2;  // SIGRTMAX-2, CMBMAP_SIGNAL's default

// The pattern's byte at file offset i (seed: a different file, different bytes).
uint8_t pattern(uint64_t i, unsigned seed = 0);

struct File {
  char path[64];
  int fd;         // opened with the flags asked for
  size_t size;
};
// A file of size bytes of pattern(seed) under /var/tmp, written, synced
// (FIEMAP then reports its blocks) and opened again with flags.
File make_file(size_t size, int flags, unsigned seed = 0);
void remove_file(File& f);

// Options as a process without CMBMAP_* in its environment gets them.
Options default_options();

// A plan of the whole file, [0, len), as the mmap hook makes it (the
// device eligible), and the facts it is served with (the fake tier's target).
struct Planned {
  FileFacts facts;
  Segment segs[256];
  Plan plan;
};
void plan_whole_file(int fd, size_t len, Planned* out);

// mmap(len, prot, flags, fd) by the kernel, then served as the hook serves
// it; returns the mapping, *served the bytes served.
void* map_and_serve(int fd, size_t len, int prot, int flags, const Options& opts, uint64_t* served,
                    Planned* planned = nullptr);

// A new file of `pages` pages of pattern(seed), opened read-only, mapped
// (prot, flags) and served whole (asserted): what most give-back tests start from.
struct Served {
  File f;
  uint8_t* at;
  size_t len;  // mapped
};
Served serve_file(size_t pages, int prot = PROT_READ, int flags = MAP_SHARED, unsigned seed = 0);

// True if [p, p+len) holds the file's bytes at off (and zeros past EOF).
bool holds_file(const void* p, size_t len, int fd, uint64_t off = 0);

// Leases need a filesystem and kernel that grant them (fs.leases-enable).
bool leases_work();
// A suite's .init for tests that serve: the fake tier reset, and the test
// skipped (with the reason) where /var/tmp grants no leases.
void serving_setup();

size_t page();
// A field of /proc/self/status given in kB ("VmSize", "VmLck"), in bytes.
size_t status_bytes(const char* field);

}  // namespace cmbmap::fixture
