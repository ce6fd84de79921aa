// sysfs walk from a block device to its NVMe controller's CMB (see device.h).
// Only fixed buffers and raw syscalls: this runs inside the preloaded library.
#include "resolver/device.h"

#include <sys/sysmacros.h>

#include "resolver/cmb.h"
#include "prim/prim.h"
#include "prim/text.h"

namespace cmbmap {

void normalize_path(char* path) {
  // Walk components, writing the kept ones back; ".." drops the previous one.
  char* out = path;
  const char* in = path;
  bool absolute = *in == '/';
  if (absolute) { *out++ = '/'; ++in; }
  char* base = out;
  while (*in) {
    const char* end = in;
    while (*end && *end != '/') ++end;
    // Known before the copy: with nothing dropped yet, out == in and the '/'
    // written after the last component lands on the terminator (the final
    // *out = '\0' puts it back).
    const bool last = *end == '\0';
    size_t n = (size_t)(end - in);
    if (n == 0 || (n == 1 && in[0] == '.')) {
      // skip
    } else if (n == 2 && in[0] == '.' && in[1] == '.') {
      if (out > base) {
        --out;  // drop trailing '/'
        while (out > base && out[-1] != '/') --out;
      }
    } else {
      for (size_t i = 0; i < n; ++i) *out++ = in[i];
      *out++ = '/';
    }
    if (last) break;
    in = end + 1;
  }
  if (out > base && out[-1] == '/') --out;
  *out = '\0';
}

// dst = dirname(link_path) + "/" + target-of(link_path), normalised.
static bool follow_link(const char* link_path, char* dst, size_t cap) {
  char target[kPathMax];
  if (prim::readlink_at(link_path, target, sizeof target) < 0) return false;
  if (target[0] == '/') {
    text::copy(dst, cap, target);
  } else {
    char dir[kPathMax];
    text::copy(dir, sizeof dir, link_path);
    char* slash = nullptr;
    for (char* p = dir; *p; ++p) if (*p == '/') slash = p;
    if (slash) *slash = '\0';
    if (!text::join(dst, cap, dir, target)) return false;
  }
  normalize_path(dst);
  return true;
}

static void parent_dir(char* path) {
  char* slash = nullptr;
  for (char* p = path; *p; ++p) if (*p == '/') slash = p;
  if (slash && slash != path) *slash = '\0';
}

static bool read_u64(const char* dir, const char* name, uint64_t* v) {
  char path[kPathMax], buf[64];
  return text::join(path, sizeof path, dir, name) && prim::read_text(path, buf, sizeof buf) >= 0 &&
         text::parse_u64(buf, v);
}

static bool has(const char* dir, const char* name) {
  char path[kPathMax];
  return text::join(path, sizeof path, dir, name) && prim::exists(path);
}

static bool starts_with(const char* s, const char* prefix) {
  while (*prefix) if (*s++ != *prefix++) return false;
  return true;
}

void resolve_controller(const char* ctrl_arg, NvmeTarget* t) {
  // /sys/class/nvme/nvme0 is itself a symlink: relative links inside it
  // ("device") only resolve from the real directory it points to.
  char ctrl_dir[kPathMax];
  if (!follow_link(ctrl_arg, ctrl_dir, sizeof ctrl_dir)) text::copy(ctrl_dir, sizeof ctrl_dir, ctrl_arg);
  text::copy(t->controller, sizeof t->controller, text::basename(ctrl_dir));
  char link[kPathMax];
  if (text::join(link, sizeof link, ctrl_dir, "device") &&
      follow_link(link, t->pci_path, sizeof t->pci_path)) {
    text::copy(t->pci, sizeof t->pci, text::basename(t->pci_path));
  }
  t->cmb = read_cmb(ctrl_dir);
  t->p2pmem = t->pci_path[0] ? read_p2pmem(t->pci_path) : P2pmemInfo{};
  t->reason = cmb_reason(t->cmb, t->p2pmem);
}

// Native NVMe multipath: the visible namespace lives under nvme-subsystem and
// lists its per-controller paths (nvmeXcYnZ) in multipath/. One path → use
// its controller; several → the blocks are reachable through several
// controllers, which one plan cannot express.
struct PathScan { char first[kNameMax]; int count; };
static bool count_path(const char* name, void* ctx) {
  auto* s = static_cast<PathScan*>(ctx);
  if (s->count++ == 0) text::copy(s->first, sizeof s->first, name);
  return true;
}

static bool controller_of_namespace(const char* ns_dir, char* ctrl_dir, size_t cap, int* reason) {
  char mp[kPathMax];
  if (text::join(mp, sizeof mp, ns_dir, "multipath") && prim::exists(mp)) {
    PathScan scan{};
    prim::list_dir(mp, count_path, &scan);
    if (scan.count != 1) { *reason = CMBMAP_MULTI_DEVICE; return false; }
    char link[kPathMax];
    if (!text::join(link, sizeof link, mp, scan.first) || !follow_link(link, ctrl_dir, cap))
      return false;
    parent_dir(ctrl_dir);  // .../nvme0/nvme0c0n1 → .../nvme0
    return true;
  }
  text::copy(ctrl_dir, cap, ns_dir);
  parent_dir(ctrl_dir);
  return starts_with(text::basename(ctrl_dir), "nvme");
}

// root/dev/block/MAJ:MIN resolved: the block device's sysfs dir.
static bool block_dir(const char* root, dev_t dev, char* blk, size_t cap) {
  if (major(dev) == 0) return false;  // anonymous device: tmpfs, overlay, btrfs subvolume...
  char num[32], dir[kPathMax], link[kPathMax];
  // "MAJ:MIN" without snprintf (not async-signal-safe).
  char* p = num + sizeof num;
  *--p = '\0';
  unsigned mi = minor(dev), ma = major(dev);
  do { *--p = (char)('0' + mi % 10); mi /= 10; } while (mi);
  *--p = ':';
  do { *--p = (char)('0' + ma % 10); ma /= 10; } while (ma);
  return text::join(dir, sizeof dir, root, "dev/block") && text::join(link, sizeof link, dir, p) &&
         follow_link(link, blk, cap);
}

bool block_device_name(const char* root, dev_t dev, char* name, size_t cap) {
  char blk[kPathMax];
  if (!block_dir(root, dev, blk, sizeof blk)) return false;
  text::copy(name, cap, text::basename(blk));
  return name[0] != '\0';
}

void resolve_block_device(const char* root, dev_t dev, NvmeTarget* t) {
  *t = NvmeTarget{};
  t->reason = CMBMAP_NO_NVME;
  char blk[kPathMax];
  if (!block_dir(root, dev, blk, sizeof blk)) return;

  // Stacked devices (device-mapper, md): blocks may sit on several devices.
  if (has(blk, "dm") || has(blk, "md")) { t->reason = CMBMAP_MULTI_DEVICE; return; }

  // Every LBA cmbmap reads or writes is computed from the partition start,
  // the LBA size and the namespace id: a value the kernel would never give
  // (past 32 bits, an LBA size that is no power of two from 512 bytes to
  // 64 KiB or none, a start that overflows or splits an LBA) leaves the
  // device unused rather than guessed at (NO_NVME).
  char ns_dir[kPathMax];
  text::copy(ns_dir, sizeof ns_dir, blk);
  uint64_t start;
  if (has(blk, "partition")) {
    // sysfs "start" is in 512-byte sectors.
    if (!read_u64(blk, "start", &start) || start > UINT64_MAX / 512) return;
    t->partition_start = start * 512;
    parent_dir(ns_dir);
  }
  const char* ns_name = text::basename(ns_dir);
  if (!starts_with(ns_name, "nvme")) return;
  text::copy(t->namespace_name, sizeof t->namespace_name, ns_name);

  uint64_t v;
  if (read_u64(ns_dir, "nsid", &v)) {
    if (v >= 0xffffffffu) return;  // 0xffffffff is every namespace, not one
    t->nsid = (uint32_t)v;
  }
  char q[kPathMax];
  if (!text::join(q, sizeof q, ns_dir, "queue") || !read_u64(q, "logical_block_size", &v) || v < 512 ||
      v > 65536 || (v & (v - 1)))
    return;
  t->lba_size = (uint32_t)v;
  if (t->partition_start % t->lba_size) return;

  char ctrl_dir[kPathMax];
  int reason = CMBMAP_NO_NVME;
  if (!controller_of_namespace(ns_dir, ctrl_dir, sizeof ctrl_dir, &reason)) {
    t->reason = reason;
    return;
  }
  resolve_controller(ctrl_dir, t);
}

}  // namespace cmbmap
