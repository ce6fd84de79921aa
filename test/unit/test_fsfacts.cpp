// Whether a file's block addresses are its bytes (resolver/fsfacts.h): the
// filesystem allow-list, ext4 data journalling from /proc fixtures
// (test/fixtures/proc/, with test/fixtures/sysfs/partition for the device
// name), the mountinfo scan, the inode flags, and a real tmpfs file.
#include <criterion/criterion.h>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "resolver/fiemap.h"
#include "resolver/fsfacts.h"
#include "resolver/resolve.h"

using namespace cmbmap;

namespace {
constexpr const char* kSysfs = "test/fixtures/sysfs/partition";  // 259:1 is nvme0n1p1
const dev_t kPart = makedev(259, 1);

int journal(const char* proc_fixture, dev_t dev) {
  char root[128];
  snprintf(root, sizeof root, "test/fixtures/proc/%s", proc_fixture);
  return mount_reason(root, kSysfs, dev, EXT4_SUPER_MAGIC);
}

// Feeds text in chunks of n bytes (a line may span reads of mountinfo).
MountinfoScan scan(const char* text, dev_t dev, size_t n) {
  MountinfoScan s(dev, "data=journal");
  for (size_t off = 0, len = strlen(text); off < len; off += n) s.feed(text + off, off + n <= len ? n : len - off);
  s.finish();
  return s;
}
}  // namespace

Test(fsfacts, only_ext4_and_xfs_are_allowed) {
  cr_assert_eq(fs_type_reason(EXT4_SUPER_MAGIC), CMBMAP_ELIGIBLE);  // ext2/ext3 too: one magic
  cr_assert_eq(fs_type_reason(XFS_SUPER_MAGIC), CMBMAP_ELIGIBLE);
  cr_assert_eq(fs_type_reason(BTRFS_SUPER_MAGIC), CMBMAP_MULTI_DEVICE);
  cr_assert_eq(fs_type_reason(F2FS_SUPER_MAGIC), CMBMAP_FS_NOT_SUPPORTED);
  cr_assert_eq(fs_type_reason(NILFS_SUPER_MAGIC), CMBMAP_FS_NOT_SUPPORTED);
  cr_assert_eq(fs_type_reason(TMPFS_MAGIC), CMBMAP_FS_NOT_SUPPORTED);
  cr_assert_eq(fs_type_reason(OVERLAYFS_SUPER_MAGIC), CMBMAP_FS_NOT_SUPPORTED);
  cr_assert_eq(fs_type_reason(0), CMBMAP_FS_NOT_SUPPORTED);  // fstatfs failed
  // statfs f_type is a signed long: a magic with the top bit set still matches.
  cr_assert_eq(fs_type_reason((uint64_t)(int64_t)(int32_t)BTRFS_SUPER_MAGIC), CMBMAP_MULTI_DEVICE);
}

Test(fsfacts, option_lists) {
  cr_assert(has_option("rw,nodelalloc,data=journal", "data=journal"));
  cr_assert(has_option("rw\nbsddf\ndata=journal\nbarrier\n", "data=journal"));
  cr_assert_not(has_option("rw,data=journalled", "data=journal"));
  cr_assert_not(has_option("rw,xdata=journal", "data=journal"));
  cr_assert_not(has_option("rw,data=ordered", "data=journal"));
  cr_assert_not(has_option("", "data=journal"));
}

Test(fsfacts, superblock_default_journal_data_is_seen) {
  // tune2fs -o journal_data: mountinfo omits it, /proc/fs/ext4 lists it.
  cr_assert_eq(journal("sb-default", kPart), CMBMAP_JOURNALLED_DATA);
  cr_assert_eq(mount_reason("test/fixtures/proc/sb-default", kSysfs, kPart, XFS_SUPER_MAGIC), CMBMAP_ELIGIBLE);
}

Test(fsfacts, ordered_ext4_is_eligible) {
  // Another mount (7:0) journals data; this one does not.
  cr_assert_eq(journal("ordered", kPart), CMBMAP_ELIGIBLE);
}

Test(fsfacts, mountinfo_when_proc_fs_ext4_is_absent) {
  cr_assert_eq(journal("mountinfo-only", kPart), CMBMAP_JOURNALLED_DATA);
  // Neither source knows the device: not proven, so not served.
  cr_assert_eq(journal("mountinfo-only", makedev(259, 7)), CMBMAP_FS_NOT_SUPPORTED);
  cr_assert_eq(journal("absent", kPart), CMBMAP_FS_NOT_SUPPORTED);
}

