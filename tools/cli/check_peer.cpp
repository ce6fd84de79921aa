// Peer-to-peer reachability from PCIe tree facts (see check_peer.h).
#include "tools/cli/check_peer.h"

namespace cmbmap::cli::check {
namespace {

// Host bridges (device 00.0 on the root bus) the kernel's P2PDMA whitelist
// names (Linux 6.12). same_only: P2P only between devices under one bridge.
struct KnownBridge { uint16_t vendor, device; bool same_only; };
constexpr KnownBridge kWhitelist[] = {
    {0x8086, 0x3c00, true}, {0x8086, 0x3c01, true},   // Xeon E5 / Core i7
    {0x8086, 0x2f00, true}, {0x8086, 0x2f01, true},   // Xeon E5 v3
    {0x8086, 0x2030, false}, {0x8086, 0x2031, false},  // Skylake-E root ports
    {0x8086, 0x2032, false}, {0x8086, 0x2033, false},
    {0x8086, 0x2020, false},                           // Skylake-E
    {0x8086, 0x09a2, false},                           // 3rd gen Xeon Scalable
};

const KnownBridge* known(const PciPlace& p) {
  if (!p.root_known) return nullptr;
  for (const KnownBridge& k : kWhitelist)
    if (k.vendor == p.root_vendor && k.device == p.root_device) return &k;
  return nullptr;
}

void note_acs(const PciHop& h, Route* r) {
  if (h.acs == Acs::Redirect) r->acs_redirect.push_back(h.bdf);
  if (h.acs == Acs::Unknown) r->acs_unknown.push_back(h.bdf);
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

const char* route_name(RouteKind k) {
  switch (k) {
    case RouteKind::Switch: return "switch";
    case RouteKind::HostBridge: return "host-bridge";
    case RouteKind::NotSupported: return "not-supported";
    case RouteKind::Unknown: return "unknown";
  }
  return "?";
}

bool host_bridge_allows(const PciPlace& a, const PciPlace& b, bool amd_zen) {
  if (amd_zen) return true;
  const KnownBridge* ka = known(a);
  const KnownBridge* kb = known(b);
  if (!ka || !kb) return false;
  if (a.host_bridge == b.host_bridge) return true;
  return !ka->same_only && !kb->same_only;
}

Route route(const PciPlace& provider, const PciPlace& client, bool amd_zen) {
  Route r;
  // The deepest bridge both chains share (excluding the functions themselves).
  size_t common = 0;
  if (provider.host_bridge == client.host_bridge)
    while (common + 1 < provider.chain.size() && common + 1 < client.chain.size() &&
           provider.chain[common].bdf == client.chain[common].bdf)
      ++common;
  // Bridges on the way: the provider's up to and including the common one,
  // the client's below it (the kernel checks ACS on exactly these).
  for (size_t i = common ? common - 1 : 0; i + 1 < provider.chain.size(); ++i) note_acs(provider.chain[i], &r);
  for (size_t i = common; i + 1 < client.chain.size(); ++i) note_acs(client.chain[i], &r);
  r.hops = (int)(provider.chain.size() - common) + (int)(client.chain.size() - common);
  if (common > 0 && r.acs_redirect.empty()) {
    r.via = provider.chain[common - 1].bdf;
    r.kind = r.acs_unknown.empty() ? RouteKind::Switch : RouteKind::Unknown;
    return r;
  }
  r.via = provider.host_bridge == client.host_bridge ? provider.host_bridge
                                                     : provider.host_bridge + " and " + client.host_bridge;
  r.whitelisted = host_bridge_allows(provider, client, amd_zen);
  r.kind = r.whitelisted ? RouteKind::HostBridge : RouteKind::NotSupported;
  return r;
}

// The line about the way itself: switch port, root complex, or none.
static Line route_line(const Route& r, const std::string& area, const std::string& to) {
  switch (r.kind) {
    case RouteKind::Switch:
      return Line{area, Status::Ok,
                  "reaches" + to + " below switch port " + r.via + ", " + std::to_string(r.hops) +
                      " hops, no ACS redirection on the way",
                  "nothing to do"};
    case RouteKind::Unknown:
      return Line{area, Status::Unknown,
                  "shares switch port " + r.via + " with" + to + ", but the ACS control of " + join(r.acs_unknown) +
                      " is unreadable",
                  "run `cmbmap check` as root (config space past 64 bytes is root's), or "
                  "`lspci -vvv -s BDF | grep ACSCtl` on those bridges: ReqRedir, CmpltRedir and EgressCtrl "
                  "must be off"};
    case RouteKind::HostBridge:
      return Line{area, Status::Warn,
                  "reaches" + to + " only through the root complex (" + r.via + ")" +
                      (r.acs_redirect.empty() ? "" : ", ACS redirects at " + join(r.acs_redirect)) +
                      "; the kernel allows that host bridge",
                  "works, at the root complex's P2P bandwidth; for full speed put both behind one PCIe switch" +
                      std::string(r.acs_redirect.empty() ? "" : " and boot with pci=disable_acs_redir=" +
                                                                    join(r.acs_redirect))};
    case RouteKind::NotSupported:
      break;
  }
  return Line{area, Status::Fail,
              "cannot reach" + to + ": the way crosses the root complex (" + r.via + ")" +
                  (r.acs_redirect.empty() ? "" : " because ACS redirects at " + join(r.acs_redirect)) +
                  " and the kernel does not allow P2P through that host bridge",
              r.acs_redirect.empty() ? "put the peer and the drive behind one PCIe switch"
                                     : "boot with pci=disable_acs_redir=" + join(r.acs_redirect) +
                                           " (IOMMU isolation between them is lost), or move both behind one switch"};
}

// A translating IOMMU turns on ACS redirection on switch ports (isolation)
// and sends the peer's DMA through the root complex, where a P2P bus
// address means nothing unless the peer's driver mapped it for P2P:
// peer-to-peer users (GPUDirect Storage among them) need passthrough.
static Line iommu_line(const std::string& t, const std::string& area) {
  if (t == "DMA" || t == "DMA-FQ")
    return Line{area, Status::Fail, "IOMMU translates its DMA (default domain " + t + ")",
                "boot with iommu=pt (or echo identity > /sys/kernel/iommu_groups/N/type while unbound): "
                "peer DMA to a CMB needs passthrough unless every driver maps P2P pages through the "
                "P2PDMA-aware DMA API"};
  if (t == "?")
    return Line{area, Status::Unknown, "IOMMU group type unreadable",
                "cat /sys/kernel/iommu_groups/*/type: identity (passthrough) lets peers reach the CMB"};
  if (t.empty()) return Line{area, Status::Ok, "no IOMMU translates its DMA", "nothing to do"};
  if (t == "identity") return Line{area, Status::Ok, "IOMMU default domain identity", "nothing to do"};
  return Line{area, Status::Fail, "IOMMU default domain " + t, "the group must be identity (iommu=pt) for peer DMA"};
}

std::vector<Line> peer_lines(const PciPlace& peer, const PciPlace& provider, const std::string& ctrl,
                             bool amd_zen) {
  const std::string area = "peer " + peer.bdf;
  if (!peer.found)
    return {Line{area, Status::Fail, "no PCI function " + peer.bdf + " in sysfs",
                 "give the peer's address as `lspci -D` prints it (domain:bus:device.function)"}};
  const std::string to = " " + ctrl + " (" + provider.bdf + ")";
  return {route_line(route(provider, peer, amd_zen), area, to), iommu_line(peer.iommu_type, area)};
}

}  // namespace cmbmap::cli::check
