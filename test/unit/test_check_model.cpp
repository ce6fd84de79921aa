// `cmbmap check`'s verdicts from facts: each machine state gives the line
// and the exit status the command prints (check_model.h).
#include <criterion/criterion.h>

#include <string>

#include "resolver/cmb.h"
#include "tools/cli/check_facts.h"
#include "tools/cli/check_model.h"

using namespace cmbmap;
using namespace cmbmap::cli::check;

namespace {

// The emulated drive: 64 MiB CMB with SQS, LISTS, RDS, WDS, published, allocatable.
ControllerFacts good_controller(const char* name = "nvme0") {
  ControllerFacts c;
  c.name = name;
  c.pci = "0000:03:00.0";
  c.cmb = decode_cmb(0x62, 0x4021d);
  c.p2pmem = P2pmemInfo{true, 64 << 20, 60 << 20, true};
  c.can_allocate = Known::Yes;
  return c;
}

// The first line whose status is s and whose fact contains text; null if none.
const Line* find(const std::vector<Line>& lines, Status s, const std::string& text) {
  for (const Line& l : lines)
    if (l.status == s && l.fact.find(text) != std::string::npos) return &l;
  return nullptr;
}

std::vector<Line> all(const KernelFacts& k, const std::vector<ControllerFacts>& cs, const SysctlFacts& s) {
  std::vector<Line> out = kernel_lines(k, cs);
  for (const Line& l : controller_lines(cs, 1000)) out.push_back(l);
  for (const Line& l : sysctl_lines(s)) out.push_back(l);
  return out;
}

KernelFacts p2p_kernel() { return KernelFacts{"6.12.95", Known::Yes, "/proc/config.gz"}; }
SysctlFacts defaults() { return SysctlFacts{1, 45, 65530}; }

}  // namespace

Test(check_model, good_machine_passes_and_every_line_says_what_to_do) {
  auto lines = all(p2p_kernel(), {good_controller()}, defaults());
  cr_assert_eq(exit_status(lines), 0);
  for (const Line& l : lines) {
    cr_assert_eq(l.status, Status::Ok, "%s: %s", l.area.c_str(), l.fact.c_str());
    cr_assert(!l.action.empty());
  }
  cr_assert(find(lines, Status::Ok, "size 64 MiB, free 60 MiB (4 MiB in use)"));
}

Test(check_model, p2pdma_disabled_fails_and_names_distributions) {
  KernelFacts k{"6.1.0-27-amd64", Known::No, "/boot/config-6.1.0-27-amd64"};
  auto lines = kernel_lines(k, {});
  const Line* l = find(lines, Status::Fail, "CONFIG_PCI_P2PDMA is not set");
  cr_assert(l);
  cr_assert(l->action.find("Ubuntu 24.04") != std::string::npos);
  cr_assert(l->action.find("Debian's kernels are built without it") != std::string::npos);
  cr_assert_eq(exit_status(lines), 1);
}

Test(check_model, p2pdma_unknown_is_unknown_unless_p2pmem_proves_it) {
  KernelFacts k{"6.12.95", Known::Unknown, ""};
  auto without = kernel_lines(k, {});
  cr_assert(find(without, Status::Unknown, "CONFIG_PCI_P2PDMA unknown"));
  cr_assert_eq(exit_status(without), 0);
  auto with = kernel_lines(k, {good_controller()});
  cr_assert(find(with, Status::Ok, "p2pmem is published, so it is built in"));
}

Test(check_model, kernel_older_than_6_2_fails) {
  cr_assert(find(kernel_lines(KernelFacts{"6.1.0-27-amd64", Known::Yes, "x"}, {}), Status::Fail, "older than 6.2"));
  cr_assert(find(kernel_lines(KernelFacts{"5.14.0-427.el9", Known::Yes, "x"}, {}), Status::Fail, "older than 6.2"));
  cr_assert(find(kernel_lines(KernelFacts{"6.2.0", Known::Yes, "x"}, {}), Status::Ok, "6.2 or later"));
  cr_assert(find(kernel_lines(KernelFacts{"", Known::Yes, "x"}, {}), Status::Unknown, "release unreadable"));
}

Test(check_model, controller_without_cmb_fails) {
  ControllerFacts c = good_controller();
  c.cmb = CmbInfo{};
  c.p2pmem = P2pmemInfo{};
  auto lines = controller_lines({c}, 0);
  cr_assert(find(lines, Status::Fail, "no CMB visible"));
  cr_assert_eq(exit_status(lines), 1);
}

