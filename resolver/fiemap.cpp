// FIEMAP ioctl wrapper (see fiemap.h). Batches on the stack, no heap.
#include "fiemap.h"

#include <cerrno>
#include <linux/fiemap.h>
#include <linux/fs.h>

#include "prim.h"

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

}  // namespace cmbmap
