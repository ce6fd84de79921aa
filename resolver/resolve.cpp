// fd → FileFacts → Plan (see resolve.h).
#include "resolver/resolve.h"

#include <sys/statfs.h>
#include <unistd.h>

#include "resolver/device.h"
#include "resolver/fsfacts.h"
#include "prim/prim.h"

namespace cmbmap {

int resolve_file(const char* sysfs_root, int fd, FileFacts* f) {
  *f = FileFacts{};
  int r = prim::fstat_fd(fd, &f->st);
  if (r < 0) return r;
  f->target.reason = CMBMAP_NO_NVME;
  if (!S_ISREG(f->st.st_mode)) { f->file_reason = CMBMAP_NOT_REGULAR; return 0; }
  // Only filesystems proven to keep a file's blocks in place until a lease
  // break, and only where those blocks hold its plain bytes (fsfacts.h).
  struct statfs sfs;
  const uint64_t type = prim::fstatfs_fd(fd, &sfs) == 0 ? (uint64_t)sfs.f_type : 0;
  f->file_reason = fs_type_reason(type);
  if (f->file_reason == CMBMAP_ELIGIBLE) f->file_reason = mount_reason("/proc", sysfs_root, f->st.st_dev, type);
  if (f->file_reason != CMBMAP_ELIGIBLE) return 0;
  f->inode_reason = inode_reason(fd, type);
  // The device is resolved even for an inode that cannot be served: its
  // verdict is kept for every file of st_dev.
  resolve_block_device(sysfs_root, f->st.st_dev, &f->target);
  return 0;
}

int device_reason(const FileFacts& f) {
  return f.file_reason != CMBMAP_ELIGIBLE ? f.file_reason : f.target.reason;
}

int file_verdict(const FileFacts& f) {
  if (f.file_reason != CMBMAP_ELIGIBLE) return f.file_reason;
  return f.inode_reason != CMBMAP_ELIGIBLE ? f.inode_reason : f.target.reason;
}

void plan_file(int fd, const FileFacts& f, uint64_t offset, uint64_t length, bool detail,
               bool merge_extents, ExtentList* ex, Plan* plan) {
  PlanRequest req{offset, length, (uint64_t)f.st.st_size, (uint32_t)sysconf(_SC_PAGESIZE),
                  f.target.lba_size, file_verdict(f), merge_extents};
  if (f.file_reason == CMBMAP_NOT_REGULAR || (!detail && req.device_reason != CMBMAP_ELIGIBLE)) {
    plan_whole(req, req.device_reason, plan);
    return;
  }
  int r = fetch_extents(fd, offset, length, false, ex);
  // Delayed allocation has no LBAs yet: flush once, then ask again.
  if (r == 0 && has_delalloc(*ex)) r = fetch_extents(fd, offset, length, true, ex);
  if (r < 0) {
    plan_whole(req, req.device_reason != CMBMAP_ELIGIBLE ? req.device_reason : CMBMAP_FIEMAP_FAILED,
               plan);
    return;
  }
  plan_mapping(req, *ex, plan);
}

}  // namespace cmbmap