Test(check_model, cmb_without_rds_wds_fails) {
  ControllerFacts c = good_controller();
  c.cmb = decode_cmb(0x62, 0x40205);  // SQS and LISTS only
  auto lines = controller_lines({c}, 0);
  cr_assert(find(lines, Status::Fail, "without RDS and WDS"));
}

Test(check_model, cmb_not_registered_or_not_published_fails) {
  ControllerFacts c = good_controller();
  c.p2pmem = P2pmemInfo{};
  cr_assert(find(controller_lines({c}, 0), Status::Fail, "not registered as p2pmem"));
  c.p2pmem = P2pmemInfo{true, 64 << 20, 64 << 20, false};
  cr_assert(find(controller_lines({c}, 0), Status::Fail, "registered but not published"));
}

Test(check_model, allocate_not_permitted_fails_with_the_udev_rule) {
  ControllerFacts c = good_controller();
  c.can_allocate = Known::No;
  c.allocate_errno = EACCES;
  auto lines = controller_lines({c}, 65534);
  const Line* l = find(lines, Status::Fail, "does not open read-write for uid 65534 (Permission denied)");
  cr_assert(l);
  cr_assert(l->action.find("60-cmbmap.rules") != std::string::npos);
}

Test(check_model, full_cmb_warns) {
  ControllerFacts c = good_controller();
  c.p2pmem.available = 0;
  auto lines = controller_lines({c}, 0);
  cr_assert(find(lines, Status::Warn, "free 0 B"));
  cr_assert_eq(exit_status(lines), 0);
}

Test(check_model, one_ready_controller_turns_the_others_into_warnings) {
  ControllerFacts bad = good_controller("nvme1");
  bad.cmb = CmbInfo{};
  auto lines = controller_lines({good_controller(), bad}, 0);
  cr_assert(find(lines, Status::Warn, "no CMB visible"));
  cr_assert_eq(exit_status(lines), 0);
}

Test(check_model, no_controllers_fails) {
  cr_assert(find(controller_lines({}, 0), Status::Fail, "no NVMe controllers"));
}

Test(check_model, leases_and_limits) {
  cr_assert(find(sysctl_lines(SysctlFacts{0, 45, 65530}), Status::Fail, "fs.leases-enable is 0"));
  cr_assert(find(sysctl_lines(SysctlFacts{1, 0, 65530}), Status::Fail, "fs.lease-break-time is 0"));
  cr_assert(find(sysctl_lines(SysctlFacts{1, 45, 1000}), Status::Fail, "vm.max_map_count is 1000"));
  cr_assert(find(sysctl_lines(SysctlFacts{1, 45, 30000}), Status::Warn, "below the default"));
  cr_assert(find(sysctl_lines(SysctlFacts{-1, -1, -1}), Status::Unknown, "fs.leases-enable unreadable"));
  cr_assert_eq(exit_status(sysctl_lines(SysctlFacts{1, 45, 30000})), 0);
}

Test(check_model, kernel_config_text) {
  cr_assert_eq(p2pdma_from_config("CONFIG_A=y\nCONFIG_PCI_P2PDMA=y\n"), Known::Yes);
  cr_assert_eq(p2pdma_from_config("CONFIG_PCI_P2PDMA=y\n"), Known::Yes);
  cr_assert_eq(p2pdma_from_config("# CONFIG_PCI_P2PDMA is not set\n"), Known::No);
  cr_assert_eq(p2pdma_from_config("CONFIG_A=y\n"), Known::No);
  cr_assert_eq(p2pdma_from_config("CONFIG_PCI_P2PDMA_X=y\n"), Known::No);
}

// A kernel without P2PDMA hides the CMB registers: `devices` still learns
// from the kernel log that there is a CMB, but not its size or bits. That is
// not "without RDS and WDS": the verdict is the missing p2pmem.
Test(check_model, cmb_of_unknown_size_blames_the_missing_p2pmem) {
  ControllerFacts c = good_controller();
  c.cmb = CmbInfo{};
  c.cmb.present = true;
  c.p2pmem = P2pmemInfo{};
  auto lines = controller_lines({c}, 0);
  cr_assert(find(lines, Status::Unknown, "size and RDS/WDS unknown"));
  cr_assert(!find(lines, Status::Fail, "without RDS and WDS"));
  cr_assert(find(lines, Status::Fail, "CMB not registered as p2pmem"));
}
