// The fake CMB tier (see fake_tier.h), linked into the unit tests in place
// of shim/tier/p2pmem.cpp.
#include "test/unit/fake/fake_tier.h"

#include <cerrno>
#include <cstring>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmbmap/cmbmap.h"
#include "prim/procself.h"
#include "shim/tier/p2pmem.h"

namespace cmbmap {
namespace {

constexpr char kName[] = "cmbmap-fake-cmb";
size_t g_pool;
bool g_denied;
bool g_unwritable;

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
void reset() { g_pool = 0; g_denied = false; g_unwritable = false; }
void unwritable(bool on) { g_unwritable = on; }
void set_pool(size_t bytes) { g_pool = bytes; }
void deny(bool denied) { g_denied = denied; }
size_t held() { return scan(nullptr).bytes; }
bool is_cmb(const void* addr) { return scan(addr).hit; }
}  // namespace fake_tier

namespace p2pmem {

int map_at(const char*, void* at, size_t len, Identity* id) {
  const int saved = errno;
  if (g_denied) return CMBMAP_NO_PERMISSION;
  if (g_pool && fake_tier::held() + len > g_pool) return CMBMAP_CMB_FULL;
  int fd = memfd_create(kName, MFD_CLOEXEC);
  struct stat st{};
  if (fd < 0 || ftruncate(fd, (off_t)len) != 0 || fstat(fd, &st) != 0) {
    if (fd >= 0) close(fd);
    errno = saved;
    return CMBMAP_CMB_FULL;
  }
  *id = Identity{st.st_dev, st.st_ino};
  void* p = mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
  close(fd);
  errno = saved;
  if (p == MAP_FAILED) return CMBMAP_CMB_FULL;
  memset(p, fake_tier::kPoison, len);  // p2pmem is not zeroed: show what is not filled
  if (g_unwritable) mprotect(p, len, PROT_READ);
  return CMBMAP_ELIGIBLE;
}

bool accessible(const char*) { return !g_denied; }

}  // namespace p2pmem
}  // namespace cmbmap
