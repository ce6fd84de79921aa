// Whether a file's block addresses are its bytes (see fsfacts.h).
#include "resolver/fsfacts.h"

#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include "cmbmap/cmbmap.h"
#include "prim/prim.h"
#include "prim/text.h"
#include "resolver/device.h"
#include "resolver/types.h"

namespace cmbmap {

int fs_type_reason(uint64_t f_type) {
  switch ((uint32_t)f_type) {
    case EXT4_SUPER_MAGIC:
    case XFS_SUPER_MAGIC:
      return CMBMAP_ELIGIBLE;
    // btrfs reports an anonymous st_dev and may place blocks on any of its
    // devices: its FIEMAP physical offsets are not LBAs of one namespace.
    case BTRFS_SUPER_MAGIC:
      return CMBMAP_MULTI_DEVICE;
    default:
      return CMBMAP_FS_NOT_SUPPORTED;
  }
}

bool has_option(const char* list, const char* option) {
  for (const char* p = list; *p;) {
    const char* o = option;
    while (*o && *p == *o) { ++p; ++o; }
    if (!*o && (*p == '\0' || *p == ',' || *p == ' ' || *p == '\n')) return true;
    while (*p && *p != ',' && *p != ' ' && *p != '\n') ++p;  // rest of this token
    while (*p == ',' || *p == ' ' || *p == '\n') ++p;
  }
  return false;
}

// --- mountinfo -------------------------------------------------------------
namespace {
constexpr unsigned kAfterDash = 100;  // field numbers after the "-" separator
constexpr unsigned kSuperOptions = kAfterDash + 2;
}  // namespace

void MountinfoScan::feed(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const char c = p[i];
    in_line_ = true;
    if (c == '\n') { end_field(); end_line(); continue; }
    if (c == ' ') { end_field(); continue; }
    dash_ = len_ == 0 && c == '-';
    ++len_;
    if (field_ == 2) {  // MAJ:MIN
      if (c == ':') colon_ = true;
      else if (c >= '0' && c <= '9') (colon_ ? minor_ : major_) = (colon_ ? minor_ : major_) * 10 + (uint64_t)(c - '0');
    } else if (field_ == kSuperOptions) {
      if (c == ',') {
        if (tok_match_ && tok_ > 0 && !option[tok_]) line_has_ = true;
        tok_ = 0;
        tok_match_ = true;
      } else if (tok_match_ && option[tok_] == c) {
        ++tok_;
      } else {
        tok_match_ = false;
      }
    }
  }
}

void MountinfoScan::end_field() {
  if (field_ == kSuperOptions && tok_match_ && tok_ > 0 && !option[tok_]) line_has_ = true;
  tok_ = 0;
  tok_match_ = true;
  if (field_ < kAfterDash && len_ == 1 && dash_) field_ = kAfterDash;
  else ++field_;
  len_ = 0;
  dash_ = false;
}

void MountinfoScan::end_line() {
  if (field_ > kAfterDash && colon_ && makedev(major_, minor_) == dev) {
    found = true;
    has = has || line_has_;
  }
  field_ = 0;
  len_ = 0;
  dash_ = colon_ = in_line_ = line_has_ = false;
  major_ = minor_ = 0;
}

void MountinfoScan::finish() {
  if (in_line_) { end_field(); end_line(); }
}

// --- the checks --------------------------------------------------------------
int inode_flags_reason(uint64_t attrs, uint32_t flags, uint32_t xflags) {
  if ((attrs & STATX_ATTR_ENCRYPTED) || (flags & FS_ENCRYPT_FL)) return CMBMAP_ENCRYPTED;
  if (xflags & FS_XFLAG_REALTIME) return CMBMAP_REALTIME_DEVICE;
  if (flags & FS_JOURNAL_DATA_FL) return CMBMAP_JOURNALLED_DATA;
  return CMBMAP_ELIGIBLE;
}

namespace {

// ext4 lists every option of a mount in /proc/fs/ext4/NAME/options, those
// that are defaults in the superblock too (tune2fs -o journal_data), which
// mountinfo leaves out: 1 journalled, 0 not, -1 unknown.
int ext4_options_journal(const char* proc_root, const char* sysfs_root, dev_t dev) {
  char name[kNameMax], dir[kPathMax], sub[kPathMax], path[kPathMax], buf[2048];
  if (!block_device_name(sysfs_root, dev, name, sizeof name)) return -1;
  if (!text::join(dir, sizeof dir, proc_root, "fs/ext4") || !text::join(sub, sizeof sub, dir, name) ||
      !text::join(path, sizeof path, sub, "options"))
    return -1;
  if (prim::read_text(path, buf, sizeof buf) <= 0) return -1;
  return has_option(buf, "data=journal") ? 1 : 0;
}

int mountinfo_journal(const char* proc_root, dev_t dev) {
  char path[kPathMax];
  if (!text::join(path, sizeof path, proc_root, "self/mountinfo")) return -1;
  const int fd = prim::open_read(path);
  if (fd < 0) return -1;
  MountinfoScan scan(dev, "data=journal");
  char buf[1024];
  for (long n; !scan.found && (n = prim::read_fd(fd, buf, sizeof buf)) > 0;) scan.feed(buf, (size_t)n);
  scan.finish();
  prim::close_fd(fd);
  return scan.found ? scan.has : -1;
}

}  // namespace

int mount_reason(const char* proc_root, const char* sysfs_root, dev_t dev, uint64_t f_type) {
  if ((uint32_t)f_type != EXT4_SUPER_MAGIC) return CMBMAP_ELIGIBLE;  // xfs journals metadata only
  int j = ext4_options_journal(proc_root, sysfs_root, dev);
  if (j < 0) j = mountinfo_journal(proc_root, dev);
  return j < 0 ? CMBMAP_FS_NOT_SUPPORTED : j ? CMBMAP_JOURNALLED_DATA : CMBMAP_ELIGIBLE;
}

int inode_reason(int fd, uint64_t f_type) {
  struct statx stx{};
  const uint64_t attrs = prim::statx_fd(fd, 0, &stx) == 0 ? stx.stx_attributes : 0;
  int flags = 0;
  if (prim::ioctl_fd(fd, FS_IOC_GETFLAGS, &flags) < 0) return CMBMAP_FS_NOT_SUPPORTED;
  struct fsxattr fsx{};
  if ((uint32_t)f_type == XFS_SUPER_MAGIC && prim::ioctl_fd(fd, FS_IOC_FSGETXATTR, &fsx) < 0)
    return CMBMAP_FS_NOT_SUPPORTED;
  return inode_flags_reason(attrs, (uint32_t)flags, fsx.fsx_xflags);
}

int blocks_reason(int fd) {
  struct stat st;
  struct statfs sfs;
  if (prim::fstat_fd(fd, &st) < 0 || !S_ISREG(st.st_mode)) return CMBMAP_NOT_REGULAR;
  const uint64_t type = prim::fstatfs_fd(fd, &sfs) == 0 ? (uint64_t)sfs.f_type : 0;
  const int r = fs_type_reason(type);
  return r != CMBMAP_ELIGIBLE ? r : inode_reason(fd, type);
}

}  // namespace cmbmap
