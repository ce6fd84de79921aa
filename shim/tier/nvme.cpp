// NVMe passthrough commands (see nvme.h).
#include "shim/tier/nvme.h"

#include <linux/nvme_ioctl.h>

#include "prim/prim.h"
#include "prim/text.h"
#include "shim/tier/io_cache.h"

namespace cmbmap::nvme {
namespace {

constexpr size_t kMaxChunk = 512 << 10;  // QEMU's MDTS; real drives say theirs in sysfs
constexpr uint8_t kFlush = 0x00, kWrite = 0x01, kRead = 0x02;

// "/dev/ngXnY" for namespace "nvmeXnY": the generic char device.
bool generic_device(const NvmeTarget& t, char* out, size_t cap) {
  const char* ns = t.namespace_name;
  if (ns[0] != 'n' || ns[1] != 'v' || ns[2] != 'm' || ns[3] != 'e') return false;
  char name[kNameMax] = "ng";
  text::copy(name + 2, sizeof name - 2, ns + 4);
  return text::join(out, cap, "/dev", name);
}

// Largest transfer one command may carry (MDTS), from sysfs.
size_t max_transfer(const NvmeTarget& t) {
  char path[kPathMax], buf[32];
  uint64_t kb = 0;
  if (text::join(path, sizeof path, "/sys/block", t.namespace_name) &&
      text::join(path, sizeof path, path, "queue/max_hw_sectors_kb") &&
      prim::read_text(path, buf, sizeof buf) > 0 && text::parse_u64(buf, &kb) && kb)
    return kb * 1024 < kMaxChunk ? kb * 1024 : kMaxChunk;
  return 128 << 10;
}

struct Cmd { uint8_t* buf; uint64_t lba; uint32_t blocks; };

// The namespace's char device and the command ring, or -1 (no access, no
// generic device, io_uring disabled).
int open_device(const NvmeTarget& t, io_uring** ring) {
  char dev[kPathMax];
  int fd = t.nsid && generic_device(t, dev, sizeof dev) ? io_cache::device(dev) : -1;
  *ring = fd >= 0 ? io_cache::ring(io_cache::RingKind::NvmeCommands) : nullptr;
  return *ring ? fd : -1;
}

void prep(io_uring_sqe* sqe, int fd, const NvmeTarget& t, uint8_t opcode, const Cmd& cmd, uint64_t lba) {
  io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, nullptr, 0, 0);
  sqe->cmd_op = NVME_URING_CMD_IO;
  auto* c = reinterpret_cast<nvme_uring_cmd*>(sqe->cmd);
  *c = nvme_uring_cmd{};
  c->opcode = opcode;
  c->nsid = t.nsid;
  if (cmd.blocks) {
    c->addr = (uint64_t)(uintptr_t)cmd.buf;
    c->data_len = (uint32_t)(cmd.blocks * lba);
    c->cdw10 = (uint32_t)cmd.lba;
    c->cdw11 = (uint32_t)(cmd.lba >> 32);
    c->cdw12 = cmd.blocks - 1;  // 0's based block count
  }
}

// Splits the file bytes [off, off+want) into commands on the segments'
// blocks: the count, or -E2BIG / -ERANGE (the segments miss a block).
long plan_commands(const NvmeTarget& t, const Segment* segs, size_t nsegs, uint8_t* buf, uint64_t off,
                   size_t want, Cmd* cmds, size_t cap) {
  const uint64_t lba = t.lba_size ? t.lba_size : 512;
  const size_t chunk = max_transfer(t) / lba * lba;
  const uint64_t end = off + want;
  size_t ncmd = 0;
  uint64_t covered = 0;
  for (size_t i = 0; i < nsegs; ++i) {
    const Segment& g = segs[i];
    const uint64_t a = g.offset > off ? g.offset : off;
    const uint64_t b = g.offset + g.length < end ? g.offset + g.length : end;
    if (a >= b) continue;
    const uint64_t bytes = (b - a + lba - 1) / lba * lba;
    covered += b - a;
    for (uint64_t at = 0; at < bytes; at += chunk) {
      if (ncmd == cap) return -E2BIG;
      uint64_t n = bytes - at < chunk ? bytes - at : chunk;
      cmds[ncmd++] = Cmd{buf + (a - off) + at, (g.physical + (a - g.offset) + t.partition_start + at) / lba,
                         (uint32_t)(n / lba)};
    }
  }
  // The segments must name every block (the last one may end inside its
  // final LBA: that is the file's end, and the LBA is the file's).
  if (covered + lba <= want) return -ERANGE;
  return (long)ncmd;
}

int run(int fd, io_uring* ring, const NvmeTarget& t, const Cmd* cmds, size_t ncmd, uint8_t opcode) {
  const uint64_t lba = t.lba_size ? t.lba_size : 512;
  bool clean = true;
  int err = io_cache::drive(
      ring, ncmd, [&](io_uring_sqe* sqe, size_t i) { prep(sqe, fd, t, opcode, cmds[i], lba); },
      [](uint64_t, int res) { return res < 0 ? -res : res > 0 ? EIO : 0; }, &clean);
  if (!clean) io_cache::drop_ring(io_cache::RingKind::NvmeCommands);
  return err;
}

int transfer(const NvmeTarget& t, const Segment* segs, size_t nsegs, uint8_t* buf, uint64_t off, size_t len,
             uint8_t opcode) {
  io_cache::Use use;
  io_uring* ring = nullptr;
  const int fd = open_device(t, &ring);
  if (fd < 0) return ENODEV;
  Cmd cmds[512];
  const long n = plan_commands(t, segs, nsegs, buf, off, len, cmds, sizeof cmds / sizeof cmds[0]);
  if (n < 0) return (int)-n;
  return run(fd, ring, t, cmds, (size_t)n, opcode);
}

}  // namespace

bool available(const NvmeTarget& t) {
  io_cache::Use use;
  io_uring* ring = nullptr;
  return open_device(t, &ring) >= 0;
}

int read_blocks(const NvmeTarget& t, const Segment* segs, size_t nsegs, void* dst, uint64_t off, size_t len) {
  prim::KeepErrno keep;  // liburing's helpers may set it
  return transfer(t, segs, nsegs, static_cast<uint8_t*>(dst), off, len, kRead);
}

int write_blocks(const NvmeTarget& t, const Segment* segs, size_t nsegs, const void* src, uint64_t off,
                 size_t len) {
  prim::KeepErrno keep;
  return transfer(t, segs, nsegs, (uint8_t*)src, off, len, kWrite);
}

int flush(const NvmeTarget& t) {
  prim::KeepErrno keep;
  io_cache::Use use;
  io_uring* ring = nullptr;
  const int fd = open_device(t, &ring);
  if (fd < 0) return ENODEV;
  const Cmd none{};
  return run(fd, ring, t, &none, 1, kFlush);
}

}  // namespace cmbmap::nvme
