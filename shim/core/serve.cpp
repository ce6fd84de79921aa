// Overlaying CMB memory on a fresh file mapping (see serve.h).
#include "serve.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../real.h"
#include "fill.h"
#include "log.h"
#include "openfiles.h"
#include "p2pmem.h"
#include "registry.h"
#include "stats.h"

namespace cmbmap::serve {
namespace {

constexpr int kFdFloor = 1000;  // our duplicates live high, out of the program's way

uint64_t page_size() { return (uint64_t)sysconf(_SC_PAGESIZE); }
uint64_t round_up(uint64_t v) { uint64_t p = page_size(); return (v + p - 1) / p * p; }

// Marks segments [first, last] with reason.
void mark(Plan* plan, size_t first, size_t last, int reason) {
  for (size_t i = first; i <= last; ++i) plan->segments[i].reason = reason;
}

// Puts the file back over [addr, addr+len): used when a run cannot be served.
void map_file_back(const Request& req, uintptr_t addr, size_t len, uint64_t file_off) {
  real::mmap((void*)addr, len, req.prot, (req.flags & MAP_TYPE) | MAP_FIXED, req.fd, (off_t)file_off);
}

}  // namespace

int initial_flags(int flags, const Plan& plan) {
  return plan.eligible_bytes ? flags & ~(MAP_POPULATE | MAP_LOCKED) : flags;
}

void finish_flags(const Request& req) {
  if (req.flags & MAP_LOCKED) mlock(req.base, req.len);
  else if (req.flags & MAP_POPULATE) real::madvise(req.base, req.len, 22 /* MADV_POPULATE_READ */);
}

uint64_t overlay(const Request& req, const FileFacts& f, const Options& opts, Plan* plan) {
  if (plan->eligible_bytes == 0) return 0;
  const int saved = errno;
  size_t runs = 0;
  for (size_t i = 0; i < plan->count; ++i)
    if (plan->segments[i].reason == CMBMAP_ELIGIBLE && (i == 0 || plan->segments[i - 1].reason != CMBMAP_ELIGIBLE))
      ++runs;
  int block = CMBMAP_ELIGIBLE;
  // Until leases exist, a file this process can write is never served: its
  // own writes would not reach the CMB copy.
  if (openfiles::open_for_write(f.st.st_dev, f.st.st_ino)) block = CMBMAP_OPEN_FOR_WRITE;
  // Each run can split one VMA into three; stay well clear of the limit.
  else if (openfiles::map_count() + 2 * runs + 16 > openfiles::max_map_count()) block = CMBMAP_MAP_COUNT;
  int own_fd = -1;
  if (block == CMBMAP_ELIGIBLE) {
    own_fd = (int)syscall(SYS_fcntl, req.fd, F_DUPFD_CLOEXEC, kFdFloor);
    if (own_fd < 0) block = CMBMAP_FILL_FAILED;
  }

  uint64_t served = 0;
  const uintptr_t base = (uintptr_t)req.base;
  for (size_t i = 0; i < plan->count;) {
    if (plan->segments[i].reason != CMBMAP_ELIGIBLE) { ++i; continue; }
    size_t j = i;
    while (j + 1 < plan->count && plan->segments[j + 1].reason == CMBMAP_ELIGIBLE) ++j;
    const uint64_t file_off = plan->segments[i].offset;
    const uint64_t run_len = round_up(plan->segments[j].offset + plan->segments[j].length - file_off);
    const uintptr_t addr = base + (file_off - (uint64_t)req.offset);
    int why = block;
    if (why == CMBMAP_ELIGIBLE && opts.budget && stats::get()->served_bytes + run_len > opts.budget)
      why = CMBMAP_BUDGET;
    if (why == CMBMAP_ELIGIBLE) {
      why = p2pmem::map_at(f.target.pci_path, (void*)addr, run_len);
      if (why != CMBMAP_ELIGIBLE) map_file_back(req, addr, run_len, file_off);
    }
    if (why == CMBMAP_ELIGIBLE) {
      fill::Result r = fill::pread_direct(req.fd, (void*)addr, file_off, run_len, (uint64_t)f.st.st_size);
      stats::add(&cmbmap_stats::fills, 1);
      stats::add(&cmbmap_stats::fill_bytes, r.read);
      stats::add(&cmbmap_stats::fill_ns, r.ns);
      if (r.err) {
        log::Line(LogLevel::Warn).s("fill of ").u(run_len).s(" bytes at file offset ").u(file_off)
            .s(" failed (errno ").i(r.err).s("): ordinary pages instead").emit();
        map_file_back(req, addr, run_len, file_off);
        why = CMBMAP_FILL_FAILED;
      } else {
        stats::add(&cmbmap_stats::zeroed_bytes, r.zeroed);
        real::mprotect((void*)addr, run_len, req.prot);
        registry::Range rg{addr, addr + run_len, f.st.st_dev, f.st.st_ino, file_off, own_fd, req.prot,
                           req.flags & MAP_TYPE};
        if (!registry::add(rg)) {
          map_file_back(req, addr, run_len, file_off);
          why = CMBMAP_MAP_COUNT;
        } else {
          served += run_len;
        }
      }
    }
    if (why != CMBMAP_ELIGIBLE) mark(plan, i, j, why);
    i = j + 1;
  }
  if (own_fd >= 0 && !registry::uses_fd(own_fd)) syscall(SYS_close, own_fd);
  if (served) {
    stats::add(&cmbmap_stats::served_bytes, served);
    stats::add(&cmbmap_stats::served_total, served);
  }
  errno = saved;
  return served;
}

}  // namespace cmbmap::serve
