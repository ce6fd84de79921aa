// Fill engines (see fill.h). One file, because the three engines share the
// framing: pick the fd to read through, count what arrived, refuse a short fill, zero
// the tail past EOF.
#include "fill.h"

#include <cerrno>
#include <fcntl.h>
#include <liburing.h>
#include <linux/nvme_ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../resolver/prim.h"
#include "../../resolver/text.h"
#include "openfiles.h"

namespace cmbmap::fill {
namespace {

constexpr size_t kChunk = 512 << 10;  // one request per chunk (QEMU's MDTS is 512 KiB)
constexpr unsigned kDepth = 8;        // io_uring requests in flight

// Rings and passthrough devices live for the process: setting them up costs
// more than a 1 MiB read under emulation. Fills run one at a time (under
// serial's lock). Their fds go above the program's (kOwnFdFloor).
int move_high(int fd) {
  int hi = openfiles::dup_above_floor(fd);
  if (hi < 0) return fd;
  syscall(SYS_close, fd);
  return hi;
}

struct CachedDevice {
  char path[kPathMax];
  int fd;
};
CachedDevice g_devices[4];
unsigned g_device_next;
int g_cached_fds;  // rings and devices open (read without the lock by the close hook)

struct CachedRing {
  io_uring ring;
  pid_t owner;  // a forked child must not use its parent's ring: it makes its own
};
CachedRing g_plain_ring, g_cmd_ring;

io_uring* cached_ring(CachedRing& c, unsigned flags) {
  const pid_t self = (pid_t)syscall(SYS_getpid);
  if (c.owner == self) return &c.ring;
  io_uring_params p{};
  p.flags = flags;
  if (io_uring_queue_init_params(kDepth, &c.ring, &p) < 0) return nullptr;
  c.ring.ring_fd = c.ring.enter_ring_fd = move_high(c.ring.ring_fd);
  c.owner = self;
  __atomic_fetch_add(&g_cached_fds, 1, __ATOMIC_RELAXED);
  return &c.ring;
}

void drop_ring(CachedRing& c) {
  io_uring_queue_exit(&c.ring);
  c.owner = 0;
  __atomic_fetch_sub(&g_cached_fds, 1, __ATOMIC_RELAXED);
}

void drop_device(CachedDevice& d) {
  syscall(SYS_close, d.fd);
  d.path[0] = '\0';
  __atomic_fetch_sub(&g_cached_fds, 1, __ATOMIC_RELAXED);
}


int cached_device(const char* path) {
  for (const CachedDevice& d : g_devices)
    if (d.path[0] && text::equal(d.path, path)) return d.fd;
  // Write commands need a writable open unless the caller has CAP_SYS_ADMIN.
  int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC);
  if (fd < 0) fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  CachedDevice& d = g_devices[g_device_next++ % 4];
  if (d.path[0]) drop_device(d);
  d.fd = move_high(fd);
  text::copy(d.path, sizeof d.path, path);
  __atomic_fetch_add(&g_cached_fds, 1, __ATOMIC_RELAXED);
  return d.fd;
}

// The fd to read the file through (see Source); *owned if the caller closes it.
int source_fd(const Source& s, bool* owned) {
  *owned = false;
  if (s.direct_fd >= 0) return s.direct_fd;
  if (s.no_reopen) return s.fd;
  char path[32];
  openfiles::proc_fd_path(s.fd, path);
  *owned = true;
  return (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_DIRECT | O_CLOEXEC);
}

void done_with(const Source& s, int fd, bool owned, uint64_t off, size_t len) {
  if (owned) syscall(SYS_close, fd);
  // Read through the page cache: leave it as it was (clean pages only go).
  if (fd == s.fd && s.no_reopen) syscall(SYS_fadvise64, fd, off, len, POSIX_FADV_DONTNEED);
}

}  // namespace

void zero(void* dst, size_t n) {
  auto* p = static_cast<volatile uint8_t*>(dst);
  while (n && ((uintptr_t)p & 7)) { *p++ = 0; --n; }
  auto* q = reinterpret_cast<volatile uint64_t*>(const_cast<uint8_t*>(p));
  for (; n >= 8; n -= 8) *q++ = 0;
  p = reinterpret_cast<volatile uint8_t*>(q);
  while (n--) *p++ = 0;
}