Test(fsfacts, mountinfo_scan_in_any_chunks) {
  const char* text =
      "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
      "45 27 7:0 / /tmp/j rw,relatime - ext4 /dev/loop0 rw,nodelalloc,data=journal\n"
      "46 27 259:1 / /mnt/a\\040-\\040b rw,relatime shared:1 master:2 - ext4 /dev/nvme0n1p1 rw,data=ordered\n"
      "47 27 259:2 / /mnt/c rw - ext4 /dev/nvme0n1p2 rw,data=journal";  // no final newline
  for (size_t n : {1, 3, 7, 64, 4096}) {
    MountinfoScan a = scan(text, makedev(7, 0), n);
    cr_assert(a.found && a.has, "7:0 in chunks of %zu", n);
    MountinfoScan b = scan(text, makedev(259, 1), n);
    cr_assert(b.found && !b.has, "259:1 in chunks of %zu", n);
    MountinfoScan c = scan(text, makedev(259, 2), n);
    cr_assert(c.found && c.has, "259:2 (last line) in chunks of %zu", n);
    MountinfoScan d = scan(text, makedev(259, 3), n);
    cr_assert(!d.found && !d.has, "259:3 in chunks of %zu", n);
  }
  // The option must be a whole super option, not a mount option before "-".
  MountinfoScan e = scan("50 1 8:1 / /m rw,data=journal - ext4 /dev/sda1 rw,data=journalx\n", makedev(8, 1), 5);
  cr_assert(e.found && !e.has);
}

Test(fsfacts, inode_flags) {
  cr_assert_eq(inode_flags_reason(0, 0, 0), CMBMAP_ELIGIBLE);
  cr_assert_eq(inode_flags_reason(STATX_ATTR_ENCRYPTED, 0, 0), CMBMAP_ENCRYPTED);
  cr_assert_eq(inode_flags_reason(0, FS_ENCRYPT_FL, 0), CMBMAP_ENCRYPTED);
  cr_assert_eq(inode_flags_reason(0, 0, FS_XFLAG_REALTIME), CMBMAP_REALTIME_DEVICE);
  cr_assert_eq(inode_flags_reason(0, FS_JOURNAL_DATA_FL, 0), CMBMAP_JOURNALLED_DATA);
  cr_assert_eq(inode_flags_reason(0, FS_JOURNAL_DATA_FL | FS_ENCRYPT_FL, 0), CMBMAP_ENCRYPTED);
  // Flags that say nothing about where the bytes are.
  cr_assert_eq(inode_flags_reason(STATX_ATTR_IMMUTABLE | STATX_ATTR_APPEND, FS_NOATIME_FL | FS_EXTENT_FL, 0),
               CMBMAP_ELIGIBLE);
}

Test(fsfacts, tmpfs_file_is_not_supported) {
  char path[] = "/dev/shm/cmbmap-fsfacts-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) cr_skip_test("no /dev/shm");
  unlink(path);
  cr_assert_eq(ftruncate(fd, 1 << 20), 0);
  FileFacts f;
  cr_assert_eq(resolve_file("/sys", fd, &f), 0);
  cr_assert_eq(f.file_reason, CMBMAP_FS_NOT_SUPPORTED);
  cr_assert_eq(device_reason(f), CMBMAP_FS_NOT_SUPPORTED);
  cr_assert_eq(file_verdict(f), CMBMAP_FS_NOT_SUPPORTED);
  cr_assert_eq(blocks_reason(fd), CMBMAP_FS_NOT_SUPPORTED);
  close(fd);
}

Test(fsfacts, plain_file_on_ext4_or_xfs_is_its_bytes) {
  // The fixture's filesystem (/var/tmp): its files pass, and the facts
  // agree with the commit check.
  char path[] = "/var/tmp/cmbmap-fsfacts-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  unlink(path);
  struct statfs sfs;
  cr_assert_eq(fstatfs(fd, &sfs), 0);
  if (fs_type_reason((uint64_t)sfs.f_type) != CMBMAP_ELIGIBLE) cr_skip_test("/var/tmp is not ext4 or xfs");
  FileFacts f;
  cr_assert_eq(resolve_file("/sys", fd, &f), 0);
  cr_assert_eq(f.file_reason, CMBMAP_ELIGIBLE, "%s", cmbmap_reason_name(f.file_reason));
  cr_assert_eq(f.inode_reason, CMBMAP_ELIGIBLE, "%s", cmbmap_reason_name(f.inode_reason));
  cr_assert_eq(blocks_reason(fd), CMBMAP_ELIGIBLE);
  close(fd);
}
