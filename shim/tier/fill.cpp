// Fill engines (see fill.h). One file, because the three engines share the
// framing: pick the fd to read through, count what arrived, refuse a short
// fill, zero the tail past EOF.
#include "shim/tier/fill.h"

#include <fcntl.h>

#include "prim/prim.h"
#include "prim/procself.h"
#include "shim/tier/io_cache.h"
#include "shim/tier/nvme.h"

namespace cmbmap::fill {
namespace {

constexpr size_t kChunk = 512 << 10;  // one request per chunk (QEMU's MDTS is 512 KiB)

// O_DIRECT lengths are whole logical blocks (512 or 4096 bytes): a read is
// rounded up to a whole page, which is both, and stays inside the
// page-rounded destination; EOF cuts it short.
size_t direct_length(size_t n) { return prim::page_round_up(n); }

// The fd to read the file through (see Source), or -errno; *owned if the
// caller closes it.
int source_fd(const Source& s, bool* owned) {
  *owned = false;
  if (s.direct_fd >= 0) return s.direct_fd;
  if (s.no_reopen) return s.fd;
  char path[32];
  procself::proc_fd_path(s.fd, path);
  *owned = true;
  return prim::open_read(path, O_DIRECT);
}

void done_with(const Source& s, int fd, bool owned, uint64_t off, size_t len) {
  if (owned) prim::close_fd(fd);
  // Read through the page cache: leave it as it was (clean pages only go).
  if (fd == s.fd && s.no_reopen) prim::fadvise(fd, off, len, POSIX_FADV_DONTNEED);
}

// --- pread ---------------------------------------------------------------
int by_pread(const Source& s, uint8_t* dst, uint64_t off, size_t want) {
  bool owned;
  int dfd = source_fd(s, &owned);
  if (dfd < 0) return -dfd;
  size_t done = 0;
  int err = 0;
  while (done < want) {
    size_t n = want - done < kChunk ? want - done : kChunk;
    n = direct_length(n);
    long got = prim::pread_fd(dfd, dst + done, n, off + done);
    if (got == -EINTR) continue;
    if (got <= 0) { err = got < 0 ? (int)-got : EIO; break; }
    done += (size_t)got;
    if ((size_t)got < n) break;
  }
  done_with(s, dfd, owned, off, want);
  return err ? err : done >= want ? 0 : EIO;
}

// --- io_uring reads --------------------------------------------------------
int by_uring(const Source& s, uint8_t* dst, uint64_t off, size_t want, int* used) {
  // io_uring may be disabled (kernel.io_uring_disabled, seccomp): use pread.
  io_cache::Use use;
  io_uring* ring = io_cache::ring(io_cache::RingKind::Plain);
  if (!ring) { *used = kPread; return by_pread(s, dst, off, want); }
  *used = kUring;
  bool owned;
  int dfd = source_fd(s, &owned);
  if (dfd < 0) return -dfd;
  const size_t span = direct_length(want);
  const size_t chunks = (span + kChunk - 1) / kChunk;
  bool clean = true;
  int err = io_cache::drive(
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
  if (!clean) io_cache::drop_ring(io_cache::RingKind::Plain);
  done_with(s, dfd, owned, off, want);
  return err;
}

// --- NVMe passthrough ------------------------------------------------------
int by_passthru(const Source& s, uint8_t* dst, uint64_t off, size_t want, int* used) {
  // Without the namespace's char device (permissions, no generic device),
  // read through the file instead.
  if (!s.dev || !s.segs || !s.nsegs || !nvme::available(*s.dev)) return by_uring(s, dst, off, want, used);
  *used = kPassthru;
  // The blocks are read, not the page cache: dirty pages must reach them first.
  const int synced = prim::sync_range(s.fd, off, want);
  if (synced < 0) return -synced;
  return nvme::read_blocks(*s.dev, s.segs, s.nsegs, dst, off, want);
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
  prim::KeepErrno keep;
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
  r.ns = prim::monotonic_ns() - t0;
  return r;
}

}  // namespace cmbmap::fill
