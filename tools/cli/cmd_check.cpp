// `cmbmap check [--json] [--peer BDF]...`: can this machine serve, and if
// not, what to change. Facts come from check_facts, verdicts from
// check_model and check_peer; this file parses arguments and prints.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tools/cli/check_facts.h"
#include "tools/cli/cli.h"
#include "tools/cli/json.h"
#include "tools/cli/target_json.h"

namespace cmbmap::cli {
namespace {

using namespace check;

const char kUsage[] =
    "usage: cmbmap check [--json] [--peer BDF]...\n"
    "  Says whether this machine can serve mappings from a CMB and, line by line, what to change:\n"
    "  kernel (6.2 or later, CONFIG_PCI_P2PDMA), each NVMe controller (CMB, RDS/WDS, p2pmem\n"
    "  published, size and free, permission to allocate), file leases, vm.max_map_count, and for\n"
    "  each --peer PCI function (GPU, NIC, another drive) whether it reaches each CMB peer to peer\n"
    "  (PCIe path, ACS redirection, host bridge, IOMMU).\n"
    "  Exit status: 0 when nothing failed, 1 when a line says FAIL, 2 on a usage error.\n"
    "  --sysfs-root DIR, --proc-root DIR, --boot-dir DIR read another tree (for tests).\n";

std::vector<Line> all_lines(const Machine& m) {
  std::vector<Line> lines = kernel_lines(m.kernel, m.controllers);
  for (Line& l : controller_lines(m.controllers, m.uid)) lines.push_back(l);
  for (Line& l : sysctl_lines(m.sysctl)) lines.push_back(l);
  for (const PciPlace& peer : m.peers) {
    bool any = false;
    for (size_t i = 0; i < m.controllers.size(); ++i) {
      if (!m.controllers[i].cmb.present || !m.controller_places[i].found) continue;
      any = true;
      for (Line& l : peer_lines(peer, m.controller_places[i], m.controllers[i].name, m.amd_zen)) lines.push_back(l);
      if (!peer.found) break;  // one line says so; not once per controller
    }
    if (!any)
      lines.push_back(Line{"peer " + peer.bdf, Status::Fail, "no controller with a CMB to reach",
                           "see the controller lines above"});
  }
  return lines;
}

void print_text(const std::vector<Line>& lines) {
  for (const Line& l : lines)
    printf("%-7s %-8s %s\n        -> %s\n", status_name(l.status), l.area.c_str(), l.fact.c_str(),
           l.action.c_str());
  printf(exit_status(lines) == 0 ? "cmbmap check: this machine can serve\n"
                                 : "cmbmap check: this machine cannot serve yet (see the FAIL lines)\n");
}

const char* known_name(Known k) { return k == Known::Yes ? "yes" : k == Known::No ? "no" : "unknown"; }

void place_json(Json& j, const PciPlace& p) {
  j.str("host_bridge", p.host_bridge).begin_array("path");
  for (const PciHop& h : p.chain) j.str_item(h.bdf);
  j.end_array().str("iommu", p.iommu_type.empty() ? "none" : p.iommu_type);
}

void print_json(const Machine& m, const std::vector<Line>& lines) {
  Json j;
  j.begin_object().boolean("can_serve", exit_status(lines) == 0);
  j.begin_object("kernel").str("release", m.kernel.release).str("p2pdma", known_name(m.kernel.p2pdma))
      .str("config_source", m.kernel.config_source).end_object();
  j.begin_array("controllers");
  for (size_t i = 0; i < m.controllers.size(); ++i) {
    const ControllerFacts& c = m.controllers[i];
    j.begin_object().str("name", c.name).str("pci", c.pci);
    cmb_json(j, c.cmb);
    p2pmem_json(j, c.p2pmem);
    j.str("can_allocate", known_name(c.can_allocate)).boolean("ready", controller_ready(c));
    place_json(j, m.controller_places[i]);
    j.end_object();
  }
  j.end_array();
  auto num_or_null = [&](const char* k, long long v) { if (v < 0) j.null(k); else j.num(k, (uint64_t)v); };
  j.begin_object("sysctl");
  num_or_null("leases_enable", m.sysctl.leases_enable);
  num_or_null("lease_break_time", m.sysctl.lease_break_time);
  num_or_null("max_map_count", m.sysctl.max_map_count);
  j.end_object().begin_array("peers");
  for (const PciPlace& p : m.peers) {
    j.begin_object().str("pci", p.bdf).boolean("found", p.found);
    if (p.found) {
      place_json(j, p);
      j.begin_array("routes");
      for (size_t i = 0; i < m.controllers.size(); ++i) {
        if (!m.controllers[i].cmb.present || !m.controller_places[i].found) continue;
        Route r = route(m.controller_places[i], p, m.amd_zen);
        j.begin_object().str("controller", m.controllers[i].name).str("kind", route_name(r.kind)).str("via", r.via)
            .num("hops", (uint64_t)r.hops).begin_array("acs_redirect");
        for (const std::string& b : r.acs_redirect) j.str_item(b);
        j.end_array().begin_array("acs_unknown");
        for (const std::string& b : r.acs_unknown) j.str_item(b);
        j.end_array().end_object();
      }
      j.end_array();
    }
    j.end_object();
  }
  j.end_array().begin_array("lines");
  for (const Line& l : lines)
    j.begin_object().str("area", l.area).str("status", status_name(l.status)).str("fact", l.fact)
        .str("action", l.action).end_object();
  j.end_array().end_object();
  printf("%s\n", j.text().c_str());
}

}  // namespace

int cmd_check(int argc, char** argv) {
  bool json = false;
  Roots roots;
  std::vector<std::string> peers;
  for (int i = 0; i < argc; ++i) {
    const char* a = argv[i];
    if (is_help(a)) { fputs(kUsage, stdout); return kExitOk; }
    std::string* dir = !strcmp(a, "--sysfs-root") ? &roots.sysfs
                       : !strcmp(a, "--proc-root") ? &roots.proc
                       : !strcmp(a, "--boot-dir")  ? &roots.boot
                                                    : nullptr;
    if (!strcmp(a, "--json")) {
      json = true;
    } else if (dir || !strcmp(a, "--peer")) {
      if (i + 1 >= argc) return fail(kExitUsage, a, "needs a value");
      if (dir) *dir = argv[++i]; else peers.push_back(argv[++i]);
    } else {
      return fail(kExitUsage, a, "unknown option");
    }
  }
  Machine m = read_machine(roots, peers);
  std::vector<Line> lines = all_lines(m);
  if (json) print_json(m, lines); else print_text(lines);
  return exit_status(lines);
}

}  // namespace cmbmap::cli
