// Can a peer device (GPU, NIC, another drive) reach a controller's CMB by
// peer-to-peer DMA? The same reasoning as the kernel's pci_p2pdma_distance:
// through a common PCIe switch port with no ACS redirection on the way the
// transfer stays below the root complex; otherwise it goes through the host
// bridge, which the kernel allows only for bridges it knows (AMD Zen or
// later CPUs, a short list of Intel host bridges). An IOMMU that translates
// the peer's DMA sends it to the root complex too. Pure: facts in, lines out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/cli/check_model.h"

namespace cmbmap::cli::check {

// ACS control of a bridge: P2P request/completion redirect or egress control
// set sends peer traffic up to the root complex.
enum class Acs { NotCapable, Clear, Redirect, Unknown };

struct PciHop {
  std::string bdf;
  Acs acs = Acs::Unknown;
};

// Where a PCI function sits: the chain from the root port down to it.
struct PciPlace {
  bool found = false;
  std::string bdf;
  std::string host_bridge;     // "pci0000:00"
  std::vector<PciHop> chain;   // root port first, the function itself last
  bool root_known = false;     // vendor/device of 00.0 on the root bus
  uint16_t root_vendor = 0, root_device = 0;
  std::string iommu_type;      // "" none, "DMA", "DMA-FQ", "identity", "blocked", "unmanaged", "?" unreadable
};

enum class RouteKind { Switch, HostBridge, NotSupported, Unknown };

struct Route {
  RouteKind kind = RouteKind::Unknown;
  std::string via;                       // the common upstream port, or the host bridge(s)
  int hops = 0;                          // bridges crossed
  std::vector<std::string> acs_redirect; // bridges whose ACS redirects
  std::vector<std::string> acs_unknown;  // bridges whose ACS could not be read
  bool whitelisted = false;              // host bridge P2P allowed by the kernel
};

// True if the kernel allows P2P through the host bridge(s) of a and b.
bool host_bridge_allows(const PciPlace& a, const PciPlace& b, bool amd_zen);

Route route(const PciPlace& provider, const PciPlace& client, bool amd_zen);

// The lines for one peer against one controller (named ctrl) holding a CMB.
std::vector<Line> peer_lines(const PciPlace& peer, const PciPlace& provider, const std::string& ctrl,
                             bool amd_zen);

const char* route_name(RouteKind k);  // "switch", "host-bridge", "not-supported", "unknown"

}  // namespace cmbmap::cli::check
