// Peer-to-peer reachability as the kernel's pci_p2pdma_distance judges it:
// switch port vs root complex, ACS redirection, host bridge whitelist, IOMMU.
#include <criterion/criterion.h>

#include <string>

#include "tools/cli/check_facts.h"
#include "tools/cli/check_peer.h"

using namespace cmbmap::cli::check;

namespace {

PciPlace place(std::vector<PciHop> chain, const char* host = "pci0000:00", const char* iommu = "") {
  PciPlace p;
  p.found = true;
  p.host_bridge = host;
  p.chain = std::move(chain);
  p.bdf = p.chain.back().bdf;
  p.root_known = true;
  p.root_vendor = 0x8086;
  p.root_device = 0x29c0;  // QEMU q35: not whitelisted
  p.iommu_type = iommu;
  return p;
}

const PciHop kRoot{"0000:00:05.0", Acs::Clear}, kUp{"0000:01:00.0", Acs::NotCapable};
const PciPlace kDrive = place({kRoot, kUp, {"0000:02:00.0", Acs::Clear}, {"0000:03:00.0", Acs::NotCapable}});

std::string config_with_acs(uint16_t ctrl) {
  std::string b(4096, '\0');
  b[0x100] = 0x0d; b[0x102] = 0x01;  // ACS, version 1, no next
  b[0x106] = (char)(ctrl & 0xff); b[0x107] = (char)(ctrl >> 8);
  return b;
}

}  // namespace

Test(check_peer, same_switch_without_redirection_is_direct) {
  PciPlace gpu = place({kRoot, kUp, {"0000:02:01.0", Acs::Clear}, {"0000:04:00.0", Acs::NotCapable}});
  Route r = route(kDrive, gpu, false);
  cr_assert_eq(r.kind, RouteKind::Switch);
  cr_assert_str_eq(r.via.c_str(), "0000:01:00.0");
  cr_assert_eq(r.hops, 4);
  auto lines = peer_lines(gpu, kDrive, "nvme0", false);
  cr_assert_eq(exit_status(lines), 0);
}

Test(check_peer, acs_redirect_on_the_way_goes_through_the_host_bridge) {
  PciPlace nic = place({kRoot, kUp, {"0000:02:02.0", Acs::Redirect}, {"0000:09:00.0", Acs::NotCapable}});
  Route r = route(kDrive, nic, false);
  cr_assert_eq(r.kind, RouteKind::NotSupported);
  cr_assert_eq(r.acs_redirect.size(), 1u);
  cr_assert_str_eq(r.acs_redirect[0].c_str(), "0000:02:02.0");
  auto lines = peer_lines(nic, kDrive, "nvme0", false);
  cr_assert_eq(exit_status(lines), 1);
  cr_assert(lines[0].action.find("pci=disable_acs_redir=0000:02:02.0") != std::string::npos);
  // A redirect on the common switch port itself counts too (the kernel checks it).
  PciPlace below = place({kRoot, {"0000:01:00.0", Acs::Redirect}, {"0000:02:01.0", Acs::Clear},
                          {"0000:04:00.0", Acs::NotCapable}});
  PciPlace drive = place({kRoot, {"0000:01:00.0", Acs::Redirect}, {"0000:02:00.0", Acs::Clear},
                          {"0000:03:00.0", Acs::NotCapable}});
  cr_assert_eq(route(drive, below, false).kind, RouteKind::NotSupported);
}

Test(check_peer, unreadable_acs_is_unknown) {
  PciPlace p = place({kRoot, kUp, {"0000:02:03.0", Acs::Unknown}, {"0000:0b:00.0", Acs::NotCapable}});
  Route r = route(kDrive, p, false);
  cr_assert_eq(r.kind, RouteKind::Unknown);
  auto lines = peer_lines(p, kDrive, "nvme0", false);
  cr_assert_eq(lines[0].status, Status::Unknown);
  cr_assert(lines[0].action.find("as root") != std::string::npos);
}

