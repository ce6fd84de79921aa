// `cmbmap devices [--json]`: NVMe controllers (libnvme's topology scan), each
// with its CMB (decoded from sysfs), its p2pmem pool and, when it cannot
// serve, the reason.
#include <cstdio>
#include <unistd.h>
#include <cstring>
#include <libnvme.h>
#include <string>
#include <vector>

#include "resolver/device.h"
#include "tools/cli/cli.h"
#include "tools/cli/hidden_cmb.h"
#include "tools/cli/target_json.h"

namespace cmbmap::cli {
namespace {

struct Namespace {
  std::string name, generic;
  uint32_t nsid;
  uint32_t lba_size;
};

struct Controller {
  std::string name, model, serial, transport, sysfs;
  std::string cmb_source = "sysfs";  // sysfs, registers or kernel-log
  std::string note;
  NvmeTarget target;
  std::vector<Namespace> namespaces;
};

const char* or_empty(const char* s) { return s ? s : ""; }

// Whether this user may open the controller's p2pmem allocator (mode 0660).
bool can_allocate(const NvmeTarget& t) {
  return access((std::string(t.pci_path) + "/p2pmem/allocate").c_str(), R_OK | W_OK) == 0;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.pop_back();
  return s;
}

void add_ns(Controller& c, nvme_ns_t n) {
  for (const Namespace& have : c.namespaces)
    if (have.name == or_empty(nvme_ns_get_name(n))) return;
  c.namespaces.push_back(Namespace{or_empty(nvme_ns_get_name(n)), or_empty(nvme_ns_get_generic_name(n)),
                                   (uint32_t)nvme_ns_get_nsid(n), (uint32_t)nvme_ns_get_lba_size(n)});
}

std::vector<Controller> scan() {
  std::vector<Controller> out;
  nvme_root_t r = nvme_create_root(nullptr, LOG_ERR);
  if (!r) return out;
  nvme_scan_topology(r, nullptr, nullptr);
  nvme_host_t h;
  nvme_subsystem_t s;
  nvme_ctrl_t c;
  nvme_ns_t n;
  nvme_for_each_host(r, h) {
    nvme_for_each_subsystem(h, s) {
      nvme_subsystem_for_each_ctrl(s, c) {
        Controller ctl;
        ctl.name = or_empty(nvme_ctrl_get_name(c));
        ctl.model = trim(or_empty(nvme_ctrl_get_model(c)));
        ctl.serial = trim(or_empty(nvme_ctrl_get_serial(c)));
        ctl.transport = or_empty(nvme_ctrl_get_transport(c));
        ctl.sysfs = or_empty(nvme_ctrl_get_sysfs_dir(c));
        ctl.target = NvmeTarget{};
        resolve_controller(ctl.sysfs.c_str(), &ctl.target);
        HiddenCmb h = find_hidden_cmb(&ctl.target);
        ctl.cmb_source = h.source;
        ctl.note = h.note;
        nvme_ctrl_for_each_ns(c, n) add_ns(ctl, n);
        // With native multipath the block devices hang off the subsystem.
        if (ctl.namespaces.empty()) nvme_subsystem_for_each_ns(s, n) add_ns(ctl, n);
        out.push_back(ctl);
      }
    }
  }
  nvme_free_tree(r);
  return out;
}

void print_text(const std::vector<Controller>& cs) {
  if (cs.empty()) { printf("no NVMe controllers found\n"); return; }
  for (const Controller& c : cs) {
    const NvmeTarget& t = c.target;
    printf("%s  %s  %s (serial %s, %s)\n", c.name.c_str(), t.pci[0] ? t.pci : "-", c.model.c_str(),
           c.serial.c_str(), c.transport.c_str());
    if (t.cmb.present && t.cmb.size)
      printf("  cmb     %s (%llu bytes) in BAR %u at offset %llu, %s%s\n", human_size(t.cmb.size).c_str(),
             (unsigned long long)t.cmb.size, t.cmb.bar, (unsigned long long)t.cmb.offset,
             cmb_flags_text(t.cmb).c_str(), c.cmb_source == "registers" ? " (read from registers)" : "");
    else if (t.cmb.present)
      printf("  cmb     present, size unknown (the kernel could not register it and hides its registers)\n");
    else
      printf("  cmb     none\n");
    if (t.p2pmem.present)
      printf("  p2pmem  size %llu, available %llu (in use %llu), %s, %s\n", (unsigned long long)t.p2pmem.size,
             (unsigned long long)t.p2pmem.available, (unsigned long long)(t.p2pmem.size - t.p2pmem.available),
             t.p2pmem.published ? "published" : "not published",
             can_allocate(t) ? "you may allocate" : "you may NOT allocate (see README: Permissions)");
    else
      printf("  p2pmem  none (kernel without CONFIG_PCI_P2PDMA, or no usable CMB)\n");
    for (const Namespace& n : c.namespaces)
      printf("  ns %u    /dev/%s (generic /dev/%s), LBA %u bytes\n", n.nsid, n.name.c_str(),
             n.generic.empty() ? "-" : n.generic.c_str(), n.lba_size);
    printf("  serves  %s\n", t.reason == CMBMAP_ELIGIBLE ? "yes" : cmbmap_reason_name(t.reason));
    if (!c.note.empty()) printf("  note    %s\n", c.note.c_str());
  }
}

void print_json(const std::vector<Controller>& cs) {
  Json j;
  j.begin_object().begin_array("controllers");
  for (const Controller& c : cs) {
    const NvmeTarget& t = c.target;
    j.begin_object().str("name", c.name).str("pci", t.pci).str("model", c.model).str("serial", c.serial)
        .str("transport", c.transport);
    cmb_json(j, t.cmb);
    j.str("cmb_source", c.cmb_source);
    p2pmem_json(j, t.p2pmem);
    if (t.p2pmem.present) j.num("cmb_in_use", t.p2pmem.size - t.p2pmem.available).boolean("can_allocate", can_allocate(t));
    j.begin_array("namespaces");
    for (const Namespace& n : c.namespaces) {
      j.begin_object().str("name", n.name).num("nsid", n.nsid).num("lba_size", n.lba_size)
          .str("block_device", "/dev/" + n.name);
      if (n.generic.empty()) j.null("char_device"); else j.str("char_device", "/dev/" + n.generic);
      j.end_object();
    }
    j.end_array().boolean("usable", t.reason == CMBMAP_ELIGIBLE).str("reason", cmbmap_reason_name(t.reason));
    j.end_object();
  }
  j.end_array().end_object();
  printf("%s\n", j.text().c_str());
}

}  // namespace

int cmd_devices(int argc, char** argv) {
  bool json = false;
  for (int i = 0; i < argc; ++i) {
    if (is_help(argv[i])) {
      printf("usage: cmbmap devices [--json]\n"
             "  Lists NVMe controllers with their CMB (size, BAR, capability bits), p2pmem pool,\n"
             "  namespaces, and whether cmbmap can serve from them (else the reason).\n");
      return kExitOk;
    }
    if (!strcmp(argv[i], "--json")) json = true;
    else return fail(kExitUsage, argv[i], "unknown option");
  }
  std::vector<Controller> cs = scan();
  if (json) print_json(cs); else print_text(cs);
  return kExitOk;
}

}  // namespace cmbmap::cli
