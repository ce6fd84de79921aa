// The fake CMB tier (see fake_tier.h), linked into the unit tests in place
// of shim/tier/p2pmem.cpp.
#include "test/unit/fake/fake_tier.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmbmap/cmbmap.h"
#include "prim/prim.h"
#include "prim/procself.h"
#include "shim/tier/p2pmem.h"

namespace cmbmap {
namespace {

constexpr char kName[] = "cmbmap-fake-cmb";
size_t g_pool;
bool g_denied;
bool g_unwritable;

// Every allocation since the last reset, kept open so that what was left
// in it after its last mapping went can be read.
struct Alloc {
  int fd;
  ino_t ino;
  size_t len;
};
constexpr size_t kAllocs = 4096;
Alloc g_allocs[kAllocs];
size_t g_nallocs;

void remember(int fd, ino_t ino, size_t len) {
  if (g_nallocs < kAllocs) g_allocs[g_nallocs++] = Alloc{fd, ino, len};
  else close(fd);
}

// Marks in mapped[] the pages of a's memfd mapped anywhere in this process.
void mark_mapped(const Alloc& a, std::vector<bool>& mapped) {
  FILE* f = fopen("/proc/self/maps", "r");
  char line[512];
  const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  while (f && fgets(line, sizeof line, f)) {
    unsigned long lo, hi, off, ino;
    if (sscanf(line, "%lx-%lx %*s %lx %*s %lu", &lo, &hi, &off, &ino) != 4 || ino != a.ino) continue;
    if (!strstr(line, kName)) continue;
    for (size_t p = off / pg; p < (off + hi - lo) / pg && p < mapped.size(); ++p) mapped[p] = true;
  }
  if (f) fclose(f);
}

// The fake CMB mappings of this process, from /proc/self/maps (by the
// memfd's device: every memfd of this process lives on the same internal
// mount, and this file makes no other).
struct Scan {
  const void* probe;
  size_t bytes;
  bool hit;
};

bool fake_dev(dev_t* dev) {
  static dev_t cached;
  static bool known;
  if (!known) {
    int fd = memfd_create(kName, MFD_CLOEXEC);
    struct stat st{};
    if (fd < 0 || fstat(fd, &st) != 0) return false;
    close(fd);
    cached = st.st_dev;
    known = true;
  }
  *dev = cached;
  return true;
}

Scan scan(const void* probe) {
  Scan s{probe, 0, false};
  struct Ctx { Scan* s; dev_t dev; } c{&s, 0};
  if (!fake_dev(&c.dev)) return s;
  procself::for_each_mapping(
      [](const procself::Mapping& m, void* ctx) {
        auto* c = static_cast<Ctx*>(ctx);
        if (m.dev != c->dev || !m.shared) return true;
        c->s->bytes += m.end - m.start;
        if ((uintptr_t)c->s->probe >= m.start && (uintptr_t)c->s->probe < m.end) c->s->hit = true;
        return true;
      },
      &c);
  return s;
}

}  // namespace

namespace fake_tier {
void reset() {
  g_pool = 0;
  g_denied = false;
  g_unwritable = false;
  for (size_t i = 0; i < g_nallocs; ++i) close(g_allocs[i].fd);
  g_nallocs = 0;
}
size_t leftover() {
  const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  size_t bytes = 0;
  std::vector<uint8_t> buf(pg);
  for (size_t i = 0; i < g_nallocs; ++i) {
    std::vector<bool> mapped(g_allocs[i].len / pg);
    mark_mapped(g_allocs[i], mapped);
    for (size_t p = 0; p < mapped.size(); ++p) {
      if (mapped[p] || pread(g_allocs[i].fd, buf.data(), pg, (off_t)(p * pg)) != (ssize_t)pg) continue;
      for (uint8_t b : buf) bytes += b != 0;
    }
  }
  return bytes;
}
void unwritable(bool on) { g_unwritable = on; }
void set_pool(size_t bytes) { g_pool = bytes; }
void deny(bool denied) { g_denied = denied; }
size_t held() { return scan(nullptr).bytes; }
bool is_cmb(const void* addr) { return scan(addr).hit; }
}  // namespace fake_tier

namespace p2pmem {

int allocate(const char*, size_t len, void** aside, Identity* id) {
  const int saved = errno;
  if (g_denied) return CMBMAP_NO_PERMISSION;
  if (g_pool && fake_tier::held() + len > g_pool) return CMBMAP_CMB_FULL;
  int fd = memfd_create(kName, MFD_CLOEXEC);
  struct stat st{};
  void* p = MAP_FAILED;
  if (fd >= 0 && ftruncate(fd, (off_t)len) == 0 && fstat(fd, &st) == 0)
    p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  errno = saved;
  if (p == MAP_FAILED) {
    if (fd >= 0) close(fd);
    return CMBMAP_CMB_FULL;
  }
  remember(fd, st.st_ino, len);
  *id = Identity{st.st_dev, st.st_ino};
  memset(p, fake_tier::kPoison, len);  // p2pmem is not zeroed: show what is not filled
  if (g_unwritable) mprotect(p, len, PROT_READ);
  *aside = p;
  return CMBMAP_ELIGIBLE;
}

bool accessible(const char*) { return !g_denied; }

}  // namespace p2pmem
}  // namespace cmbmap
