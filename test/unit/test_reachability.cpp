// The reasons that come from looking at a real file or the process's
// options rather than from extent flags: NOT_REGULAR, FIEMAP_FAILED,
// DEVICE_NOT_ALLOWED.
#include <criterion/criterion.h>
#include <fcntl.h>
#include <unistd.h>

#include "resolver/resolve.h"
#include "shim/core/machine.h"

using namespace cmbmap;

Test(reach, character_device_is_not_regular) {
  int fd = open("/dev/null", O_RDONLY);
  FileFacts f;
  cr_assert_eq(resolve_file("/sys", fd, &f), 0);
  cr_assert_eq(device_reason(f), CMBMAP_NOT_REGULAR);
  close(fd);
}

Test(reach, filesystem_without_fiemap) {
  // tmpfs has no FIEMAP: with a device that could serve, the plan says so.
  char path[] = "/dev/shm/cmbmap-fiemap-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  unlink(path);
  cr_assert_eq(ftruncate(fd, 1 << 20), 0);
  FileFacts f;
  cr_assert_eq(resolve_file("/sys", fd, &f), 0);
  // Pretend the filesystem (tmpfs is off the allow-list) and the device could serve.
  f.file_reason = CMBMAP_ELIGIBLE;
  f.target.reason = CMBMAP_ELIGIBLE;
  Extent ext[8];
  ExtentList list{ext, 8, 0, true};
  Segment segs[4];
  Plan plan{segs, 4, 0, 0};
  plan_file(fd, f, 0, 1 << 20, false, true, &list, &plan);
  cr_assert_eq(plan.count, 1u);
  cr_assert_eq(segs[0].reason, CMBMAP_FIEMAP_FAILED);
  close(fd);
}

Test(reach, controller_outside_cmbmap_devices) {
  Options o{};
  snprintf(o.devices, sizeof o.devices, "nvme1");
  FileFacts f{};
  f.file_reason = CMBMAP_ELIGIBLE;
  f.target.reason = CMBMAP_ELIGIBLE;
  snprintf(f.target.controller, sizeof f.target.controller, "nvme0");
  machine::apply(o, &f);
  cr_assert_eq(f.target.reason, CMBMAP_DEVICE_NOT_ALLOWED);
  snprintf(f.target.controller, sizeof f.target.controller, "nvme1");
  f.target.reason = CMBMAP_ELIGIBLE;
  machine::apply(o, &f);
  cr_assert_eq(f.target.reason, CMBMAP_ELIGIBLE);
}
