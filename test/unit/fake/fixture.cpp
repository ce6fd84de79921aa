// Host-test helpers (see fixture.h).
#include "test/unit/fake/fixture.h"

#include <criterion/criterion.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

#include "resolver/fiemap.h"
#include "resolver/plan.h"
#include "shim/core/serve.h"
#include "shim/giveback/changes.h"
#include "shim/real.h"
#include "test/unit/fake/fake_tier.h"

namespace cmbmap::fixture {

uint8_t pattern(uint64_t i, unsigned seed) { return (uint8_t)((i * 131 + i / 4096 * 7 + seed * 29 + 1) & 0xff); }

File make_file(size_t size, int flags, unsigned seed) {
  // Once, as the library's constructor does: threads may make files at once.
  static pthread_once_t resolved = PTHREAD_ONCE_INIT;
  pthread_once(&resolved, real::resolve);
  File f{};
  snprintf(f.path, sizeof f.path, "/var/tmp/cmbmap-unit-XXXXXX");
  int fd = mkstemp(f.path);
  std::vector<uint8_t> buf(size);
  for (size_t i = 0; i < size; ++i) buf[i] = pattern(i, seed);
  if (fd < 0 || write(fd, buf.data(), size) != (ssize_t)size || fsync(fd) != 0) abort();
  close(fd);
  f.fd = open(f.path, flags);
  f.size = size;
  if (f.fd < 0) abort();
  return f;
}

void remove_file(File& f) {
  if (f.fd >= 0) close(f.fd);
  f.fd = -1;
  unlink(f.path);
}

Options default_options() {
  Options o;
  parse_options([](const char*) -> const char* { return nullptr; }, [](const char*) {}, &o);
  return o;
}

void plan_whole_file(int fd, size_t len, Planned* out) {
  *out = Planned{};
  fstat(fd, &out->facts.st);
  out->facts.file_reason = CMBMAP_ELIGIBLE;
  NvmeTarget& t = out->facts.target;
  t.reason = CMBMAP_ELIGIBLE;
  strcpy(t.controller, "fake0");
  strcpy(t.namespace_name, "fake0n1");  // no /dev/ng device: passthrough is never available
  strcpy(t.pci_path, "/nonexistent/fake");
  t.lba_size = 512;
  out->plan = Plan{out->segs, sizeof out->segs / sizeof out->segs[0], 0, 0};
  Extent ext[256];
  ExtentList list{ext, 256, 0, true};
  if (fetch_extents(fd, 0, len, true, &list) < 0) abort();
  const PlanRequest req{0, len, (uint64_t)out->facts.st.st_size, (uint32_t)sysconf(_SC_PAGESIZE), 512,
                        CMBMAP_ELIGIBLE, true};
  plan_mapping(req, list, &out->plan);
}

void* map_and_serve(int fd, size_t len, int prot, int flags, const Options& opts, uint64_t* served,
                    Planned* planned) {
  Planned local;
  Planned* p = planned ? planned : &local;
  const uint64_t epoch = changes::epoch();  // before planning, as the mmap hook reads it
  plan_whole_file(fd, len, p);
  void* at = mmap(nullptr, len, prot, flags, fd, 0);
  if (at == MAP_FAILED) abort();
  const serve::Request req{at, len, prot, flags, fd, 0, epoch};
  *served = serve::overlay(req, p->facts, opts, &p->plan);
  return at;
}

bool holds_file(const void* p, size_t len, int fd, uint64_t off) {
  std::vector<uint8_t> want(len, 0);
  if (pread(fd, want.data(), len, (off_t)off) < 0) return false;
  return memcmp(p, want.data(), len) == 0;
}

bool leases_work() {
  File f = make_file(4096, O_RDONLY);
  bool ok = fcntl(f.fd, F_SETLEASE, F_RDLCK) == 0;
  if (ok) fcntl(f.fd, F_SETLEASE, F_UNLCK);
  remove_file(f);
  return ok;
}

void serving_setup() {
  fake_tier::reset();
  if (!leases_work()) cr_skip_test("this host grants no file leases on /var/tmp");
}

Served serve_file(size_t pages, int prot, int flags, unsigned seed) {
  Served s{make_file(pages * page(), O_RDONLY, seed), nullptr, pages * page()};
  uint64_t served = 0;
  s.at = static_cast<uint8_t*>(map_and_serve(s.f.fd, s.len, prot, flags, default_options(), &served));
  cr_assert_eq(served, s.len, "a %zu-page file was not served whole", pages);
  return s;
}

size_t page() { return (size_t)sysconf(_SC_PAGESIZE); }

size_t status_bytes(const char* field) {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  const size_t n = strlen(field);
  unsigned long kb = 0;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, field, n) == 0 && line[n] == ':' && sscanf(line + n + 1, "%lu", &kb) == 1) break;
  if (f) fclose(f);
  return (size_t)kb * 1024;
}

}  // namespace cmbmap::fixture
