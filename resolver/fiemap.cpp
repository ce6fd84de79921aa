// FIEMAP ioctl wrapper (see fiemap.h). Batches on the stack, no heap.
#include "resolver/fiemap.h"

#include <cerrno>
#include <linux/fiemap.h>
#include <linux/fs.h>

#include "prim/prim.h"
#include "resolver/fsfacts.h"

namespace cmbmap {

namespace {
constexpr unsigned kBatch = 32;
// struct fiemap ends in a flexible array: reserve room for kBatch extents.
union FiemapBuf {
  struct fiemap head;
  char bytes[sizeof(struct fiemap) + kBatch * sizeof(struct fiemap_extent)];
};
}  // namespace

int fetch_extents(int fd, uint64_t start, uint64_t length, bool sync, ExtentList* out) {
  out->count = 0;
  out->complete = true;
  uint64_t end = length > UINT64_MAX - start ? UINT64_MAX : start + length;
  uint64_t cursor = start;
  FiemapBuf buf;
  while (cursor < end) {
    buf = {};
    buf.head.fm_start = cursor;
    buf.head.fm_length = end - cursor;
    buf.head.fm_flags = sync ? FIEMAP_FLAG_SYNC : 0;
    buf.head.fm_extent_count = kBatch;
    int r = prim::ioctl_fd(fd, FS_IOC_FIEMAP, &buf);
    if (r < 0) return r;
    unsigned n = buf.head.fm_mapped_extents;
    if (n == 0) break;
    bool last = false;
    const fiemap_extent* ext = buf.head.fm_extents;
    for (unsigned i = 0; i < n; ++i) {
      const fiemap_extent& fe = ext[i];
      if (out->count == out->capacity) { out->complete = false; return 0; }
      out->items[out->count++] = Extent{fe.fe_logical, fe.fe_physical, fe.fe_length, fe.fe_flags};
      if (fe.fe_flags & FIEMAP_EXTENT_LAST) last = true;
    }
    const fiemap_extent& tail = ext[n - 1];
    uint64_t next = tail.fe_logical + tail.fe_length;
    if (last || n < kBatch || next <= cursor) break;
    cursor = next;
  }
  return 0;
}

bool has_delalloc(const ExtentList& list) {
  for (size_t i = 0; i < list.count; ++i)
    if (list.items[i].flags & FIEMAP_EXTENT_DELALLOC) return true;
  return false;
}

bool segments_in_place(int fd, const Segment* segs, size_t n) {
  // Blocks that are not the file's plain bytes (encrypted, on the realtime
  // device, journalled, on a filesystem that moves them) are never read or
  // written by LBA, whatever the plan said (fsfacts.h).
  if (blocks_reason(fd) != CMBMAP_ELIGIBLE) return false;
  // Flags under which writing the block in place would be wrong: shared
  // (another file's data too), unwritten, not yet allocated, unknown.
  constexpr uint32_t kNotInPlace = FIEMAP_EXTENT_SHARED | FIEMAP_EXTENT_UNWRITTEN | FIEMAP_EXTENT_DELALLOC |
                                   FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_DATA_INLINE;
  Extent ext[8];
  for (size_t k = 0; k < n; ++k) {
    ExtentList list{ext, 8, 0, true};
    if (fetch_extents(fd, segs[k].offset, segs[k].length, false, &list) < 0 || list.count == 0) return false;
    const Extent& e = ext[0];
    if (e.logical > segs[k].offset || e.logical + e.length < segs[k].offset + segs[k].length ||
        e.physical + (segs[k].offset - e.logical) != segs[k].physical || (e.flags & kNotInPlace))
      return false;
  }
  return true;
}

}  // namespace cmbmap