namespace {

// --- pread ---------------------------------------------------------------
int by_pread(const Source& s, uint8_t* dst, uint64_t off, size_t want) {
  bool owned;
  int dfd = source_fd(s, &owned);
  if (dfd < 0) return errno;
  size_t done = 0;
  int err = 0;
  while (done < want) {
    size_t n = want - done < kChunk ? want - done : kChunk;
    n = (n + 511) & ~size_t{511};  // O_DIRECT lengths are whole sectors; EOF cuts the read
    long got = syscall(SYS_pread64, dfd, dst + done, n, off + done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) { err = got < 0 ? errno : EIO; break; }
    done += (size_t)got;
    if ((size_t)got < n) break;
  }
  done_with(s, dfd, owned, off, want);
  return err ? err : done >= want ? 0 : EIO;
}

// --- io_uring reads --------------------------------------------------------
// Submits count requests made by prep(sqe, i), kDepth in flight, and checks
// each completion with check(i, res). *clean turns false if requests may be
// left in the ring.
template <typename Prep, typename Check>
int drive_ring(io_uring* ring, size_t count, Prep prep, Check check, bool* clean) {
  size_t queued = 0, completed = 0;
  int err = 0;
  while (completed < count) {
    while (!err && queued < count && queued - completed < kDepth) {
      io_uring_sqe* sqe = io_uring_get_sqe(ring);
      if (!sqe) break;
      prep(sqe, queued);
      io_uring_sqe_set_data64(sqe, queued);
      ++queued;
    }
    if (queued == completed) break;  // nothing in flight (an error stopped queueing)
    int r = io_uring_submit_and_wait(ring, 1);
    if (r < 0 && r != -EINTR) {
      // What the kernel took is unknown: the ring goes (its teardown waits
      // for whatever is in flight), and the fill fails.
      *clean = false;
      return -r;
    }
    io_uring_cqe* cqe;
    while (io_uring_peek_cqe(ring, &cqe) == 0) {
      if (!err) err = check(io_uring_cqe_get_data64(cqe), cqe->res);
      io_uring_cqe_seen(ring, cqe);
      ++completed;
    }
  }
  // The ring is kept for the next fill: nothing of this one may be left in it.
  while (completed < queued) {
    io_uring_cqe* cqe;
    int r = io_uring_wait_cqe(ring, &cqe);
    if (r == -EINTR) continue;
    if (r < 0) { *clean = false; break; }
    io_uring_cqe_seen(ring, cqe);
    ++completed;
  }
  return err ? err : completed < count ? EIO : 0;
}

int by_uring(const Source& s, uint8_t* dst, uint64_t off, size_t want, int* used) {
  // io_uring may be disabled (kernel.io_uring_disabled, seccomp): use pread.
  io_uring* ring = cached_ring(g_plain_ring, 0);
  if (!ring) { *used = kPread; return by_pread(s, dst, off, want); }
  *used = kUring;
  bool owned;
  int dfd = source_fd(s, &owned);
  if (dfd < 0) return errno;
  const size_t span = (want + 511) & ~size_t{511};
  const size_t chunks = (span + kChunk - 1) / kChunk;
  bool clean = true;
  int err = drive_ring(
      ring, chunks,
      [&](io_uring_sqe* sqe, size_t i) {
        size_t at = i * kChunk, n = span - at < kChunk ? span - at : kChunk;
        io_uring_prep_read(sqe, dfd, dst + at, (unsigned)n, off + at);
      },
      [&](uint64_t i, int res) {
        size_t at = i * kChunk, n = span - at < kChunk ? span - at : kChunk;
        if (res < 0) return -res;
        // Only the chunk holding EOF may come back short, and not before EOF.
        return (size_t)res == n || at + (size_t)res >= want ? 0 : EIO;
      },
      &clean);
  if (!clean) drop_ring(g_plain_ring);
  done_with(s, dfd, owned, off, want);
  return err;
}

// --- NVMe passthrough ------------------------------------------------------
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
    return kb * 1024 < kChunk ? kb * 1024 : kChunk;
  return 128 << 10;
}

struct Cmd { uint8_t* buf; uint64_t lba; uint32_t blocks; };

// The namespace's char device and the passthrough ring, or -1 (no access,
// no generic device, io_uring disabled).
int passthru_device(const NvmeTarget& t, io_uring** ring) {
  char dev[kPathMax];
  int fd = t.nsid && generic_device(t, dev, sizeof dev) ? cached_device(dev) : -1;
  *ring = fd >= 0 ? cached_ring(g_cmd_ring, IORING_SETUP_SQE128 | IORING_SETUP_CQE32) : nullptr;
  return *ring ? fd : -1;
}

void prep_cmd(io_uring_sqe* sqe, int fd, const NvmeTarget& t, uint8_t opcode, const Cmd& cmd, uint64_t lba) {
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

// NVMe reads (0x02) into or writes (0x01) from buf for the file bytes
// [off, off+want), through the blocks the segments name (each physically
// contiguous), LBA-rounded and split at MDTS.
int device_commands(int fd, io_uring* ring, const NvmeTarget& t, const Segment* segs, size_t nsegs,
                    uint8_t* buf, uint64_t off, size_t want, uint8_t opcode) {
  const uint64_t lba = t.lba_size ? t.lba_size : 512;
  const size_t chunk = max_transfer(t) / lba * lba;
  const uint64_t end = off + want;
  Cmd cmds[512];
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
      if (ncmd == sizeof cmds / sizeof cmds[0]) return E2BIG;
      uint64_t n = bytes - at < chunk ? bytes - at : chunk;
      cmds[ncmd++] = Cmd{buf + (a - off) + at, (g.physical + (a - g.offset) + t.partition_start + at) / lba,
                         (uint32_t)(n / lba)};
    }
  }
  // The segments must name every block (the last one may end inside its
  // final LBA: that is the file's end, and the LBA is the file's).
  if (covered + lba <= want) return ERANGE;
  bool clean = true;
  int err = drive_ring(
      ring, ncmd, [&](io_uring_sqe* sqe, size_t i) { prep_cmd(sqe, fd, t, opcode, cmds[i], lba); },
      [&](uint64_t, int res) { return res < 0 ? -res : res > 0 ? EIO : 0; }, &clean);
  if (!clean) drop_ring(g_cmd_ring);
  return err;
}

