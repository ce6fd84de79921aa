// Facts → report lines for `cmbmap check` (see check_model.h).
#include "tools/cli/check_model.h"

#include <cstdio>
#include <cstring>

#include "tools/cli/cli.h"
#include "tools/cli/target_json.h"

namespace cmbmap::cli::check {
namespace {

// Userspace mapping of p2pmem (mmap of p2pmem/allocate) arrived in 6.2.
constexpr int kMinMajor = 6, kMinMinor = 2;
// Below the kernel's default (65530) programs with many mappings meet
// MAP_COUNT early; far below it cmbmap serves little at all (each served run
// costs up to two map entries, and cmbmap keeps a margin of 16).
constexpr long long kMapCountDefault = 65530, kMapCountLow = 4096;

const char kDistros[] =
    "distribution kernels with it: Ubuntu 24.04 and later, Ubuntu 22.04 HWE, RHEL 9, Fedora, "
    "openSUSE Tumbleweed; Debian's kernels are built without it";

Line line(std::string area, Status s, std::string fact, std::string action) {
  return Line{std::move(area), s, std::move(fact), std::move(action)};
}

}  // namespace

const char* status_name(Status s) {
  switch (s) {
    case Status::Ok: return "ok";
    case Status::Warn: return "warn";
    case Status::Fail: return "FAIL";
    case Status::Unknown: return "unknown";
  }
  return "?";
}

bool parse_release(const std::string& r, int* major, int* minor) {
  return sscanf(r.c_str(), "%d.%d", major, minor) == 2;
}

bool controller_ready(const ControllerFacts& c) {
  return c.cmb.present && c.cmb.size && c.cmb.rds && c.cmb.wds && c.p2pmem.present &&
         c.p2pmem.published && c.can_allocate == Known::Yes;
}

std::vector<Line> kernel_lines(const KernelFacts& k, const std::vector<ControllerFacts>& cs) {
  std::vector<Line> out;
  int major, minor;
  const std::string need = "userspace mapping of p2pmem needs Linux 6.2 or later";
  if (k.release.empty() || !parse_release(k.release, &major, &minor))
    out.push_back(line("kernel", Status::Unknown, "release unreadable (" + k.release + ")",
                       "check `uname -r`: " + need));
  else if (major < kMinMajor || (major == kMinMajor && minor < kMinMinor))
    out.push_back(line("kernel", Status::Fail, "Linux " + k.release + " is older than 6.2",
                       need + "; boot a newer kernel"));
  else
    out.push_back(line("kernel", Status::Ok, "Linux " + k.release + " (6.2 or later)", "nothing to do"));

  bool published = false;
  for (const ControllerFacts& c : cs) published |= c.p2pmem.present;
  const std::string fix = std::string("boot a kernel built with CONFIG_PCI_P2PDMA=y (") + kDistros + ")";
  switch (k.p2pdma) {
    case Known::Yes:
      out.push_back(line("kernel", Status::Ok, "CONFIG_PCI_P2PDMA=y in " + k.config_source, "nothing to do"));
      break;
    case Known::No:
      out.push_back(line("kernel", Status::Fail, "CONFIG_PCI_P2PDMA is not set in " + k.config_source, fix));
      break;
    case Known::Unknown:
      if (published)
        out.push_back(line("kernel", Status::Ok,
                           "CONFIG_PCI_P2PDMA: no config file readable, but p2pmem is published, so it is built in",
                           "nothing to do"));
      else
        out.push_back(line("kernel", Status::Unknown,
                           "CONFIG_PCI_P2PDMA unknown: neither /proc/config.gz nor /boot/config-" + k.release +
                               " is readable",
                           "if it is not set, " + fix));
      break;
  }
  return out;
}

// The lines of one controller; `fail` is the status its blockers get.
static void one_controller(const ControllerFacts& c, uid_t uid, Status fail, std::vector<Line>* out) {
  const std::string& a = c.name;
  if (!c.cmb.present) {
    out->push_back(line(a, fail, "no CMB visible (cmbsz absent or 0; a kernel without P2PDMA hides it)",
                        "use a drive whose CMB supports read and write data (KIOXIA CM7, Eideticom NoLoad, "
                        "QEMU nvme with cmb_size_mb), on a P2PDMA kernel; `cmbmap devices` reads the "
                        "registers as root"));
    return;
  }
  std::string cmb = "CMB " + human_size(c.cmb.size) + " in BAR " + std::to_string(c.cmb.bar) + ", " +
                    cmb_flags_text(c.cmb);
  if (c.cmb.size == 0) {
    // Seen in the kernel log only: a kernel without P2PDMA disables it again.
    out->push_back(line(a, Status::Unknown,
                        "CMB present, size and RDS/WDS unknown (the kernel could not register it and hides "
                        "its registers)",
                        "`cmbmap devices` as root reads the registers where the kernel allows it "
                        "(iomem=relaxed); a kernel with CONFIG_PCI_P2PDMA shows them"));
  } else if (!c.cmb.rds || !c.cmb.wds) {
    out->push_back(line(a, fail, cmb + ": without RDS and WDS it cannot hold read data (and the kernel does not "
                                       "publish it)",
                        "nothing to change in software: this drive cannot serve; use one whose CMB has RDS and WDS"));
    return;
  } else {
    out->push_back(line(a, Status::Ok, cmb, "nothing to do"));
  }
  if (!c.p2pmem.present) {
    out->push_back(line(a, fail, "CMB not registered as p2pmem (no " + c.pci + "/p2pmem)",
                        "needs a kernel with CONFIG_PCI_P2PDMA (see the kernel lines); with one, the kernel log "
                        "says why: dmesg | grep -i cmb"));
    return;
  }
  if (!c.p2pmem.published) {
    out->push_back(line(a, fail, "p2pmem registered but not published",
                        "the driver keeps this CMB for itself: check `dmesg | grep -i cmb` and the nvme driver"));
    return;
  }
  const uint64_t used = c.p2pmem.size - c.p2pmem.available;
  std::string pool = "p2pmem published: size " + human_size(c.p2pmem.size) + ", free " +
                     human_size(c.p2pmem.available) + " (" + human_size(used) + " in use)";
  if (c.p2pmem.available == 0)
    out->push_back(line(a, Status::Warn, pool, "the CMB is full: `cmbmap stat` shows who holds it, `cmbmap reclaim` "
                                               "asks them to give it back"));
  else
    out->push_back(line(a, Status::Ok, pool, "nothing to do"));
  if (c.can_allocate == Known::Yes) {
    out->push_back(line(a, Status::Ok, "p2pmem/allocate opens read-write for uid " + std::to_string(uid),
                        "nothing to do"));
  } else {
    std::string why = c.allocate_errno ? std::string(" (") + strerror(c.allocate_errno) + ")" : "";
    out->push_back(line(a, fail, "p2pmem/allocate does not open read-write for uid " + std::to_string(uid) + why,
                        std::string("run as root, or ") + kUdevRuleHint));
  }
}

std::vector<Line> controller_lines(const std::vector<ControllerFacts>& cs, uid_t uid) {
  std::vector<Line> out;
  if (cs.empty()) {
    out.push_back(line("nvme", Status::Fail, "no NVMe controllers found",
                       "cmbmap serves files on NVMe namespaces whose controller has a CMB: install such a drive"));
    return out;
  }
  bool any_ready = false;
  for (const ControllerFacts& c : cs) any_ready |= controller_ready(c);
  // One drive that serves is enough: the others only warn that they will not.
  for (const ControllerFacts& c : cs) one_controller(c, uid, any_ready ? Status::Warn : Status::Fail, &out);
  return out;
}

std::vector<Line> sysctl_lines(const SysctlFacts& s) {
  std::vector<Line> out;
  if (s.leases_enable < 0)
    out.push_back(line("leases", Status::Unknown, "fs.leases-enable unreadable",
                       "cmbmap serves no file without a lease: make sure `sysctl fs.leases-enable` is 1"));
  else if (s.leases_enable == 0)
    out.push_back(line("leases", Status::Fail, "fs.leases-enable is 0: no file can be leased, so nothing is served",
                       "sysctl -w fs.leases-enable=1 (and set it in /etc/sysctl.d/)"));
  else
    out.push_back(line("leases", Status::Ok, "fs.leases-enable is 1", "nothing to do"));

  if (s.lease_break_time < 0)
    out.push_back(line("leases", Status::Unknown, "fs.lease-break-time unreadable",
                       "check `sysctl fs.lease-break-time` is at least 1"));
  else if (s.lease_break_time == 0)
    out.push_back(line("leases", Status::Fail,
                       "fs.lease-break-time is 0: a writer goes ahead after one tick, before cmbmap has given "
                       "the file's ranges back",
                       "sysctl -w fs.lease-break-time=45 (the default)"));
  else
    out.push_back(line("leases", Status::Ok,
                       "fs.lease-break-time is " + std::to_string(s.lease_break_time) +
                           " s (the longest a writer waits; cmbmap gives ranges back within milliseconds)",
                       "nothing to do"));

  const std::string raise = "sysctl -w vm.max_map_count=" + std::to_string(kMapCountDefault) + " or more";
  if (s.max_map_count < 0)
    out.push_back(line("vm", Status::Unknown, "vm.max_map_count unreadable", "check `sysctl vm.max_map_count`"));
  else if (s.max_map_count < kMapCountLow)
    out.push_back(line("vm", Status::Fail,
                       "vm.max_map_count is " + std::to_string(s.max_map_count) +
                           ": too few map entries to serve (each served run takes up to two)",
                       raise));
  else if (s.max_map_count < kMapCountDefault)
    out.push_back(line("vm", Status::Warn,
                       "vm.max_map_count is " + std::to_string(s.max_map_count) +
                           ", below the default: programs with many mappings stay ordinary (MAP_COUNT) sooner",
                       raise));
  else
    out.push_back(line("vm", Status::Ok, "vm.max_map_count is " + std::to_string(s.max_map_count), "nothing to do"));
  return out;
}

int exit_status(const std::vector<Line>& lines) {
  for (const Line& l : lines)
    if (l.status == Status::Fail) return 1;
  return 0;
}

}  // namespace cmbmap::cli::check
