// Block device → namespace → controller → PCI function → CMB, resolved
// against sysfs trees captured in the test machine (test/fixtures/sysfs/,
// made with test/fixtures/capture-sysfs).
#include <criterion/criterion.h>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/sysmacros.h>

#include "resolver/device.h"

using namespace cmbmap;

namespace {
NvmeTarget resolve(const char* fixture, unsigned maj, unsigned min) {
  char root[256];
  snprintf(root, sizeof root, "test/fixtures/sysfs/%s", fixture);
  NvmeTarget t;
  resolve_block_device(root, makedev(maj, min), &t);
  return t;
}
}  // namespace

Test(device, p2p_kernel_namespace_resolves_to_published_cmb) {
  NvmeTarget t = resolve("p2p", 259, 0);
  cr_assert_eq(t.reason, CMBMAP_ELIGIBLE, "reason %s", cmbmap_reason_name(t.reason));
  cr_assert_str_eq(t.controller, "nvme0");
  cr_assert_str_eq(t.namespace_name, "nvme0n1");
  cr_assert_str_eq(t.pci, "0000:00:05.0");
  cr_assert_eq(t.nsid, 1u);
  cr_assert_eq(t.lba_size, 512u);
  cr_assert_eq(t.partition_start, 0u);
  cr_assert(t.cmb.present && t.cmb.rds && t.cmb.wds);
  cr_assert_eq(t.cmb.size, 64ull << 20);
  cr_assert_eq(t.cmb.bar, 2u);
  cr_assert(t.p2pmem.present && t.p2pmem.published);
  cr_assert_eq(t.p2pmem.size, 67108864u);
  cr_assert_eq(t.p2pmem.available, 66977792u);
}

Test(device, stock_kernel_hides_the_cmb) {
  // Without CONFIG_PCI_P2PDMA nvme-pci never registers the CMB and keeps
  // cmbloc/cmbsz invisible: the resolver sees no CMB and no p2pmem.
  NvmeTarget t = resolve("stock", 259, 0);
  cr_assert_str_eq(t.controller, "nvme0");
  cr_assert_not(t.cmb.present);
  cr_assert_not(t.p2pmem.present);
  cr_assert_eq(t.reason, CMBMAP_NO_CMB);
}

Test(device, partition_offset_is_added) {
  NvmeTarget t = resolve("partition", 259, 1);
  cr_assert_eq(t.reason, CMBMAP_ELIGIBLE);
  cr_assert_str_eq(t.namespace_name, "nvme0n1");
  cr_assert_eq(t.partition_start, 2048u * 512);
}

Test(device, two_controllers_behind_a_switch) {
  NvmeTarget a = resolve("two", 259, 0), b = resolve("two", 259, 1);
  cr_assert_str_eq(a.controller, "nvme0");
  cr_assert_str_eq(a.pci, "0000:04:00.0");
  cr_assert_str_eq(b.controller, "nvme1");
  cr_assert_str_eq(b.pci, "0000:03:00.0");
  cr_assert_eq(a.reason, CMBMAP_ELIGIBLE);
  cr_assert_eq(b.reason, CMBMAP_ELIGIBLE);
}

Test(device, unknown_and_anonymous_devices_are_not_nvme) {
  cr_assert_eq(resolve("p2p", 0, 42).reason, CMBMAP_NO_NVME);   // tmpfs, overlay...
  cr_assert_eq(resolve("p2p", 254, 0).reason, CMBMAP_NO_NVME);  // not in the tree
}

Test(device, controller_from_class_symlink) {
  NvmeTarget t{};
  resolve_controller("test/fixtures/sysfs/p2p/class/nvme/nvme0", &t);
  cr_assert_eq(t.reason, CMBMAP_ELIGIBLE);
  cr_assert_str_eq(t.pci, "0000:00:05.0");
}

Test(device, stacked_devices_are_multi_device) {
  // Synthetic (no device-mapper in the test machine): a dm node has dm/.
  char root[] = "/tmp/cmbmap-sysfs-XXXXXX";
  cr_assert_not_null(mkdtemp(root));
  char cmd[512];
  snprintf(cmd, sizeof cmd,
           "mkdir -p %s/dev/block %s/devices/virtual/block/dm-0/dm && "
           "ln -s ../../devices/virtual/block/dm-0 %s/dev/block/253:0",
           root, root, root);
  cr_assert_eq(system(cmd), 0);
  NvmeTarget t;
  resolve_block_device(root, makedev(253, 0), &t);
  snprintf(cmd, sizeof cmd, "rm -rf %s", root);
  system(cmd);
  cr_assert_eq(t.reason, CMBMAP_MULTI_DEVICE);
}

Test(device, normalize_path) {
  char p[64] = "/sys/dev/block/../../devices/./pci0000:00//x/";
  normalize_path(p);
  cr_assert_str_eq(p, "/sys/devices/pci0000:00/x");
}

// Every LBA is computed from the partition start, the LBA size and the
// namespace id: values the kernel would never give leave the device unused
// (found by test/fuzz/sysfs: they were cut to 32 bits, overflowed or taken as
// they came).
Test(device, implausible_lba_numbers_leave_the_device_unused) {
  char dir[] = "/tmp/cmbmap-device.XXXXXX";
  cr_assert(mkdtemp(dir));
  char cmd[256];
  snprintf(cmd, sizeof cmd, "cp -a test/fixtures/sysfs/partition %s/", dir);
  cr_assert_eq(system(cmd), 0);
  const std::string root = std::string(dir) + "/partition";
  const std::string ns = root + "/devices/pci0000:00/0000:00:05.0/nvme/nvme0/nvme0n1/";
  struct { const char* attr; const char* value; } bad[] = {
      {"queue/logical_block_size", "1000"},  {"queue/logical_block_size", "4294967808"},
      {"queue/logical_block_size", ""},      {"nsid", "4294967297"},
      {"nvme0n1p1/start", "36028797018963968"}, {"queue/logical_block_size", "4096"},  // start 2048 sectors: 1 MiB, fine
  };
  auto put = [&](const char* attr, const char* value) {
    FILE* f = fopen((ns + attr).c_str(), "w");
    cr_assert(f);
    fputs(value, f);
    fclose(f);
  };
  NvmeTarget t;
  for (const auto& b : bad) {
    put(b.attr, b.value);
    resolve_block_device(root.c_str(), makedev(259, 1), &t);
    const bool plausible = !strcmp(b.value, "4096");
    cr_expect_eq(t.reason, plausible ? CMBMAP_ELIGIBLE : CMBMAP_NO_NVME, "%s = '%s': %s", b.attr, b.value,
                 cmbmap_reason_name(t.reason));
    put("queue/logical_block_size", "512");
    put("nsid", "1");
    put("nvme0n1p1/start", "2048");
  }
  put("queue/logical_block_size", "4096");
  put("nvme0n1p1/start", "1");  // 512 bytes in: inside the first 4096-byte LBA
  resolve_block_device(root.c_str(), makedev(259, 1), &t);
  cr_expect_eq(t.reason, CMBMAP_NO_NVME, "a partition splitting an LBA: %s", cmbmap_reason_name(t.reason));
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}

// With nothing to drop, the '/' written after the last component overwrote
// the terminator and the walk went on past the end (found by test/fuzz/sysfs_path).
Test(device, normalize_path_stops_at_the_end) {
  char p[32];
  memset(p, 'x', sizeof p);
  memcpy(p, "/sys/devices/pci0000:00", 24);
  normalize_path(p);
  cr_assert_str_eq(p, "/sys/devices/pci0000:00");
}