int by_passthru(const Source& s, uint8_t* dst, uint64_t off, size_t want, int* used) {
  // Without the namespace's char device (permissions, no generic device),
  // read through the file instead.
  io_uring* ring = nullptr;
  const int fd = s.dev && s.segs && s.nsegs ? passthru_device(*s.dev, &ring) : -1;
  if (fd < 0) return by_uring(s, dst, off, want, used);
  *used = kPassthru;
  // The blocks are read, not the page cache: dirty pages must reach them first.
  if (syscall(SYS_sync_file_range, s.fd, off, want,
              SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) < 0)
    return errno;
  return device_commands(fd, ring, *s.dev, s.segs, s.nsegs, dst, off, want, 0x02);
}

}  // namespace

bool holds_fds() { return __atomic_load_n(&g_cached_fds, __ATOMIC_RELAXED) > 0; }

bool uses_fd(int fd) {
  const pid_t self = (pid_t)syscall(SYS_getpid);
  for (CachedRing* c : {&g_plain_ring, &g_cmd_ring})
    if (c->owner == self && c->ring.ring_fd == fd) return true;
  for (const CachedDevice& d : g_devices)
    if (d.path[0] && d.fd == fd) return true;
  return false;
}

void relocate_fd(int from, int to) {
  const pid_t self = (pid_t)syscall(SYS_getpid);
  for (CachedRing* c : {&g_plain_ring, &g_cmd_ring})
    if (c->owner == self && c->ring.ring_fd == from) c->ring.ring_fd = c->ring.enter_ring_fd = to;
  for (CachedDevice& d : g_devices)
    if (d.path[0] && d.fd == from) d.fd = to;
}

void release_fds_in(unsigned first, unsigned last) {
  const pid_t self = (pid_t)syscall(SYS_getpid);
  auto in = [&](int fd) { return fd >= 0 && (unsigned)fd >= first && (unsigned)fd <= last; };
  for (CachedRing* c : {&g_plain_ring, &g_cmd_ring})
    if (c->owner == self && in(c->ring.ring_fd)) drop_ring(*c);
  for (CachedDevice& d : g_devices)
    if (d.path[0] && in(d.fd)) drop_device(d);
}

int device_write(const NvmeTarget& t, const Segment* segs, size_t nsegs, const void* src, uint64_t off,
                 size_t len) {
  io_uring* ring = nullptr;
  const int fd = passthru_device(t, &ring);
  if (fd < 0) return ENODEV;
  const int saved = errno;
  int err = device_commands(fd, ring, t, segs, nsegs, (uint8_t*)src, off, len, 0x01);
  errno = saved;
  return err;
}

int device_flush(const NvmeTarget& t) {
  io_uring* ring = nullptr;
  const int fd = passthru_device(t, &ring);
  if (fd < 0) return ENODEV;
  const int saved = errno;
  bool clean = true;
  int err = drive_ring(
      ring, 1, [&](io_uring_sqe* sqe, size_t) { prep_cmd(sqe, fd, t, 0x00 /* Flush */, Cmd{}, 512); },
      [](uint64_t, int res) { return res < 0 ? -res : res > 0 ? EIO : 0; }, &clean);
  if (!clean) drop_ring(g_cmd_ring);
  errno = saved;
  return err;
}

const char* engine_name(int e) {
  static const char* const kNames[] = {"pread", "uring", "passthru"};
  return e >= 0 && e < kEngineCount ? kNames[e] : "?";
}

int engine_from_name(const char* name) {
  for (int e = 0; e < kEngineCount; ++e) {
    const char* a = engine_name(e);
    const char* b = name;
    while (*a && *a == *b) { ++a; ++b; }
    if (!*a && !*b) return e;
  }
  return -1;
}

Result run(int engine, const Source& s, void* dst, uint64_t off, size_t len) {
  Result r{};
  const uint64_t t0 = prim::monotonic_ns();
  const int saved = errno;
  const uint64_t want = off >= s.file_size ? 0 : (s.file_size - off < len ? s.file_size - off : len);
  auto* out = static_cast<uint8_t*>(dst);
  r.engine = kPread;
  switch (engine) {
    case kUring: r.err = by_uring(s, out, off, want, &r.engine); break;
    case kPassthru: r.err = by_passthru(s, out, off, want, &r.engine); break;
    default: r.err = by_pread(s, out, off, want); break;
  }
  if (!r.err) {
    // Whatever the device held past EOF in the last page is not the file's.
    r.read = want;
    r.zeroed = len - want;
    zero(out + want, (size_t)r.zeroed);
  }
  errno = saved;
  r.ns = prim::monotonic_ns() - t0;
  return r;
}

}  // namespace cmbmap::fill
