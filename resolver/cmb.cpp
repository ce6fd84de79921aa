// CMB register decoding and p2pmem attribute reading (see cmb.h).
#include "resolver/cmb.h"

#include <sys/mman.h>
#include <unistd.h>

#include "prim/prim.h"
#include "prim/text.h"

namespace cmbmap {

CmbInfo decode_cmb(uint32_t cmbloc, uint32_t cmbsz) {
  CmbInfo c{};
  if (cmbsz == 0) return c;
  uint32_t szu = (cmbsz >> 8) & 0xf;
  uint32_t sz = (cmbsz >> 12) & 0xfffff;
  if (szu > 6) return c;  // reserved size unit: treat as no usable CMB
  uint64_t unit = 1ULL << (12 + 4 * szu);
  c.present = true;
  c.size = unit * sz;
  c.bar = cmbloc & 0x7;
  c.offset = unit * (cmbloc >> 12);
  c.sqs = cmbsz & 1;
  c.cqs = cmbsz & 2;
  c.lists = cmbsz & 4;
  c.rds = cmbsz & 8;
  c.wds = cmbsz & 16;
  return c;
}

static bool read_u64_attr(const char* dir, const char* name, uint64_t* v) {
  char path[kPathMax], buf[64];
  if (!text::join(path, sizeof path, dir, name)) return false;
  if (prim::read_text(path, buf, sizeof buf) < 0) return false;
  return text::parse_u64(buf, v);
}

CmbInfo read_cmb(const char* ctrl_dir) {
  uint64_t loc, sz;
  if (!read_u64_attr(ctrl_dir, "cmbloc", &loc) || !read_u64_attr(ctrl_dir, "cmbsz", &sz))
    return CmbInfo{};
  return decode_cmb((uint32_t)loc, (uint32_t)sz);
}

P2pmemInfo read_p2pmem(const char* pci_dir) {
  P2pmemInfo p{};
  char dir[kPathMax];
  if (!text::join(dir, sizeof dir, pci_dir, "p2pmem")) return p;
  uint64_t size, avail, pub;
  if (!read_u64_attr(dir, "size", &size)) return p;
  p.present = true;
  p.size = size;
  p.available = read_u64_attr(dir, "available", &avail) ? avail : 0;
  p.published = read_u64_attr(dir, "published", &pub) && pub != 0;
  return p;
}

bool read_cmb_registers(const char* pci_dir, uint32_t* cmbloc, uint32_t* cmbsz) {
  char path[kPathMax];
  if (!text::join(path, sizeof path, pci_dir, "resource0")) return false;
  int fd = prim::open_read(path);
  if (fd < 0) return false;
  // NVMe register map: CMBLOC at 0x38, CMBSZ at 0x3c (32-bit MMIO reads).
  void* p = prim::map(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
  prim::close_fd(fd);
  if (p == MAP_FAILED) return false;
  auto* regs = static_cast<volatile uint32_t*>(p);
  *cmbloc = regs[0x38 / 4];
  *cmbsz = regs[0x3c / 4];
  prim::unmap(p, 4096);
  return true;
}

bool kernel_has_p2pdma() {
  int fd = prim::open_read("/proc/kallsyms");
  if (fd < 0) return false;
  static const char kNeedle[] = " pci_p2pdma_add_resource\n";
  const size_t need = sizeof kNeedle - 1;
  char buf[65536 + 64];
  size_t keep = 0;
  bool found = false;
  for (;;) {
    long n = prim::read_fd(fd, buf + keep, sizeof buf - keep - 1);
    if (n <= 0) break;
    size_t len = keep + (size_t)n;
    buf[len] = '\0';
    for (size_t i = 0; i + need <= len && !found; ++i)
      if (buf[i] == ' ' && !__builtin_memcmp(buf + i, kNeedle, need)) found = true;
    if (found) break;
    // Keep the tail in case the name straddles two reads.
    keep = len < need ? len : need;
    __builtin_memmove(buf, buf + len - keep, keep);
  }
  prim::close_fd(fd);
  return found;
}

int cmb_reason(const CmbInfo& cmb, const P2pmemInfo& p2p) {
  if (!cmb.present || cmb.size == 0) return CMBMAP_NO_CMB;
  // nvme-pci publishes a CMB as p2pmem only with both RDS and WDS: without
  // them the controller may not take read data into it.
  if (!cmb.rds || !cmb.wds) return CMBMAP_CMB_NO_READ_DATA;
  if (!p2p.present || !p2p.published) return CMBMAP_NO_P2PDMA;
  return CMBMAP_ELIGIBLE;
}

}  // namespace cmbmap
