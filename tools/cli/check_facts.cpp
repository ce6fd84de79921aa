// Reading the machine for `cmbmap check` (see check_facts.h).
#include "tools/cli/check_facts.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resolver/device.h"
#include "tools/cli/hidden_cmb.h"

namespace cmbmap::cli::check {
namespace {

bool read_all(int fd, std::string* out) {
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out->append(buf, (size_t)n);
  return n == 0;
}

bool read_file(const std::string& path, std::string* out) {
  out->clear();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = read_all(fd, out);
  close(fd);
  return ok;
}

long long read_number(const std::string& path) {
  std::string s;
  if (!read_file(path, &s) || s.empty()) return -1;
  char* end;
  long long v = strtoll(s.c_str(), &end, 0);
  return end == s.c_str() ? -1 : v;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// /proc/config.gz through gzip (no zlib dependency for one small file).
bool read_gzip(const std::string& path, std::string* out) {
  int in = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return false;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) { close(in); return false; }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in, 0);
    dup2(p[1], 1);
    execlp("gzip", "gzip", "-dc", (char*)nullptr);
    _exit(127);
  }
  close(in);
  close(p[1]);
  out->clear();
  bool ok = pid > 0 && read_all(p[0], out);
  close(p[0]);
  int status = 0;
  if (pid > 0) waitpid(pid, &status, 0);
  return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

KernelFacts read_kernel(const Roots& r) {
  KernelFacts k;
  std::string s;
  if (read_file(r.proc + "/sys/kernel/osrelease", &s)) k.release = first_line(s);
  std::string config;
  if (read_gzip(r.proc + "/config.gz", &config)) {
    k.config_source = "/proc/config.gz";
  } else if (!k.release.empty() && read_file(r.boot + "/config-" + k.release, &config)) {
    k.config_source = "/boot/config-" + k.release;
  } else {
    return k;
  }
  k.p2pdma = p2pdma_from_config(config);
  return k;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (!d) return names;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

ControllerFacts read_controller(const Roots& r, const std::string& name, NvmeTarget* t) {
  *t = NvmeTarget{};
  resolve_controller((r.sysfs + "/class/nvme/" + name).c_str(), t);
  // Only the real machine has registers and a kernel log to ask.
  if (r.sysfs == "/sys") find_hidden_cmb(t);
  ControllerFacts c;
  c.name = name;
  c.pci = t->pci;
  c.cmb = t->cmb;
  c.p2pmem = t->p2pmem;
  if (c.p2pmem.present) {
    int fd = open((std::string(t->pci_path) + "/p2pmem/allocate").c_str(), O_RDWR | O_CLOEXEC);
    c.can_allocate = fd >= 0 ? Known::Yes : Known::No;
    c.allocate_errno = fd >= 0 ? 0 : errno;
    if (fd >= 0) close(fd);
  }
  return c;
}

bool is_bdf(const std::string& s) {
  unsigned dom, bus, dev, fn;
  char tail;
  return sscanf(s.c_str(), "%4x:%2x:%2x.%1x%c", &dom, &bus, &dev, &fn, &tail) == 4;
}

uint16_t le16(const std::string& b, size_t off) {
  return (uint16_t)((unsigned char)b[off] | (unsigned char)b[off + 1] << 8);
}

std::string iommu_type(const std::string& dir) {
  char group[PATH_MAX];
  if (!realpath((dir + "/iommu_group").c_str(), group)) return "";
  std::string s;
  return read_file(std::string(group) + "/type", &s) ? first_line(s) : "?";
}

bool amd_zen(const Roots& r) {
  std::string s;
  if (!read_file(r.proc + "/cpuinfo", &s) || s.find("AuthenticAMD") == std::string::npos) return false;
  size_t at = s.find("cpu family");
  if (at == std::string::npos) return false;
  at = s.find(':', at);
  return at != std::string::npos && atoi(s.c_str() + at + 1) >= 0x17;
}

}  // namespace

Known p2pdma_from_config(const std::string& config) {
  if (config.find("\nCONFIG_PCI_P2PDMA=y") != std::string::npos || config.rfind("CONFIG_PCI_P2PDMA=y", 0) == 0)
    return Known::Yes;
  return Known::No;  // "# ... is not set", or absent: the option is off either way
}

Acs acs_from_config(const std::string& b) {
  if (b.size() <= 64) return Acs::Unknown;      // a non-root reader sees only the header
  if (b.size() <= 256) return Acs::NotCapable;  // conventional PCI: no extended capabilities
  constexpr unsigned kAcsId = 0x000d, kRedirect = 0x0004 | 0x0008 | 0x0020;  // RR, CR, EC
  size_t off = 0x100;
  for (int guard = 0; guard < 64 && off >= 0x100 && off + 8 <= b.size(); ++guard) {
    uint32_t head = le16(b, off) | (uint32_t)le16(b, off + 2) << 16;
    if (head == 0 || head == 0xffffffff) break;
    if ((head & 0xffff) == kAcsId) return le16(b, off + 6) & kRedirect ? Acs::Redirect : Acs::Clear;
    off = (head >> 20) & 0xffc;
  }
  return Acs::NotCapable;
}

PciPlace read_place(const std::string& dir) {
  PciPlace p;
  p.bdf = dir.substr(dir.rfind('/') + 1);
  char real[PATH_MAX];
  if (!realpath(dir.c_str(), real)) return p;
  std::string path = real;
  size_t at = path.find("/devices/pci");
  if (at == std::string::npos) return p;
  p.found = true;
  std::string rest = path.substr(at + strlen("/devices/"));
  std::string base = path.substr(0, at) + "/devices/";
  size_t slash = rest.find('/');
  p.host_bridge = rest.substr(0, slash);
  std::string walk = base + p.host_bridge;
  while (slash != std::string::npos) {
    size_t next = rest.find('/', slash + 1);
    std::string part = rest.substr(slash + 1, next == std::string::npos ? std::string::npos : next - slash - 1);
    slash = next;
    walk += "/" + part;
    if (!is_bdf(part)) continue;
    std::string config;
    PciHop hop{part, read_file(walk + "/config", &config) ? acs_from_config(config) : Acs::Unknown};
    p.chain.push_back(hop);
  }
  if (!p.chain.empty()) p.bdf = p.chain.back().bdf;
  // The host bridge's own function: 00.0 on the root bus ("pci0000:00" → "0000:00:00.0").
  std::string root = base + p.host_bridge + "/" + p.host_bridge.substr(3) + ":00.0";
  long long vendor = read_number(root + "/vendor"), device = read_number(root + "/device");
  p.root_known = vendor >= 0 && device >= 0;
  p.root_vendor = (uint16_t)vendor;
  p.root_device = (uint16_t)device;
  p.iommu_type = iommu_type(path);
  return p;
}

Machine read_machine(const Roots& r, const std::vector<std::string>& peer_bdfs) {
  Machine m;
  m.uid = getuid();
  for (const std::string& name : list_dir(r.sysfs + "/class/nvme")) {
    NvmeTarget t;
    m.controllers.push_back(read_controller(r, name, &t));
    m.controller_places.push_back(t.pci_path[0] ? read_place(t.pci_path) : PciPlace{});
  }
  m.kernel = read_kernel(r);
  m.sysctl.leases_enable = read_number(r.proc + "/sys/fs/leases-enable");
  m.sysctl.lease_break_time = read_number(r.proc + "/sys/fs/lease-break-time");
  m.sysctl.max_map_count = read_number(r.proc + "/sys/vm/max_map_count");
  for (const std::string& bdf : peer_bdfs) {
    PciPlace p = read_place(r.sysfs + "/bus/pci/devices/" + bdf);
    p.bdf = bdf;
    m.peers.push_back(p);
  }
  m.amd_zen = amd_zen(r);
  return m;
}

}  // namespace cmbmap::cli::check
