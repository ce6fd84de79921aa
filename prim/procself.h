// Questions about this process answered from /proc/self (and /proc/sys)
// with raw syscalls and no heap: its mappings, how many there are, the
// limit on them, the /proc path of an fd.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

namespace cmbmap::procself {

// One line of /proc/self/maps.
struct Mapping {
  uintptr_t start, end;
  bool write, shared;
  dev_t dev;
  ino_t ino;
};
// One line of /proc/self/maps (also a mapping's first line in smaps) into
// *m; false for any other line (an smaps field).
bool parse_maps_line(const char* line, Mapping* m);
// Which of kLocked, kDontDump, kDontFork (below) the text after an smaps
// line's "VmFlags:" (" rd wr sh mr mw me ms lo dd dc") holds.
unsigned parse_vm_flags(const char* value);

// Calls fn for each mapping of this process until it returns false; false
// if /proc/self/maps could not be read.
bool for_each_mapping(bool (*fn)(const Mapping& m, void* ctx), void* ctx);
// Calls fn(m, i, ctx) for each mapping m that overlaps spans[i] (sorted by
// address, disjoint), until it returns false; false if the mappings could
// not be read. Linux 6.11+ answers with one PROCMAP_QUERY per mapping found,
// so the cost follows the spans, not the process's other mappings; older
// kernels cost one read of all of /proc/self/maps.
struct Span {
  uintptr_t start, end;
};
bool for_each_mapping_over(const Span* spans, size_t n, bool (*fn)(const Mapping& m, size_t i, void* ctx), void* ctx);
// True if this process maps (dev, ino) outside [start, start+len) (only
// writable MAP_SHARED mappings with writable_only: stores through them
// change the file without a system call).
bool mapped_elsewhere(dev_t dev, ino_t ino, uintptr_t start, size_t len, bool writable_only);

// How much of [lo, hi) mappings given in address order cover, each byte
// once. /proc/self/maps read in pieces while mappings split and merge (an
// mprotect in another thread) can list a merged mapping again from its
// start: adding it twice must not count it twice.
class Coverage {
 public:
  Coverage() = default;
  Coverage(uintptr_t lo, uintptr_t hi) : lo_(lo), hi_(hi), until_(lo), bytes_(0) {}
  void add(uintptr_t start, uintptr_t end);
  bool whole() const { return bytes_ == hi_ - lo_; }
 private:
  uintptr_t lo_ = 0, hi_ = 0, until_ = 0, bytes_ = 0;
};

// What a program set on its mappings that a replacement mapping does not
// inherit: mlock, MADV_DONTDUMP, MADV_DONTFORK ("lo", "dd", "dc" in
// /proc/self/smaps' VmFlags), for the parts of [lo, hi) that have any.
enum : unsigned { kLocked = 1, kDontDump = 2, kDontFork = 4 };
struct Sticky {
  uintptr_t start, end;
  unsigned flags;
};
// Up to cap parts, in address order, of the mappings keep(m, ctx) accepts
// (all if keep is null); the count (0 if none or unreadable).
size_t sticky_flags(uintptr_t lo, uintptr_t hi, Sticky* out, size_t cap,
                    bool (*keep)(const Mapping& m, void* ctx) = nullptr, void* ctx = nullptr);

// Bytes this process has locked (VmLck), and whether its effective
// capabilities hold cap (CapEff), from /proc/self/status; 0 / false if
// unreadable.
uint64_t locked_bytes();
bool has_capability(int cap);

// Number of mappings (lines of /proc/self/maps), or 0 if unknown.
size_t map_count();
// True if `more` mappings still fit under vm.max_map_count. Counting reads
// all of /proc/self/maps, O(mappings); see the definition for when it is
// skipped. Callers serialize (the served-ranges lock).
bool room_for_mappings(size_t more);

// vm.max_map_count, read once.
size_t max_map_count();

// "/proc/self/fd/N" into out (32 bytes are enough): reopening or naming fd.
void proc_fd_path(int fd, char* out);

}  // namespace cmbmap::procself
