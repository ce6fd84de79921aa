// Writing stores back (see writeback.h).
#include "writeback.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../resolver/fiemap.h"
#include "../../resolver/prim.h"
#include "core.h"
#include "dirty.h"
#include "fill.h"
#include "log.h"
#include "serial.h"
#include "stats.h"

namespace cmbmap::writeback {
namespace {

constexpr size_t kSegs = 64;

struct Layout {
  uintptr_t start, end;  // 0, 0: free
  uint64_t file_offset;
  NvmeTarget target;
  Segment segs[kSegs];
  size_t nsegs;
};
constexpr size_t kLayouts = 128;
Layout g_layouts[kLayouts];

Layout* layout_of(uintptr_t a) {
  for (Layout& l : g_layouts)
    if (l.start <= a && a < l.end) return &l;
  return nullptr;
}

int pwrite_all(int fd, uintptr_t src, size_t len, uint64_t off) {
  for (size_t done = 0; done < len;) {
    long n = syscall(SYS_pwrite64, fd, src + done, len - done, off + done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? errno : EIO;
    done += (size_t)n;
  }
  return 0;
}

// The last block of a file that ends inside one, bounced: past EOF it must
// hold zeros (as the kernel's writeback of a partial page leaves it), and
// cmbmap never stores into a page it has write-protected.
alignas(4096) uint8_t g_tail[4096];

// NVMe writes of the file bytes [off, off+len) from CMB memory at src.
int write_blocks(const Layout* l, uintptr_t src, uint64_t off, size_t len) {
  const size_t lba = l->target.lba_size ? l->target.lba_size : 512;
  const size_t whole = len / lba * lba;
  if (whole) {
    const int err = fill::device_write(l->target, l->segs, l->nsegs, (const void*)src, off, whole);
    if (err || whole == len) return err;
  }
  if (lba > sizeof g_tail) return ENODEV;  // through the file instead
  const auto* from = reinterpret_cast<const volatile uint8_t*>(src + whole);
  for (size_t i = 0; i < lba; ++i) g_tail[i] = i < len - whole ? from[i] : 0;
  return fill::device_write(l->target, l->segs, l->nsegs, g_tail, off + whole, lba);
}

// Writes one run of dirty pages [run.start, run.end) at file offset off.
// *direct: by NVMe command (else through the page cache).
int write_run(const registry::Range& p, const Layout* l, bool in_place, const dirty::Run& run, uint64_t size,
              bool* direct) {
  const uint64_t off = p.file_offset + (run.start - p.start);
  if (off >= size) return 0;  // wholly past EOF: the kernel drops such stores too
  const size_t len = run.end - run.start;
  const size_t in_file = size - off < len ? (size_t)(size - off) : len;
  *direct = false;
  if (in_place && l) {
    const int err = write_blocks(l, run.start, off, in_file);
    if (!err) {
      *direct = true;
      stats::add(&cmbmap_stats::writeback_direct_bytes, in_file);
      return 0;
    }
    if (err != ENODEV)
      log::Line(LogLevel::Warn).s("NVMe write of ").u(in_file).s(" bytes at file offset ").u(off)
          .s(" failed (errno ").i(err).s("): writing through the file instead").emit();
  }
  int err = pwrite_all(p.fd, run.start, in_file, off);
  // On to the blocks at once: a later writeback of these pages may go by
  // NVMe command, and the page cache must not hold a dirty older copy then.
  if (!err && syscall(SYS_sync_file_range, p.fd, off, in_file,
                      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) < 0)
    err = errno;
  if (!err) stats::add(&cmbmap_stats::writeback_file_bytes, in_file);
  return err;
}

}  // namespace

bool remember(uintptr_t start, uintptr_t end, uint64_t file_offset, const NvmeTarget& target,
              const Segment* segs, size_t nsegs) {
  if (nsegs > kSegs) return false;
  for (Layout& l : g_layouts) {
    if (l.start != l.end) continue;
    l.start = start;
    l.end = end;
    l.file_offset = file_offset;
    l.target = target;
    for (size_t i = 0; i < nsegs; ++i) l.segs[i] = segs[i];
    l.nsegs = nsegs;
    return true;
  }
  return false;
}

void forget_unused() {
  for (Layout& l : g_layouts)
    if (l.start != l.end && !registry::overlaps(l.start, l.end - l.start)) l.start = l.end = 0;
}

Outcome piece(const registry::Range& p, Mode mode) {
  Outcome o{};
  if (!dirty::tracks(p.start, p.end - p.start)) return o;
  serial::Hold hold;
  const int saved = errno;
  const uint64_t t0 = prim::monotonic_ns();
  dirty::Run runs[64], failed[64];
  const bool freeze = mode == Mode::Freeze;
  size_t n = dirty::take(p.start, p.end, freeze, runs, 64);
  if (n == 0) {
    errno = saved;
    return o;  // nothing dirty (and, when freezing, every page now frozen)
  }
  const Layout* l = layout_of(p.start);
  struct stat st;
  const uint64_t size = syscall(SYS_fstat, p.fd, &st) == 0 ? (uint64_t)st.st_size : 0;
  // The commit check: NVMe writes go to the blocks the plan found, so they
  // must still be the file's (and written, unshared).
  const bool in_place = l && segments_in_place(p.fd, l->segs, l->nsegs);
  if (l && !in_place) {
    o.moved = true;
    stats::add(&cmbmap_stats::commit_check_failures, 1);
    log::Line(LogLevel::Info).s("commit check: the blocks behind ").x(p.start).s(" moved; writing through the file")
        .emit();
  }
  size_t nfailed = 0;
  bool direct = false, through_file = false;
  for (; n > 0; n = runs[n - 1].end < p.end ? dirty::take(runs[n - 1].end, p.end, freeze, runs, 64) : 0) {
    for (size_t i = 0; i < n; ++i) {
      bool d = false;
      const int err = write_run(p, l, in_place, runs[i], size, &d);
      direct |= d;
      through_file |= !d && !err;
      if (!err) {
        o.bytes += runs[i].end - runs[i].start;
        continue;
      }
      o.err = err;
      stats::add(&cmbmap_stats::writeback_errors, 1);
      log::Line(LogLevel::Error).s("writing back ").x(runs[i].start).s("+").u(runs[i].end - runs[i].start)
          .s(" failed (errno ").i(err).s(")").emit();
      if (nfailed < 64) failed[nfailed++] = runs[i];
    }
  }
  // Pages that could not be written stay dirty (not while freezing: the
  // range is going, and trying forever would hang the caller).
  if (mode != Mode::Freeze)
    for (size_t i = 0; i < nfailed; ++i) dirty::redirty(failed[i].start, failed[i].end);
  const uint64_t span = p.end - p.start;
  if (direct) {
    // The blocks changed under the page cache: drop what it may hold of
    // them (clean, unmapped pages), and stamp the change as a store would.
    syscall(SYS_fadvise64, p.fd, p.file_offset, span, POSIX_FADV_DONTNEED);
    timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
    syscall(SYS_utimensat, p.fd, nullptr, ts, 0);
  }
  if (mode == Mode::Durable && (direct || through_file || o.bytes)) {
    if (direct && l) {
      const int err = fill::device_flush(l->target);
      if (err && !o.err) o.err = err;
    }
    if (syscall(SYS_fdatasync, p.fd) < 0 && !o.err) o.err = errno;
  }
  if (o.bytes) {
    stats::add(&cmbmap_stats::writebacks, 1);
    stats::add(&cmbmap_stats::writeback_ns, prim::monotonic_ns() - t0);
  }
  errno = saved;
  return o;
}

namespace {

template <typename Collect>
Outcome each_piece(Collect collect, Mode mode) {
  Outcome total{};
  if (!dirty::any()) return total;
  serial::Hold hold;
  registry::Range r[64];
  uintptr_t from = 0;
  for (size_t n; (n = collect(from, r, 64)) > 0;) {
    for (size_t i = 0; i < n; ++i) {
      Outcome o = piece(r[i], mode);
      // Blocks that moved: the stores went through the file, and the range
      // goes back to file pages so that further ones do too.
      if (o.moved) core::revoke_range((void*)r[i].start, r[i].end - r[i].start, CMBMAP_FILE_CHANGED);
      total.bytes += o.bytes;
      total.moved |= o.moved;
      if (o.err && !total.err) total.err = o.err;
    }
    if (n < 64) break;
    from = r[n - 1].end;
  }
  return total;
}

}  // namespace

Outcome range(const void* addr, size_t len, Mode mode) {
  const uintptr_t lo = (uintptr_t)addr, hi = lo + len;
  return each_piece(
      [&](uintptr_t from, registry::Range* out, size_t cap) {
        const uintptr_t a = from > lo ? from : lo;
        return a < hi ? registry::collect(a, hi - a, out, cap) : 0;
      },
      mode);
}

Outcome file(dev_t dev, ino_t ino, Mode mode) {
  // A file's ranges come back in one call (the registry holds few per file).
  bool done = false;
  return each_piece(
      [&](uintptr_t, registry::Range* out, size_t cap) {
        if (done) return size_t{0};
        done = true;
        return registry::collect_file(dev, ino, out, cap);
      },
      mode);
}

Outcome all(Mode mode) {
  return each_piece(
      [](uintptr_t from, registry::Range* out, size_t cap) {
        return registry::collect(from, UINTPTR_MAX - from, out, cap);
      },
      mode);
}

void after_fork_child() {
  for (Layout& l : g_layouts) l.start = l.end = 0;
}

}  // namespace cmbmap::writeback
