// Are a file's block addresses its bytes? Raw LBA I/O (a passthrough fill,
// an NVMe writeback) is right only where FIEMAP's physical address holds the
// file's plain bytes on the namespace behind the mount, and stays so until a
// lease break. Not so for an fscrypt file (ciphertext), an XFS realtime file
// (its blocks are on the realtime device), journalled data (ext4 data=journal
// or chattr +j: the journal writes the blocks again later, over direct
// writes, and holds newer bytes than they do until then), nor on filesystems
// that move blocks without a lease break (log-structured, copy-on-write,
// multi-device). These are the facts of the filesystem and the inode that
// decide it; all through prim/, no heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

namespace cmbmap {

// The allow-list, by statfs f_type: ext4 (ext2 and ext3 share its magic) and
// xfs are ELIGIBLE; btrfs is MULTI_DEVICE; every other is FS_NOT_SUPPORTED.
int fs_type_reason(uint64_t f_type);

// True if option is one whole token of list (tokens end at ',', ' ', '\n').
bool has_option(const char* list, const char* option);

// A streaming scan of /proc/self/mountinfo text ("ID PARENT MAJ:MIN ROOT
// MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER-OPTIONS"): whether
// a mount of dev lists option among its super options. Feed any chunks.
struct MountinfoScan {
  MountinfoScan(dev_t d, const char* opt) : dev(d), option(opt) {}
  void feed(const char* p, size_t n);
  void finish();  // a last line without '\n'
  dev_t dev;
  const char* option;
  bool found = false;  // a line for dev was complete
  bool has = false;    // and its super options hold option

 private:
  void end_field();
  void end_line();
  unsigned field_ = 0;      // field number in the line (after "-": counted from 100)
  size_t len_ = 0;          // characters of the current field
  bool dash_ = false;       // the current field is "-" so far
  uint64_t major_ = 0, minor_ = 0;
  bool colon_ = false, in_line_ = false;
  size_t tok_ = 0;          // position in option while matching a super option
  bool tok_match_ = true;   // the current super option matches so far
  bool line_has_ = false;
};

// The reason the inode's own flags impose (ELIGIBLE if none): statx
// attributes (STATX_ATTR_ENCRYPTED), FS_IOC_GETFLAGS flags (FS_ENCRYPT_FL,
// FS_JOURNAL_DATA_FL), fsxattr xflags (FS_XFLAG_REALTIME). Pure.
int inode_flags_reason(uint64_t statx_attributes, uint32_t getflags, uint32_t fsx_xflags);

// The mount's verdict for a filesystem of type f_type on dev: JOURNALLED_DATA
// for ext4 with data journalling (proc_root/fs/ext4/NAME/options, which lists
// defaults from the superblock too; else the super options of
// proc_root/self/mountinfo), FS_NOT_SUPPORTED if neither can be read, else
// ELIGIBLE. proc_root "/proc" and sysfs_root "/sys" outside tests.
int mount_reason(const char* proc_root, const char* sysfs_root, dev_t dev, uint64_t f_type);

// The inode's verdict for open fd on a filesystem of type f_type (flags read
// with statx, FS_IOC_GETFLAGS, FS_IOC_FSGETXATTR); FS_NOT_SUPPORTED if the
// flags cannot be read.
int inode_reason(int fd, uint64_t f_type);

// The commit check's part for fd, before any LBA is read or written: a
// regular file on an allowed filesystem whose inode flags say its block
// addresses are its bytes (flags can change while a range is served:
// chattr +j through the program's own fd breaks no lease). The mount's data
// mode is the plan's alone: ext4 refuses to change it on remount, and a
// served file keeps its filesystem mounted (reading it here cost ~35 us a
// check, measured, against ~2 us for these calls).
int blocks_reason(int fd);

}  // namespace cmbmap