Test(check_peer, root_complex_only_depends_on_the_host_bridge) {
  PciPlace nic = place({{"0000:00:06.0", Acs::Clear}, {"0000:05:00.0", Acs::NotCapable}});
  cr_assert_eq(route(kDrive, nic, false).kind, RouteKind::NotSupported);
  cr_assert_eq(route(kDrive, nic, true).kind, RouteKind::HostBridge);  // AMD Zen: allowed
  auto warn = peer_lines(nic, kDrive, "nvme0", true);
  cr_assert_eq(warn[0].status, Status::Warn);
  cr_assert(warn[0].fact.find("only through the root complex") != std::string::npos);
  PciPlace skx_nic = nic, skx_drive = kDrive;
  skx_nic.root_device = skx_drive.root_device = 0x2020;  // Skylake-E: whitelisted
  cr_assert_eq(route(skx_drive, skx_nic, false).kind, RouteKind::HostBridge);
}

Test(check_peer, host_bridges_that_require_the_same_bridge) {
  PciPlace a = place({{"0000:00:06.0", Acs::Clear}, {"0000:05:00.0", Acs::NotCapable}});
  PciPlace b = place({{"0000:80:01.0", Acs::Clear}, {"0000:81:00.0", Acs::NotCapable}}, "pci0000:80");
  a.root_device = b.root_device = 0x2f00;  // Xeon E5 v3: same host bridge only
  cr_assert(!host_bridge_allows(a, b, false));
  cr_assert(host_bridge_allows(a, a, false));
  a.root_device = b.root_device = 0x2030;
  cr_assert(host_bridge_allows(a, b, false));
}

Test(check_peer, translating_iommu_fails) {
  PciPlace gpu = place({kRoot, kUp, {"0000:02:04.0", Acs::Clear}, {"0000:0a:00.0", Acs::NotCapable}},
                       "pci0000:00", "DMA-FQ");
  auto lines = peer_lines(gpu, kDrive, "nvme0", false);
  cr_assert_eq(lines.size(), 2u);
  cr_assert_eq(lines[1].status, Status::Fail);
  cr_assert(lines[1].action.find("iommu=pt") != std::string::npos);
  gpu.iommu_type = "identity";
  cr_assert_eq(exit_status(peer_lines(gpu, kDrive, "nvme0", false)), 0);
}

Test(check_peer, missing_peer_fails) {
  PciPlace p;
  p.bdf = "0000:77:00.0";
  auto lines = peer_lines(p, kDrive, "nvme0", false);
  cr_assert_eq(lines.size(), 1u);
  cr_assert_eq(lines[0].status, Status::Fail);
}

Test(check_peer, acs_from_config_space) {
  cr_assert_eq(acs_from_config(std::string(64, '\0')), Acs::Unknown);      // non-root view
  cr_assert_eq(acs_from_config(std::string(256, '\0')), Acs::NotCapable);  // conventional PCI
  cr_assert_eq(acs_from_config(std::string(4096, '\0')), Acs::NotCapable);
  cr_assert_eq(acs_from_config(config_with_acs(0x0001)), Acs::Clear);      // source validation only
  cr_assert_eq(acs_from_config(config_with_acs(0x0004)), Acs::Redirect);   // request redirect
  cr_assert_eq(acs_from_config(config_with_acs(0x0008)), Acs::Redirect);   // completion redirect
  cr_assert_eq(acs_from_config(config_with_acs(0x0020)), Acs::Redirect);   // egress control
  // ACS second in the list: an AER capability (0x0001) at 0x100 pointing to 0x150.
  std::string b(4096, '\0');
  b[0x100] = 0x01; b[0x102] = 0x01; b[0x103] = 0x15;  // next = 0x150
  b[0x150] = 0x0d; b[0x152] = 0x01; b[0x156] = 0x04;
  cr_assert_eq(acs_from_config(b), Acs::Redirect);
}
